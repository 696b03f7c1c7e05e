// A standalone parameter-server shard (`digits server`): owns a contiguous key range of the flat
// parameter vector and its optimizer state, sums the workers' gradient slices exactly, applies
// the update when the coordinator's step is complete, and sends the new weights to the workers.
import Foundation
import Logging
import NeuralNet
import TensorKit
import WireProtocol

public enum ShardAction: Equatable {
    case sendControl([[UInt8]])
    case sendData(peer: [UInt8], frames: [[UInt8]])
    case exit(code: Int32, reason: String)
}

public final class ShardServer {
    public let name: String
    let host: String
    let endpoint: String
    let logger: Logger
    public private(set) var shard: UInt32?
    var shards: UInt32 = 0
    var jobID: UInt64 = 0
    var offset = 0
    var parameters: [Float] = []
    var optimizer: Optimizer?
    var accumulator: ParameterServer?
    var learningRate: Float = 0
    var wantState = false
    var stepOpen: UInt64?
    /// Data peers of the workers, by worker id.
    var workerPeers: [UInt32: [UInt8]] = [:]
    /// Workers that should get the open step's weights but have not said hello on the data socket yet.
    var pendingWeights: Set<UInt32> = []
    var lastHello: UInt64 = 0
    var lastHeartbeat: UInt64 = 0
    public private(set) var lastHeard: UInt64
    public var silenceDeadlineSeconds: Double = 120
    var stepCompute = 0.0

    public init(name: String, host: String, endpoint: String, logger: Logger, now: UInt64) {
        self.name = name
        self.host = host
        self.endpoint = endpoint
        self.logger = logger
        lastHeard = now
    }

    var senderID: UInt32 { 0x8000_0000 | (shard ?? 0) }

    func envelope(_ m: Message, step: UInt64 = 0) -> [[UInt8]] {
        WireCodec.encode(Envelope(jobID: jobID, sender: senderID, step: step, message: m))
    }

    func hello() -> ShardAction {
        .sendControl(
            envelope(
                .hello(
                    Hello(
                        role: .server, name: name, host: host, pid: UInt32(getpid()), endpoint: endpoint,
                        numerics: NumericsFingerprint.current.description))))
    }

    public func start(now: UInt64) -> [ShardAction] {
        lastHello = now
        return [hello()]
    }

    public func control(_ frames: [[UInt8]], now: UInt64) -> [ShardAction] {
        let e: Envelope
        do { e = try WireCodec.decode(frames) } catch {
            logger.warning("ignored malformed message from the coordinator: \(error)")
            return []
        }
        lastHeard = now
        if case .shardInit(let s) = e.message { return initialize(s, jobID: e.jobID) }
        if case .reject(let r) = e.message, r.reason.hasPrefix(Reject.refusedPrefix) {
            return [.exit(code: 2, reason: "the coordinator refused this shard: \(r.reason.dropFirst(Reject.refusedPrefix.count))")]
        }
        guard shard != nil, e.jobID == jobID else { return [] }
        switch e.message {
        case .beginStep(let b):
            return begin(step: e.step, b)
        case .shutdown(let s):
            return [.exit(code: 0, reason: s.reason)]
        case .reject(let r):
            logger.error("the coordinator refused a message: \(r.reason)")
            return []
        default:
            logger.warning("ignored unexpected \(e.message.type) from the coordinator")
            return []
        }
    }

    func initialize(_ s: ShardInit, jobID: UInt64) -> [ShardAction] {
        let config: OptimizerConfig
        do { config = try JSONDecoder().decode(OptimizerConfig.self, from: Data(s.optimizer)) } catch {
            return [.exit(code: 2, reason: "unreadable optimizer config from the coordinator: \(error)")]
        }
        self.jobID = jobID
        shard = s.shard
        shards = s.shards
        offset = Int(s.offset)
        parameters = s.parameters
        optimizer = Optimizer(config: config, state: OptimizerState(step: Int(s.optimizerStep), first: s.first, second: s.second))
        accumulator = ParameterServer(parameterCount: s.parameters.count, offset: offset)
        logger.info("shard \(s.shard + 1)/\(s.shards): keys [\(offset), \(offset + s.parameters.count)), optimizer step \(s.optimizerStep)")
        return []
    }

    func begin(step: UInt64, _ b: BeginStep) -> [ShardAction] {
        guard let accumulator else { return [] }
        accumulator.begin(step: step, microBatches: Int(b.microBatches))
        learningRate = b.learningRate
        wantState = b.wantState
        stepOpen = step
        stepCompute = 0
        pendingWeights = []
        let frames = envelope(.weights(Weights(offset: UInt64(offset), values: parameters)), step: step)
        var actions: [ShardAction] = []
        for w in b.workers {
            if let peer = workerPeers[w] { actions.append(.sendData(peer: peer, frames: frames)) } else { pendingWeights.insert(w) }
        }
        return actions
    }

    public func data(peer: [UInt8], frames: [[UInt8]], now: UInt64) -> [ShardAction] {
        let e: Envelope
        do { e = try WireCodec.decode(frames) } catch {
            logger.warning("rejected malformed data message: \(error)")
            return []
        }
        guard shard != nil, e.jobID == jobID else {
            return [.sendData(peer: peer, frames: envelope(.reject(Reject(reason: "message for job \(e.jobID), this is job \(jobID)"))))]
        }
        switch e.message {
        case .hello(let h):
            guard h.role == .worker, h.workerID == e.sender, h.workerID != 0 else { return [] }
            workerPeers[h.workerID] = peer
            if pendingWeights.remove(h.workerID) != nil, let step = stepOpen {
                return [.sendData(peer: peer, frames: envelope(.weights(Weights(offset: UInt64(offset), values: parameters)), step: step))]
            }
            return []
        case .gradientPush, .gradientSum:
            guard workerPeers[e.sender] == peer else {
                return [.sendData(peer: peer, frames: envelope(.reject(Reject(reason: "unknown sender \(e.sender)"))))]
            }
            guard let accumulator else { return [] }
            let result: ParameterServer.PushResult
            let computeSeconds: Double
            if case .gradientSum(let push) = e.message {
                (result, computeSeconds) = (accumulator.receive(push, step: e.step), push.computeSeconds)
            } else if case .gradientPush(let push) = e.message {
                (result, computeSeconds) = (accumulator.receive(push, step: e.step), push.computeSeconds)
            } else {
                return []
            }
            switch result {
            case .accepted:
                stepCompute += computeSeconds
                return []
            case .duplicate:
                return []
            case .rejected(let reason):
                logger.warning("rejected gradient from worker \(e.sender): \(reason)")
                return []
            case .complete:
                stepCompute += computeSeconds
                return complete(step: e.step)
            }
        default:
            logger.warning("ignored unexpected \(e.message.type) on the data socket")
            return []
        }
    }

    func complete(step: UInt64) -> [ShardAction] {
        guard let accumulator, var optimizer else { return [] }
        var mean = [Float](repeating: 0, count: parameters.count)
        mean.withUnsafeMutableBufferPointer { accumulator.mean(into: $0) }
        parameters.withUnsafeMutableBufferPointer { p in
            mean.withUnsafeBufferPointer { optimizer.apply(gradient: $0, to: p, learningRate: learningRate) }
        }
        self.optimizer = optimizer
        stepOpen = nil
        let done = StepDone(
            shard: shard ?? 0, loss: accumulator.lossSum, correct: UInt64(accumulator.correct), samples: UInt64(accumulator.samples),
            computeSeconds: stepCompute, parameters: parameters,
            first: wantState ? optimizer.state.first : nil, second: wantState ? optimizer.state.second : nil)
        return [.sendControl(envelope(.stepDone(done), step: step))]
    }

    public func tick(now: UInt64) -> [ShardAction] {
        var actions: [ShardAction] = []
        if shard == nil, now &- lastHello > 2_000_000_000 {
            lastHello = now
            actions.append(hello())
        }
        if shard != nil, now &- lastHeartbeat > 500_000_000 {
            lastHeartbeat = now
            actions.append(.sendControl(envelope(.heartbeat(Heartbeat(workerID: senderID, computed: 0)))))
        }
        if Double(now &- lastHeard) / 1e9 > silenceDeadlineSeconds {
            actions.append(.exit(code: 3, reason: "nothing heard from the coordinator for \(Int(silenceDeadlineSeconds)) s"))
        }
        return actions
    }
}
