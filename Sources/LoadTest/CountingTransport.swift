// The transport the load test's workers dial through: the production transport underneath, plus
// what the load test counts on the workers' side of the wire (which micro-batches went out for
// which step, what was assigned, payload bytes, rejects) and, when asked, every Nth gradient
// message sent twice, to show that the coordinator's exactly-once accounting catches it.
import ClusterRuntime
import Foundation
import WireProtocol

/// The workers' side of the load: counted as messages pass, read by the driver.
struct WorkerTally {
    /// Micro-batch ids the workers sent, by global step (a duplicate appears twice).
    var sentByStep: [UInt64: [UInt32]] = [:]
    /// Micro-batch ids the workers were assigned, by global step.
    var assignedByStep: [UInt64: [UInt32]] = [:]
    var gradientBytes = 0
    var weightsMessages = 0
    var weightsBytes = 0
    var maxWeightsStep: UInt64 = 0
    /// When the first weights of step 0 arrived (the load window starts).
    var firstStepAt: UInt64?
    var rejectsReceived = 0
    var undecodable = 0
    var notQueued = 0
    var lastReject: String?

    var sent: Int { sentByStep.values.reduce(0) { $0 + $1.count } }
    var assigned: Int { assignedByStep.values.reduce(0) { $0 + $1.count } }
}

final class CountingTransport: Transport {
    let inner: Transport
    /// Every Nth gradient message is sent twice (0: never).
    let duplicateEvery: Int
    var gradientMessages = 0
    var tally = WorkerTally()
    /// Called once, when the first weights of step 0 arrive.
    var onFirstStep: (() -> Void)?

    init(_ inner: Transport, duplicateEvery: Int) {
        self.inner = inner
        self.duplicateEvery = duplicateEvery
    }

    var isEncrypted: Bool { inner.isEncrypted }

    func listen(_ endpoint: String, maxMessageBytes: Int) throws -> (socket: MessageSocket, endpoint: String) {
        let (socket, bound) = try inner.listen(endpoint, maxMessageBytes: maxMessageBytes)
        return (CountingSocket(socket, owner: self), bound)
    }

    func dial(_ endpoint: String, maxMessageBytes: Int) throws -> MessageSocket {
        CountingSocket(try inner.dial(endpoint, maxMessageBytes: maxMessageBytes), owner: self)
    }

    func poll(_ sockets: [MessageSocket], timeoutMilliseconds: Int) throws -> [Bool] {
        try inner.poll(sockets.map { ($0 as! CountingSocket).inner }, timeoutMilliseconds: timeoutMilliseconds)
    }

    func flush() { inner.flush() }

    /// Records an outgoing message; true if it is a gradient message to send twice.
    func outgoing(_ frames: [[UInt8]]) -> Bool {
        guard let h = try? WireCodec.decodeHeader(frames), h.type == .gradientPush || h.type == .gradientSum else { return false }
        let ids = Self.microBatches(frames, type: h.type)
        tally.sentByStep[h.step, default: []] += ids
        tally.gradientBytes += frames.dropFirst(2).reduce(0) { $0 + $1.count }
        gradientMessages += 1
        return duplicateEvery > 0 && gradientMessages % duplicateEvery == 0
    }

    func duplicated(_ frames: [[UInt8]]) {
        guard let h = try? WireCodec.decodeHeader(frames) else { return }
        tally.sentByStep[h.step, default: []] += Self.microBatches(frames, type: h.type)
        tally.gradientBytes += frames.dropFirst(2).reduce(0) { $0 + $1.count }
    }

    /// Records an incoming message (on a dialed socket: no identity frame).
    func incoming(_ frames: [[UInt8]]) {
        guard let h = try? WireCodec.decodeHeader(frames) else {
            tally.undecodable += 1
            return
        }
        switch h.type {
        case .weights:
            tally.weightsMessages += 1
            tally.weightsBytes += frames.dropFirst(2).reduce(0) { $0 + $1.count }
            tally.maxWeightsStep = max(tally.maxWeightsStep, h.step)
            if h.step == 0, tally.firstStepAt == nil {
                tally.firstStepAt = monotonicNanoseconds()
                onFirstStep?()
            }
        case .assignment:
            if case .assignment(let a)? = try? WireCodec.decode(frames).message {
                tally.assignedByStep[h.step, default: []] += a.microBatches
            }
        case .reject:
            tally.rejectsReceived += 1
            if case .reject(let r)? = try? WireCodec.decode(frames).message { tally.lastReject = r.reason }
        default:
            break
        }
    }

    /// The micro-batch ids a gradient message carries, read from its body: a GradientPush starts
    /// with its id; a GradientSum with a count, then 20 bytes per part, each starting with an id.
    static func microBatches(_ frames: [[UInt8]], type: MessageType) -> [UInt32] {
        let body = frames[1]
        func u32(_ at: Int) -> UInt32? {
            guard at + 4 <= body.count else { return nil }
            return UInt32(body[at]) | UInt32(body[at + 1]) << 8 | UInt32(body[at + 2]) << 16 | UInt32(body[at + 3]) << 24
        }
        if type == .gradientPush { return u32(0).map { [$0] } ?? [] }
        guard let n = u32(0) else { return [] }
        return (0..<Int(n)).compactMap { u32(4 + 20 * $0) }
    }
}

final class CountingSocket: MessageSocket {
    let inner: MessageSocket
    unowned let owner: CountingTransport

    init(_ inner: MessageSocket, owner: CountingTransport) {
        self.inner = inner
        self.owner = owner
    }

    func send(_ frames: [[UInt8]]) throws {
        let twice = owner.outgoing(frames)
        do {
            try inner.send(frames)
            if twice {
                try inner.send(frames)
                owner.duplicated(frames)
            }
        } catch {
            owner.tally.notQueued += 1
            throw error
        }
    }

    func receive() throws -> [[UInt8]]? {
        guard let frames = try inner.receive() else { return nil }
        owner.incoming(frames)
        return frames
    }

    func close() { inner.close() }
}
