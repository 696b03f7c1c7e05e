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
}

/// Where step time goes: compute on the critical path (the busiest worker's compute) versus
/// communication and waiting (everything else between opening a step and completing it).
public struct StepTiming: Equatable, Sendable {
    public var steps = 0
    public var wallSeconds = 0.0
    public var computeSeconds = 0.0

    mutating func add(wall: Double, compute: Double) {
        steps += 1
        wallSeconds += wall
        computeSeconds += min(compute, wall)
    }

    public var communicationAndWaitSeconds: Double { wallSeconds - computeSeconds }

    public var report: String {
        guard steps > 0 else { return "no steps" }
        let ms = 1000 / Double(steps)
        return String(format: "%.2f ms/step = compute %.2f ms + communication/waiting %.2f ms (%.1f%%)",
                      wallSeconds * ms, computeSeconds * ms, communicationAndWaitSeconds * ms,
                      100 * communicationAndWaitSeconds / max(wallSeconds, 1e-12))
    }
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

    public let trainer: Trainer
    public let settings: CoordinatorSettings
    public let jobID: UInt64
    let logger: Logger
    let configJSON: [UInt8]
    let dataSHA256: String
    public private(set) var phase: Phase = .waiting
    public private(set) var workers: [UInt32: WorkerInfo] = [:]
    var nextWorkerID: UInt32 = 1
    public private(set) var view: UInt32 = 0
    public let server: ParameterServer
    var current: Trainer.PlannedStep?
    var stepStarted: UInt64 = 0
    var waitingSince: UInt64
    var meanGradient: [Float]
    /// Standalone parameter-server shards (empty when the server is embedded).
    public private(set) var shards: [ShardInfo] = []
    var shardsReady = false
    var pendingHellos: [(peer: [UInt8], hello: Hello)] = []
    var stepDone: [Int: StepDone] = [:]
    var lastTick: UInt64 = 0
    var sharded: Bool { settings.servers > 1 }
    /// Async mode (see `AsyncState`): each micro-batch is applied on arrival.
    var isAsync: Bool { trainer.config.training.mode == .async }
    var async = AsyncState()
    /// Compute seconds per worker in the open step, and run totals of the step-time split.
    var stepCompute: [UInt32: Double] = [:]
    /// Workers sent the current step's weights (at its start): only they can take over a dropped
    /// worker's micro-batches; a worker that joined since holds no weights for the step.
    var stepHolders: Set<UInt32> = []
    public private(set) var timing = StepTiming()
    /// Messages refused, by reason.
    public private(set) var rejected: [String: Int] = [:]
    /// Per-worker images/s sampled from heartbeats into workers.jsonl (every 4 heartbeat intervals).
    var throughput: WorkerThroughputLog
    /// Times a worker of each name was dropped (it may rejoin under a new id).
    public private(set) var drops: [String: Int] = [:]
    /// Push latencies (seconds) not yet taken by `takePushLatencies()`; see `observePush`.
    var pushLatencies: [Double] = []
    /// Peers admitted with a numerics fingerprint other than ours ("name@host fingerprint"; only with
    /// `allowMixedNumerics`).
    public private(set) var mixedNumericsPeers: [String] = []

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
            return reject("wrong_job", Reject.rejoinPrefix + "message for job \(e.jobID), this is job \(jobID); say hello again", peer: peer, data: false)
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

    func registerShard(_ hello: Hello, peer: [UInt8], now: UInt64) -> [CoordinatorAction] {
        guard sharded else { return reject("unexpected", "this coordinator embeds its parameter server (--servers 1)", peer: peer, data: false) }
        if let i = shards.firstIndex(where: { $0.peer == peer }) {  // a repeated hello
            return shardsReady ? [.sendControl(peer: peer, frames: shardInit(i))] : []
        }
        guard shards.count < settings.servers else {
            return reject("unexpected", "all \(settings.servers) parameter-server shards are registered", peer: peer, data: false)
        }
        if let refusal = checkNumerics(hello, role: "parameter-server shard", peer: peer) { return refusal }
        shards.append(ShardInfo(shard: shards.count, peer: peer, endpoint: hello.endpoint, name: hello.name, lastSeen: now))
        logger.info("parameter-server shard \(shards.count)/\(settings.servers) joined: \(hello.name)@\(hello.host) at \(hello.endpoint)")
        guard shards.count == settings.servers else { return [] }
        shardsReady = true
        var actions: [CoordinatorAction] = shards.indices.map { .sendControl(peer: shards[$0].peer, frames: shardInit($0)) }
        for (p, h) in pendingHellos { actions += register(h, peer: p, now: now) }
        pendingHellos = []
        return actions
    }

    func shardInit(_ s: Int) -> [[UInt8]] {
        let range = KeyRanges.range(shard: s, of: settings.servers, parameters: trainer.model.parameterCount)
        let state = trainer.optimizer.state
        let encoder = JSONEncoder()
        let optimizer = (try? encoder.encode(trainer.config.optimizer)).map { [UInt8]($0) } ?? []
        return envelope(.shardInit(ShardInit(
            shard: UInt32(s), shards: UInt32(settings.servers), offset: UInt64(range.lowerBound), optimizerStep: UInt64(state.step),
            optimizer: optimizer, parameters: Array(trainer.parameters[range]), first: Array(state.first[range]),
            second: state.second.isEmpty ? [] : Array(state.second[range]))))
    }

    func shardDone(_ s: Int, _ d: StepDone, step: UInt64, now: UInt64) throws -> [CoordinatorAction] {
        guard let current, step == UInt64(current.globalStep), stepDone[s] == nil else {
            return reject("stale_step", "step done for step \(step) from shard \(s) is not expected", peer: shards[s].peer, data: false)
        }
        let range = KeyRanges.range(shard: s, of: settings.servers, parameters: trainer.model.parameterCount)
        guard d.parameters.count == range.count else {
            return reject("bad_size", "shard \(s) returned \(d.parameters.count) parameters, owns \(range.count)", peer: shards[s].peer, data: false)
        }
        stepDone[s] = d
        guard stepDone.count == settings.servers else { return [] }
        var parameters = trainer.parameters
        var state: OptimizerState? = nil
        if stepDone.values.allSatisfy({ $0.first != nil }) {
            var st = trainer.optimizer.state
            st.step += 1
            for (i, done) in stepDone {
                let r = KeyRanges.range(shard: i, of: settings.servers, parameters: trainer.model.parameterCount)
                st.first.replaceSubrange(r, with: done.first!)
                if !st.second.isEmpty { st.second.replaceSubrange(r, with: done.second!) }
            }
            state = st
        }
        for (i, done) in stepDone {
            parameters.replaceSubrange(KeyRanges.range(shard: i, of: settings.servers, parameters: trainer.model.parameterCount), with: done.parameters)
        }
        let first = stepDone[0]!
        let seconds = Double(now > stepStarted ? now - stepStarted : 0) / 1e9
        timing.add(wall: seconds, compute: first.computeSeconds / Double(max(liveWorkers.count, 1)))
        stepDone = [:]
        let epochEnd = current.stepInEpoch + 1 == trainer.plan.stepsPerEpoch
        let spent = try Self.elapsed {
            try trainer.completeStep(updatedParameters: parameters, optimizerState: state, loss: first.loss, correct: Int(first.correct),
                                     samples: Int(first.samples), seconds: seconds)
        }
        if epochEnd { logger.info("epoch \(current.epoch + 1) steps: \(timing.report)") }
        self.current = nil
        // Epoch-end validation is not training time: the next step's clock starts after it.
        return try beginStep(now: epochEnd ? now &+ spent : now)
    }

    /// Nil if `hello`'s numerics fingerprint matches ours or mixed numerics are allowed (then recorded);
    /// else the refusal to send, naming both hosts and both fingerprints.
    func checkNumerics(_ hello: Hello, role: String, peer: [UInt8]) -> [CoordinatorAction]? {
        guard hello.numerics != settings.numerics else { return nil }
        let theirs = hello.numerics.isEmpty ? "(none)" : hello.numerics
        let facts = "\(role) \(hello.name)@\(hello.host) has numerics fingerprint \(theirs), the coordinator on \(settings.host) has "
            + "\(settings.numerics): their gradients would not have the same bits"
        if settings.allowMixedNumerics {
            logger.warning("\(facts); admitted (--allow-mixed-numerics: this run is not reproducible)")
            let peerName = "\(hello.name)@\(hello.host) \(theirs)"
            if !mixedNumericsPeers.contains(peerName) { mixedNumericsPeers.append(peerName) }  // a rejoin is one peer
            return nil
        }
        return reject("numerics", Reject.refusedPrefix + facts + ". Refused: run the same Digits build on x86-64-v3 (AVX2 + FMA) "
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
        logger.info("worker \(id) joined: \(hello.name)@\(hello.host) pid \(hello.pid)\(ship ? "; shipping the training set" : "; has the training set")")
        let train = trainer.data.train
        var actions: [CoordinatorAction] = [.sendControl(peer: peer, frames: envelope(.welcome(Welcome(
            workerID: id, config: configJSON, serverEndpoints: sharded ? shards.map(\.endpoint) : [settings.serverEndpoint],
            heartbeatMilliseconds: settings.heartbeatMilliseconds,
            shipsData: ship, dataSHA256: dataSHA256, trainCount: UInt32(train.count), rows: UInt32(train.rows), cols: UInt32(train.cols)))))]
        if ship {
            let chunk = 8 << 20
            for (kind, bytes) in [(DataChunk.Kind.images, train.images), (.labels, train.labels)] {
                var offset = 0
                repeat {
                    let end = min(offset + chunk, bytes.count)
                    actions.append(.sendControl(peer: peer, frames: envelope(.dataChunk(DataChunk(
                        kind: kind, offset: UInt64(offset), total: UInt64(bytes.count), bytes: Array(bytes[offset..<end]))))))
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
            return reject("wrong_job", Reject.rejoinPrefix + "message for job \(e.jobID), this is job \(jobID); say hello again", peer: peer, data: true)
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
        let result: ParameterServer.PushResult, microBatches: [UInt32], samples: Int, computeSeconds: Double
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
            stepCompute[w.id, default: 0] += computeSeconds
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

    // MARK: - Steps

    func maybeStart(now: UInt64) throws -> [CoordinatorAction] {
        switch phase {
        case .waiting:
            guard liveWorkers.count >= settings.minWorkers else { return [] }
            phase = .training
            logger.info("\(liveWorkers.count) worker(s) ready; training starts\(isAsync ? " (ASYNC mode, staleness \(trainer.config.training.staleness): results are not reproducible)" : "")")
            if isAsync { return try asyncBeginEpoch(now: now) }
            return try beginStep(now: now)
        case .training:
            if isAsync { return asyncDispatch(now: now) }
            // A late joiner: it receives the next step's weights and assignment.
            if current == nil { return try beginStep(now: now) }
            return []
        case .finished:
            return []
        }
    }

    func beginStep(now: UInt64) throws -> [CoordinatorAction] {
        guard let step = trainer.nextStep() else { return try finish() }
        let live = liveWorkers
        guard !live.isEmpty else {
            current = nil
            waitingSince = now
            logger.warning("no live workers; waiting up to \(Int(settings.joinDeadlineSeconds)) s for one to join")
            return []
        }
        current = step
        stepStarted = now
        stepCompute = [:]
        stepDone = [:]
        stepHolders = Set(live.map(\.id))
        view += 1
        for w in live {
            workers[w.id]?.assigned = []
            workers[w.id]?.lastAssigned = now
        }
        for (k, i) in Self.split(step.microBatches.count, costs: live.map { workers[$0.id]?.secondsPerMicroBatch }).enumerated() {
            workers[live[i].id]?.assigned.append(k)
        }
        var actions: [CoordinatorAction] = []
        if sharded {
            let begin = envelope(.beginStep(BeginStep(microBatches: UInt32(step.microBatches.count), learningRate: trainer.learningRate(step: step.globalStep),
                                                      wantState: trainer.needsOptimizerState, workers: live.map(\.id))),
                                 step: UInt64(step.globalStep))
            for shard in shards { actions.append(.sendControl(peer: shard.peer, frames: begin)) }
        } else {
            server.begin(step: UInt64(step.globalStep), microBatches: step.microBatches.count)
        }
        let weights = sharded ? [] : envelope(.weights(Weights(offset: 0, values: trainer.parameters)), step: UInt64(step.globalStep))
        // The small assignments first, so each worker holds its own when its weights land.
        for w in live {
            actions.append(.sendControl(peer: w.controlPeer, frames: envelope(.assignment(Assignment(
                epoch: UInt32(step.epoch), stepInEpoch: UInt32(step.stepInEpoch),
                microBatches: workers[w.id]!.assigned.map(UInt32.init), view: view)), step: UInt64(step.globalStep))))
        }
        if !sharded { for w in live { actions.append(.sendData(peer: w.dataPeer!, frames: weights)) } }
        return actions
    }

    /// Which worker (index into `costs`) computes each of `count` micro-batches: each goes to the
    /// worker that would finish it first given what it already has and its seconds per micro-batch
    /// (unknown costs count as the median known one; ties go to the fewer-loaded, then the first
    /// worker). Equal costs give round robin. Only scheduling: the sums, hence the bits, are the same.
    static func split(_ count: Int, costs: [Double?]) -> [Int] {
        let known = costs.compactMap { $0 }.filter { $0 > 0 }.sorted()
        let fallback = known.isEmpty ? 1 : known[known.count / 2]
        let cost = costs.map { c -> Double in c.map { $0 > 0 ? $0 : fallback } ?? fallback }
        var finish = [Double](repeating: 0, count: cost.count), assigned = [Int](repeating: 0, count: cost.count)
        return (0..<count).map { _ in
            var best = 0
            for i in cost.indices.dropFirst() {
                let a = finish[i] + cost[i], b = finish[best] + cost[best]
                // A 2% margin keeps near-equal workers on round robin despite noise in the costs.
                if a < b * 0.98 || (a <= b * 1.02 && assigned[i] < assigned[best]) { best = i }
            }
            finish[best] += cost[best]
            assigned[best] += 1
            return best
        }
    }

    func completeStep(now: UInt64) throws -> [CoordinatorAction] {
        let seconds = Double(now > stepStarted ? now - stepStarted : 0) / 1e9
        timing.add(wall: seconds, compute: stepCompute.values.max() ?? 0)
        if let step = current, step.stepInEpoch + 1 == trainer.plan.stepsPerEpoch {
            logger.info("epoch \(step.epoch + 1) steps: \(timing.report)")
        }
        let epochEnd = current.map { $0.stepInEpoch + 1 == trainer.plan.stepsPerEpoch } ?? false
        meanGradient.withUnsafeMutableBufferPointer { server.mean(into: $0) }
        let spent = try Self.elapsed {
            try meanGradient.withUnsafeBufferPointer {
                try trainer.completeStep(meanGradient: $0, loss: server.lossSum, correct: server.correct, samples: server.samples, seconds: seconds)
            }
        }
        current = nil
        // Epoch-end validation is not training time: the next step's clock starts after it.
        return try beginStep(now: epochEnd ? now &+ spent : now)
    }

    /// Nanoseconds `body` took (monotonic clock, the one the command-line loop passes as `now`).
    static func elapsed(_ body: () throws -> Void) rethrows -> UInt64 {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return DispatchTime.now().uptimeNanoseconds &- start
    }

    func finish() throws -> [CoordinatorAction] {
        phase = .finished
        let summary = try trainer.finish(workers: workers.values.filter { $0.ready }.count,
                                         allowMixedNumerics: settings.allowMixedNumerics, mixedNumericsPeers: mixedNumericsPeers)
        var actions: [CoordinatorAction] = workers.values.filter { $0.alive }.map {
            .sendControl(peer: $0.controlPeer, frames: envelope(.shutdown(Shutdown(reason: "training finished"))))
        }
        for shard in shards { actions.append(.sendControl(peer: shard.peer, frames: envelope(.shutdown(Shutdown(reason: "training finished"))))) }
        actions.append(.finished(summary))
        return actions
    }

    /// Removes a worker from the view and gives its missing micro-batches to the survivors.
    func drop(_ id: UInt32, reason: String, now: UInt64) throws -> [CoordinatorAction] {
        guard let w = workers[id], w.alive else { return [] }
        workers[id]?.alive = false
        drops[w.name, default: 0] += 1
        if isAsync {
            if let o = async.outstanding.removeValue(forKey: id) { async.queue.insert((o.stepInEpoch, o.microBatch), at: 0) }
            return phase == .training ? asyncDispatch(now: now) : []
        }
        guard phase == .training, let step = current else { return [] }
        // Standalone shards drop duplicates by micro-batch id, so everything assigned is handed on.
        let missing = sharded ? Set(w.assigned) : Set(server.missing)
        let orphaned = w.assigned.filter { missing.contains($0) }
        workers[id]?.assigned = []
        guard !orphaned.isEmpty else { return [] }
        let live = liveWorkers
        let holders = live.filter { stepHolders.contains($0.id) }
        guard !holders.isEmpty else {
            // Nobody left holds this step's weights: the step starts again (every micro-batch
            // recomputed, so the same sum) on the workers that joined since, or the first to join.
            current = nil
            guard !live.isEmpty else {
                waitingSince = now
                logger.warning("worker \(id) was the last one; waiting up to \(Int(settings.joinDeadlineSeconds)) s for a worker to join")
                return []
            }
            logger.warning("no worker holding step \(step.globalStep + 1)'s weights is left; starting the step again on \(live.map(\.id))")
            return try beginStep(now: now)
        }
        logger.warning("reassigning micro-batches \(orphaned) of step \(step.globalStep + 1) from worker \(id) to \(holders.map(\.id))")
        view += 1
        var extra: [UInt32: [Int]] = [:]
        for (j, k) in orphaned.enumerated() { extra[holders[j % holders.count].id, default: []].append(k) }
        var actions: [CoordinatorAction] = []
        for (wid, ids) in extra.sorted(by: { $0.key < $1.key }) {
            workers[wid]?.assigned += ids
            actions.append(.sendControl(peer: workers[wid]!.controlPeer, frames: envelope(.assignment(Assignment(
                epoch: UInt32(step.epoch), stepInEpoch: UInt32(step.stepInEpoch), microBatches: ids.map(UInt32.init), view: view)),
                step: UInt64(step.globalStep))))
        }
        return actions
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

    // MARK: - Time

    public func tick(now: UInt64) throws -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        let deadline = UInt64(settings.heartbeatDeadlineSeconds * 1e9)
        // While the coordinator itself was busy (validation, checkpoints) it read no heartbeats:
        // that silence is not the workers' fault, so their deadlines restart.
        if lastTick != 0, now &- lastTick > UInt64(settings.heartbeatMilliseconds) * 2_000_000 {
            for id in workers.keys { workers[id]!.lastSeen = max(workers[id]!.lastSeen, now) }
            for i in shards.indices { shards[i].lastSeen = max(shards[i].lastSeen, now) }
        }
        lastTick = now
        if phase == .training, let run = trainer.runDirectory {
            let records = throughput.sample(liveWorkers.map { ($0.id, $0.name, $0.computed) }, now: now,
                                            microBatch: trainer.config.training.microBatch, step: trainer.progress.globalStep,
                                            wallTime: Date().timeIntervalSince1970)
            if !records.isEmpty {
                do { try WorkerThroughputLog.append(records, to: run.path + "/workers.jsonl") } catch {
                    logger.warning("could not append to \(run.path)/workers.jsonl: \(error)")
                }
            }
        }
        for w in workers.values.sorted(by: { $0.id < $1.id }) where w.alive && now &- w.lastSeen > deadline {
            let missed = Int(Double(now &- w.lastSeen) / 1e6 / Double(settings.heartbeatMilliseconds))
            logger.error("worker \(w.id) (\(w.name)@\(w.host)) missed \(missed) heartbeats; dropping it")
            actions += try drop(w.id, reason: "missed heartbeats", now: now)
        }
        for shard in shards where now &- shard.lastSeen > deadline {
            phase = .finished
            return actions + [.interrupted("parameter-server shard \(shard.shard + 1) (\(shard.name) at \(shard.endpoint)) missed heartbeats; the last checkpoint is in \(trainer.runDirectory?.path ?? "the run directory"); restart with --resume")]
        }
        switch phase {
        case .waiting:
            if Double(now &- waitingSince) / 1e9 > settings.joinDeadlineSeconds {
                phase = .finished
                return actions + [.failed("expected \(settings.minWorkers) worker(s), \(liveWorkers.count) ready after \(Int(settings.joinDeadlineSeconds)) s")]
            }
        case .training where isAsync:
            if liveWorkers.isEmpty, Double(now &- waitingSince) / 1e9 > settings.joinDeadlineSeconds {
                phase = .finished
                return actions + [.failed("no live workers for \(Int(settings.joinDeadlineSeconds)) s")]
            }
            if !liveWorkers.isEmpty { waitingSince = now }
        case .training:
            if current == nil {
                if !liveWorkers.isEmpty {
                    actions += try beginStep(now: now)
                } else if Double(now &- waitingSince) / 1e9 > settings.joinDeadlineSeconds {
                    phase = .finished
                    return actions + [.interrupted("no live workers for \(Int(settings.joinDeadlineSeconds)) s; the last checkpoint is in \(trainer.runDirectory?.path ?? "the run directory"); continue with --resume")]
                }
            } else if sharded, Double(now > stepStarted ? now - stepStarted : 0) / 1e9 > settings.stepDeadlineSeconds, let step = current {
                logger.error("step \(step.globalStep + 1) has been open \(Int(settings.stepDeadlineSeconds)) s; shards not done: \(shards.map(\.shard).filter { stepDone[$0] == nil }.map { $0 + 1 })")
                stepStarted = now
            } else if Double(now > stepStarted ? now - stepStarted : 0) / 1e9 > settings.stepDeadlineSeconds, let step = current {
                let missing = Set(server.missing)
                let owing = workers.values.filter { $0.alive && !$0.assigned.filter(missing.contains).isEmpty }.sorted { $0.id < $1.id }
                for w in owing {
                    logger.error("worker \(w.id) (\(w.name)@\(w.host)) has not sent micro-batches \(w.assigned.filter(missing.contains)) of step \(step.globalStep + 1) within \(Int(settings.stepDeadlineSeconds)) s; dropping it")
                    actions += try drop(w.id, reason: "step deadline", now: now)
                }
                stepStarted = now
            }
        case .finished:
            break
        }
        return actions
    }
}

// MARK: - Asynchronous mode

/// Async bookkeeping: the epoch's micro-batches still to hand out, one outstanding micro-batch
/// per worker (with the weights version it was given), and per-step tallies so the Trainer
/// records whole steps in order.
struct AsyncState {
    var parameters: [Float] = []
    var optimizer: Optimizer?
    var version: UInt64 = 0
    var epoch = -1
    var queue: [(stepInEpoch: Int, microBatch: Int)] = []
    var outstanding: [UInt32: (stepInEpoch: Int, microBatch: Int, version: UInt64)] = [:]
    var remaining: [Int: Int] = [:]
    var losses: [Int: [Double]] = [:]
    var corrects: [Int: [Int]] = [:]
    var samples: [Int: Int] = [:]
    var nextToRecord = 0
    var lastRecorded: UInt64 = 0
    var compute = 0.0
    var sum: GradientSum?
    var stale = 0
}

extension Coordinator {
    /// Queues every micro-batch of the epoch in plan order (from where the Trainer stands).
    func asyncBeginEpoch(now: UInt64) throws -> [CoordinatorAction] {
        guard let step = trainer.nextStep() else { return try finish() }
        let plan = trainer.plan
        async.parameters = trainer.parameters
        async.optimizer = Optimizer(config: trainer.config.optimizer, state: trainer.optimizer.state)
        async.sum = async.sum ?? GradientSum(count: trainer.model.parameterCount)
        async.epoch = step.epoch
        async.queue = []
        async.remaining = [:]
        async.losses = [:]
        async.corrects = [:]
        async.samples = [:]
        for s in step.stepInEpoch..<plan.stepsPerEpoch {
            let n = plan.microBatches(step: s).count
            async.remaining[s] = n
            async.losses[s] = [Double](repeating: 0, count: n)
            async.corrects[s] = [Int](repeating: 0, count: n)
            async.samples[s] = 0
            for k in 0..<n { async.queue.append((s, k)) }
        }
        async.nextToRecord = step.stepInEpoch
        async.lastRecorded = now
        return asyncDispatch(now: now)
    }

    /// Gives every idle live worker the current weights and its next micro-batch.
    func asyncDispatch(now: UInt64) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for w in liveWorkers where async.outstanding[w.id] == nil {
            guard !async.queue.isEmpty else { break }
            let (s, k) = async.queue.removeFirst()
            async.outstanding[w.id] = (s, k, async.version)
            workers[w.id]?.lastAssigned = now
            actions.append(.sendData(peer: w.dataPeer!, frames: envelope(.weights(Weights(offset: 0, values: async.parameters)), step: async.version)))
            actions.append(.sendControl(peer: w.controlPeer, frames: envelope(.assignment(Assignment(
                epoch: UInt32(async.epoch), stepInEpoch: UInt32(s), microBatches: [UInt32(k)], view: view)), step: async.version)))
        }
        return actions
    }

    func asyncPush(_ push: GradientPush, version: UInt64, from id: UInt32, now: UInt64) throws -> [CoordinatorAction] {
        guard let o = async.outstanding[id], Int(push.microBatch) == o.microBatch, version == o.version else {
            rejected["unexpected", default: 0] += 1
            logger.warning("rejected gradient from worker \(id): micro-batch \(push.microBatch) at version \(version) was not assigned to it")
            return []
        }
        async.outstanding[id] = nil
        guard push.offset == 0, push.values.count == trainer.model.parameterCount, push.loss.isFinite else {
            async.queue.insert((o.stepInEpoch, o.microBatch), at: 0)
            return reject("bad_size", "gradient of \(push.values.count) values at offset \(push.offset)", peer: workers[id]!.dataPeer!, data: true)
                + asyncDispatch(now: now)
        }
        if async.version - o.version > UInt64(trainer.config.training.staleness) {
            async.stale += 1
            async.queue.insert((o.stepInEpoch, o.microBatch), at: 0)  // recompute on fresh weights
            return asyncDispatch(now: now)
        }
        var sum = async.sum!
        sum.reset()
        let finite = push.values.withUnsafeBufferPointer { sum.add($0, samples: Int(push.samples)) }
        guard finite else {
            async.queue.insert((o.stepInEpoch, o.microBatch), at: 0)
            logger.warning("rejected non-finite gradient from worker \(id)")
            return asyncDispatch(now: now)
        }
        meanGradient.withUnsafeMutableBufferPointer { sum.mean(into: $0) }
        async.sum = sum
        observePush(id, microBatches: 1, samples: Int(push.samples), computeSeconds: push.computeSeconds, now: now)
        var optimizer = async.optimizer!
        let lr = trainer.learningRate(step: async.epoch * trainer.plan.stepsPerEpoch + o.stepInEpoch)
        async.parameters.withUnsafeMutableBufferPointer { p in
            meanGradient.withUnsafeBufferPointer { optimizer.apply(gradient: $0, to: p, learningRate: lr) }
        }
        async.optimizer = optimizer
        async.version += 1
        async.compute += push.computeSeconds
        let s = o.stepInEpoch
        async.losses[s]![o.microBatch] = push.loss
        async.corrects[s]![o.microBatch] = Int(push.correct)
        async.samples[s]! += Int(push.samples)
        async.remaining[s]! -= 1
        // Record finished steps in plan order (the last one of the epoch runs validation).
        while let left = async.remaining[async.nextToRecord], left == 0 {
            let r = async.nextToRecord
            let seconds = Double(now &- async.lastRecorded) / 1e9
            timing.add(wall: seconds, compute: async.compute / Double(max(liveWorkers.count, 1)))
            async.compute = 0
            async.lastRecorded = now
            async.nextToRecord += 1
            try trainer.completeStep(updatedParameters: async.parameters, optimizerState: async.optimizer!.state,
                                     loss: async.losses[r]!.reduce(0, +), correct: async.corrects[r]!.reduce(0, +),
                                     samples: async.samples[r]!, seconds: seconds)
            if r + 1 == trainer.plan.stepsPerEpoch {
                logger.info("epoch \(async.epoch + 1) (async): \(timing.report); \(async.stale) stale gradients recomputed")
                async.stale = 0
                return try asyncBeginEpoch(now: now)
            }
        }
        return asyncDispatch(now: now)
    }
}
