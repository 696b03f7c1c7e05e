// The coordinator as a state machine: it takes events (messages from workers, timer ticks) and
// returns actions (messages to send, the end of the job). It owns the job's single source of
// truth: membership, the step plan, the embedded parameter server, validation, early stopping
// and checkpoints (through the same Trainer the single-process run uses, so results are identical).
import Foundation
import Logging
import MNISTData
import NeuralNet
import TensorKit
import Training
import WireProtocol

public struct CoordinatorSettings: Sendable {
    /// Workers that must be ready before the first step.
    public var minWorkers: Int
    public var heartbeatMilliseconds: UInt32 = 500
    /// A worker silent this long is declared dead and its micro-batches are reassigned.
    public var heartbeatDeadlineSeconds: Double = 5
    /// How long to wait for `minWorkers` (and for any worker when all are gone).
    public var joinDeadlineSeconds: Double = 120
    /// A step open this long names and drops the workers still owing micro-batches.
    public var stepDeadlineSeconds: Double = 120
    /// The data endpoint of the embedded parameter server, as workers should dial it.
    public var serverEndpoint: String
    /// Parameter-server shards: 1 = embedded in the coordinator; K >= 2 = K standalone
    /// `digits server` processes, each owning a contiguous key range and its optimizer state.
    public var servers: Int = 1
    /// This process's numerics fingerprint; a worker or shard whose Hello carries another is refused
    /// (its gradients would not have the same bits) unless `allowMixedNumerics`.
    public var numerics: String = NumericsFingerprint.current.description
    /// Admit peers with another fingerprint (gives up reproducibility; the summary records them).
    public var allowMixedNumerics = false
    /// This coordinator's host name, for the refusal message.
    public var host: String = ProcessInfo.processInfo.hostName
    public init(minWorkers: Int, serverEndpoint: String, servers: Int = 1) {
        self.minWorkers = minWorkers
        self.serverEndpoint = serverEndpoint
        self.servers = servers
    }
}

public enum CoordinatorAction: Equatable {
    case sendControl(peer: [UInt8], frames: [[UInt8]])
    case sendData(peer: [UInt8], frames: [[UInt8]])
    case finished(RunSummary)
    case failed(String)
    /// Failed in a way that a restart from the last checkpoint cures (a shard lost, no workers left).
    case interrupted(String)
    /// Append these per-worker throughput samples to the JSON-lines file at `path` (workers.jsonl).
    case appendThroughput([WorkerThroughputRecord], path: String)
}

/// The step in flight: which it is, when it opened, who holds its weights, and what came back.
struct OpenStep {
    let step: Trainer.PlannedStep
    /// When the step opened (restarted when its deadline passes).
    var started: UInt64
    /// Workers sent this step's weights at its start: only they can take over a dropped worker's
    /// micro-batches; a worker that joined since holds no weights for the step.
    let holders: Set<UInt32>
    /// Compute seconds each worker reported for this step.
    var compute: [UInt32: Double] = [:]
    /// Standalone shards' results, by shard.
    var shardResults: [Int: StepDone] = [:]
}

public final class Coordinator {
    public struct WorkerInfo {
        public let id: UInt32
        public var name: String
        public var host: String
        public var controlPeer: [UInt8]
        public var dataPeer: [UInt8]?
        public var ready = false
        public var alive = true
        public var lastSeen: UInt64
        /// Micro-batch ids of the open step assigned to this worker.
        public var assigned: [Int] = []
        public var computed: UInt64 = 0
        /// Micro-batch gradients accepted from this worker, and the images they covered (status page).
        public var pushes: UInt64 = 0
        public var samples: UInt64 = 0
        /// Gradient pushes of this worker refused by the parameter server.
        public var rejectedPushes = 0
        /// When this worker last got an assignment, and when its last push arrived (push latency).
        var lastAssigned: UInt64 = 0
        var lastPush: UInt64 = 0
        /// Smoothed compute seconds per micro-batch (nil until its first push): steps are split
        /// so that a slower worker gets fewer micro-batches.
        public var secondsPerMicroBatch: Double?
    }

    public enum Phase: Equatable { case waiting, training, finished }

    public struct ShardInfo {
        public let shard: Int
        public var peer: [UInt8]
        public var endpoint: String
        public var name: String
        public var lastSeen: UInt64
    }

    /// The monotonic clock (nanoseconds) and the wall clock (Unix seconds) the state machine reads
    /// besides the `now` it is given: set both to a test's simulated time.
    public var clock: () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }
    public var wallClock: () -> Double = { Date().timeIntervalSince1970 }
    public let trainer: Trainer
    public let settings: CoordinatorSettings
    public let jobID: UInt64
    let logger: Logger
    let configJSON: [UInt8]
    let dataSHA256: String
    public internal(set) var phase: Phase = .waiting
    public internal(set) var workers: [UInt32: WorkerInfo] = [:]
    var nextWorkerID: UInt32 = 1
    public internal(set) var view: UInt32 = 0
    public let server: ParameterServer
    /// The step in flight (sync mode), nil between steps.
    var open: OpenStep?
    var waitingSince: UInt64
    var meanGradient: [Float]
    /// Standalone parameter-server shards (empty when the server is embedded).
    public internal(set) var shards: [ShardInfo] = []
    var shardsReady = false
    var pendingHellos: [(peer: [UInt8], hello: Hello)] = []
    var lastTick: UInt64 = 0
    var sharded: Bool { settings.servers > 1 }
    /// Async mode (see `AsyncState`): each micro-batch is applied on arrival.
    var isAsync: Bool { trainer.config.training.mode == .async }
    var async = AsyncState()
    public internal(set) var timing = StepTiming()
    /// Messages refused, by reason.
    public internal(set) var rejected: [String: Int] = [:]
    /// Per-worker images/s sampled from heartbeats into workers.jsonl (every 4 heartbeat intervals).
    var throughput: WorkerThroughputLog
    /// Times a worker of each name was dropped (it may rejoin under a new id).
    public internal(set) var drops: [String: Int] = [:]
    /// Push latencies (seconds) not yet taken by `takePushLatencies()`; see `observePush`.
    var pushLatencies: [Double] = []
    /// Peers admitted with a numerics fingerprint other than ours ("name@host fingerprint"; only with
    /// `allowMixedNumerics`).
    public internal(set) var mixedNumericsPeers: [String] = []

    public init(trainer: Trainer, settings: CoordinatorSettings, jobID: UInt64, logger: Logger, now: UInt64) throws {
        self.trainer = trainer
        self.settings = settings
        self.jobID = jobID
        self.logger = logger
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        configJSON = [UInt8](try encoder.encode(trainer.config))
        dataSHA256 = Self.trainingSetSHA256(trainer.data.train)
        server = ParameterServer(parameterCount: trainer.model.parameterCount)
        meanGradient = [Float](repeating: 0, count: trainer.model.parameterCount)
        waitingSince = now
        throughput = WorkerThroughputLog(interval: 4 * Double(settings.heartbeatMilliseconds) / 1000)
    }

    /// SHA-256 over the training images then labels: what every worker must hold.
    public static func trainingSetSHA256(_ d: Dataset) -> String {
        SHA256Hex.of(d.images + d.labels)
    }

    var liveWorkers: [WorkerInfo] {
        workers.values.filter { $0.alive && $0.ready && ($0.dataPeer != nil || sharded) }.sorted { $0.id < $1.id }
    }

    func envelope(_ m: Message, step: UInt64 = 0) -> [[UInt8]] {
        WireCodec.encode(Envelope(jobID: jobID, sender: 0, step: step, message: m))
    }

    func reject(_ key: String, _ reason: String, peer: [UInt8], data: Bool) -> [CoordinatorAction] {
        rejected[key, default: 0] += 1
        logger.warning("rejected message: \(reason)")
        let frames = envelope(.reject(Reject(reason: reason)))
        return [data ? .sendData(peer: peer, frames: frames) : .sendControl(peer: peer, frames: frames)]
    }

    // MARK: - Control socket

    public func control(peer: [UInt8], frames: [[UInt8]], now: UInt64) throws -> [CoordinatorAction] {
        let e: Envelope
        do { e = try WireCodec.decode(frames) } catch {
            rejected["malformed", default: 0] += 1
            logger.warning("rejected malformed control message: \(error)")
            return []
        }
        if case .hello(let hello) = e.message, hello.role == .worker, hello.workerID == 0 {
            if sharded && !shardsReady {
                pendingHellos.removeAll { $0.peer == peer }
                pendingHellos.append((peer, hello))
                return []
            }
            // A worker repeats its hello while it hears nothing (e.g. during a long evaluation here):
            // the welcome for the first one is already on its way, so the repeats register nobody.
            if let known = workers.values.first(where: { $0.controlPeer == peer && $0.alive }) {
                logger.debug("repeated hello from worker \(known.id) (\(known.name)); already registered")
                return []
            }
            return register(hello, peer: peer, now: now)
        }
        if case .hello(let hello) = e.message, hello.role == .server {
            return registerShard(hello, peer: peer, now: now)
        }
        guard e.jobID == jobID else {
            // A worker of an earlier incarnation of this job (the coordinator restarted): it may join again.
            return reject(
                "wrong_job", Reject.rejoinPrefix + "message for job \(e.jobID), this is job \(jobID); say hello again", peer: peer,
                data: false)
        }
        if e.sender & 0x8000_0000 != 0 {
            let s = Int(e.sender & 0x7FFF_FFFF)
            guard s < shards.count, shards[s].peer == peer else {
                return reject("unknown_sender", "unknown server shard \(s)", peer: peer, data: false)
            }
            shards[s].lastSeen = now
            switch e.message {
            case .heartbeat: return []
            case .stepDone(let d): return try shardDone(s, d, step: e.step, now: now)
            default: return reject("unexpected", "unexpected \(e.message.type) from server shard \(s)", peer: peer, data: false)
            }
        }
        guard var w = workers[e.sender], w.controlPeer == peer else {
            return reject("unknown_sender", "unknown sender \(e.sender)", peer: peer, data: false)
        }
        guard w.alive else {
            return reject("dropped_sender", Reject.rejoinPrefix + "worker \(w.id) was dropped; say hello again", peer: peer, data: false)
        }
        w.lastSeen = now
        workers[w.id] = w
        switch e.message {
        case .heartbeat(let h):
            workers[w.id]?.computed = h.computed
            return []
        case .ready:
            workers[w.id]?.ready = true
            logger.info("worker \(w.id) (\(w.name)@\(w.host)) ready")
            return try maybeStart(now: now)
        case .shutdown(let s):
            logger.info("worker \(w.id) (\(w.name)) left: \(s.reason)")
            return try drop(w.id, reason: "left", now: now)
        default:
            return reject("unexpected", "unexpected \(e.message.type) on the control socket", peer: peer, data: false)
        }
    }

    /// Nil if `hello`'s numerics fingerprint matches ours or mixed numerics are allowed (then recorded);
    /// else the refusal to send, naming both hosts and both fingerprints.
    func checkNumerics(_ hello: Hello, role: String, peer: [UInt8]) -> [CoordinatorAction]? {
        guard hello.numerics != settings.numerics else { return nil }
        let theirs = hello.numerics.isEmpty ? "(none)" : hello.numerics
        let facts =
            "\(role) \(hello.name)@\(hello.host) has numerics fingerprint \(theirs), the coordinator on \(settings.host) has "
            + "\(settings.numerics): their gradients would not have the same bits"
        if settings.allowMixedNumerics {
            logger.warning("\(facts); admitted (--allow-mixed-numerics: this run is not reproducible)")
            let peerName = "\(hello.name)@\(hello.host) \(theirs)"
            if !mixedNumericsPeers.contains(peerName) { mixedNumericsPeers.append(peerName) }  // a rejoin is one peer
            return nil
        }
        return reject(
            "numerics",
            Reject.refusedPrefix + facts + ". Refused: run the same Digits build on x86-64-v3 (AVX2 + FMA) "
                + "CPUs everywhere, or pass --allow-mixed-numerics to the coordinator to give up reproducibility",
            peer: peer, data: false)
    }

    func register(_ hello: Hello, peer: [UInt8], now: UInt64) -> [CoordinatorAction] {
        guard phase != .finished else { return [.sendControl(peer: peer, frames: envelope(.shutdown(Shutdown(reason: "job finished"))))] }
        if let refusal = checkNumerics(hello, role: "worker", peer: peer) { return refusal }
        let id = nextWorkerID
        nextWorkerID += 1
        workers[id] = WorkerInfo(id: id, name: hello.name, host: hello.host, controlPeer: peer, lastSeen: now)
        let ship = hello.localDataSHA256 != dataSHA256
        logger.info(
            """
            worker \(id) joined: \(hello.name)@\(hello.host) pid \
            \(hello.pid)\(ship ? "; shipping the training set" : "; has the training set")
            """
        )
        let train = trainer.data.train
        var actions: [CoordinatorAction] = [
            .sendControl(
                peer: peer,
                frames: envelope(
                    .welcome(
                        Welcome(
                            workerID: id, config: configJSON, serverEndpoints: sharded ? shards.map(\.endpoint) : [settings.serverEndpoint],
                            heartbeatMilliseconds: settings.heartbeatMilliseconds,
                            shipsData: ship, dataSHA256: dataSHA256, trainCount: UInt32(train.count), rows: UInt32(train.rows),
                            cols: UInt32(train.cols)))))
        ]
        if ship {
            let chunk = 8 << 20
            for (kind, bytes) in [(DataChunk.Kind.images, train.images), (.labels, train.labels)] {
                var offset = 0
                repeat {
                    let end = min(offset + chunk, bytes.count)
                    actions.append(
                        .sendControl(
                            peer: peer,
                            frames: envelope(
                                .dataChunk(
                                    DataChunk(
                                        kind: kind, offset: UInt64(offset), total: UInt64(bytes.count), bytes: Array(bytes[offset..<end]))))
                        ))
                    offset = end
                } while offset < bytes.count
            }
        }
        return actions
    }

    // MARK: - Data socket (embedded parameter server)

    public func data(peer: [UInt8], frames: [[UInt8]], now: UInt64) throws -> [CoordinatorAction] {
        let e: Envelope
        do { e = try WireCodec.decode(frames) } catch {
            rejected["malformed", default: 0] += 1
            logger.warning("rejected malformed data message: \(error)")
            return []
        }
        guard e.jobID == jobID else {
            return reject(
                "wrong_job", Reject.rejoinPrefix + "message for job \(e.jobID), this is job \(jobID); say hello again", peer: peer,
                data: true)
        }
        if case .hello(let hello) = e.message {
            guard workers[hello.workerID] != nil, hello.workerID == e.sender else {
                return reject("unknown_sender", "data hello from unknown worker \(hello.workerID)", peer: peer, data: true)
            }
            workers[hello.workerID]?.dataPeer = peer
            return try maybeStart(now: now)
        }
        guard let w = workers[e.sender], w.dataPeer == peer else {
            return reject("unknown_sender", "unknown sender \(e.sender) on the data socket", peer: peer, data: true)
        }
        guard w.alive else {
            return reject("dropped_sender", Reject.rejoinPrefix + "worker \(w.id) was dropped; say hello again", peer: peer, data: true)
        }
        workers[w.id]?.lastSeen = now
        let result: ParameterServer.PushResult
        let microBatches: [UInt32]
        let samples: Int
        let computeSeconds: Double
        switch e.message {
        case .gradientPush(let push):
            if isAsync { return try asyncPush(push, version: e.step, from: w.id, now: now) }
            result = server.receive(push, step: e.step)
            (microBatches, samples, computeSeconds) = ([push.microBatch], Int(push.samples), push.computeSeconds)
        case .gradientSum(let push) where !isAsync:
            result = server.receive(push, step: e.step)
            (microBatches, samples, computeSeconds) = (push.parts.map(\.microBatch), push.samples, push.computeSeconds)
        default:
            return reject("unexpected", "unexpected \(e.message.type) on the data socket", peer: peer, data: true)
        }
        if result == .accepted || result == .complete {
            open?.compute[w.id, default: 0] += computeSeconds
            observePush(w.id, microBatches: microBatches.count, samples: samples, computeSeconds: computeSeconds, now: now)
        }
        if case .rejected = result { workers[w.id]?.rejectedPushes += 1 }
        switch result {
        case .accepted:
            return []
        case .duplicate:
            logger.debug("dropped duplicate micro-batches \(microBatches) of step \(e.step) from worker \(w.id)")
            return []
        case .rejected(let reason):
            // Counted in server.rejections under a stable key.
            logger.warning("rejected gradient from worker \(w.id): \(reason)")
            return []
        case .complete:
            return try completeStep(now: now)
        }
    }

    // MARK: - Observation (status page, metrics)

    /// Counts an accepted push and records its latency: the time from the worker being able to
    /// start it (its assignment, or its previous push's arrival) to the push arriving, minus the
    /// compute time the worker reports, i.e. transfers and queueing. Clamped at 0.
    func observePush(_ id: UInt32, microBatches: Int, samples: Int, computeSeconds: Double, now: UInt64) {
        guard var w = workers[id] else { return }
        let since = max(w.lastAssigned, w.lastPush)
        if since > 0, now > since {
            pushLatencies.append(max(0, Double(now - since) / 1e9 - computeSeconds))
            if pushLatencies.count >= 20_000 { pushLatencies.removeFirst(10_000) }  // nobody is taking them
        }
        w.lastPush = now
        if microBatches > 0, computeSeconds > 0 {
            let perMicroBatch = computeSeconds / Double(microBatches)
            w.secondsPerMicroBatch = w.secondsPerMicroBatch.map { 0.9 * $0 + 0.1 * perMicroBatch } ?? perMicroBatch
        }
        w.pushes += UInt64(microBatches)
        w.samples += UInt64(samples)
        workers[id] = w
    }

    /// Push latencies (seconds) recorded since the last call.
    public func takePushLatencies() -> [Double] {
        defer { pushLatencies = [] }
        return pushLatencies
    }
}
