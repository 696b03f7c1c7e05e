// A worker: joins the coordinator, receives (or loads) the training set, then for each step
// takes the weights from the parameter server and its assigned micro-batches from the
// coordinator, computes each micro-batch gradient and pushes it. The loop around it does the I/O.
import Foundation
import Logging
import MNISTData
import NeuralNet
import TensorKit
import Training
import WireProtocol

public enum WorkerAction: Equatable {
    case sendControl([[UInt8]])
    /// To parameter-server shard `shard` (the index into the Welcome's endpoints).
    case sendData(shard: Int, frames: [[UInt8]])
    /// To every parameter-server shard.
    case sendDataAll([[UInt8]])
    /// Dial the parameter-server data endpoints.
    case connectData([String])
    /// Close the data connections (before joining again).
    case disconnectData
    case exit(code: Int32, reason: String)
}

public final class WorkerNode {
    public enum State: Equatable { case joining, receivingData, ready, finished }

    public let name: String
    let host: String
    let localData: Dataset?
    let gradientSource: GradientSource
    let logger: Logger
    public private(set) var state: State = .joining
    public private(set) var id: UInt32 = 0
    var jobID: UInt64 = 0
    var welcome: Welcome?
    var images: [UInt8] = []
    var labels: [UInt8] = []
    var received = [DataChunk.Kind: Int]()
    var lastHello: UInt64 = 0
    var lastHeartbeat: UInt64 = 0
    public private(set) var lastHeard: UInt64
    public var silenceDeadlineSeconds: Double = 120
    /// Times each micro-batch's compute (reported to the coordinator, which splits steps by it).
    /// Tests on a simulated clock pass it, so their splits never depend on this machine's speed.
    public var clock: () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }

    var config: TrainConfig?
    var dataset: Dataset?
    var plan: EpochPlan?
    var computer: MicroBatchComputer?
    /// The model's parameter count (known once ready).
    var parameterCount = 0
    var rng = CounterRNG(seed: 0)
    var cachedOrder: (epoch: Int, order: [Int])?
    var weightsStep: UInt64?
    var weights: [Float] = []
    /// Weights of a newer step being assembled from the shards' slices.
    var incoming: (step: UInt64, values: [Float], filled: Int)?
    var shardRanges: [Range<Int>] = []
    /// Pending work: (global step, epoch, step in epoch, micro-batch id, which Assignment message).
    var queue: [(step: UInt64, epoch: Int, stepInEpoch: Int, microBatch: Int, batch: Int)] = []
    var assignments = 0
    public private(set) var computed: UInt64 = 0
    /// Seconds spent computing those micro-batches (forward and backward passes).
    public private(set) var computeSeconds = 0.0
    /// Synchronous mode sums a step's assigned micro-batches in exact fixed point and pushes that
    /// sum (`GradientSumPush`) before computing the last one, which is pushed on its own as Float32
    /// (`GradientPush`): two messages per worker per step, the smaller one on the critical path.
    /// Async mode pushes each micro-batch's Float32 gradient.
    var pushesSums = true
    var stepSum = GradientSum(count: 0)
    var sumKey: SumKey?
    var stepParts: [GradientSumPush.Part] = []
    var stepSeconds = 0.0

    /// The training set kept across a rejoin.
    var rejoinData: Dataset?

    /// `localDataSHA256`, when given, is `localData`'s SHA-256 (workers that share one set hash it once).
    public init(
        name: String, host: String, localData: Dataset?, localDataSHA256: String? = nil,
        gradientSource: GradientSource = .computed, logger: Logger, now: UInt64
    ) {
        self.name = name
        self.host = host
        self.localData = localData
        self.gradientSource = gradientSource
        self.logger = logger
        lastHeard = now
        if localData != nil, let localDataSHA256 { localSHA = localDataSHA256 }
    }

    func envelope(_ m: Message, step: UInt64 = 0) -> [[UInt8]] {
        WireCodec.encode(Envelope(jobID: jobID, sender: id, step: step, message: m))
    }

    lazy var localSHA: String = (localData ?? rejoinData).map { Coordinator.trainingSetSHA256($0) } ?? ""

    func hello() -> WorkerAction {
        let sha = (localData ?? rejoinData) == nil ? "" : localSHA
        return .sendControl(
            envelope(
                .hello(
                    Hello(
                        role: .worker, name: name, host: host, pid: UInt32(getpid()), localDataSHA256: sha,
                        numerics: NumericsFingerprint.current.description))))
    }

    public func start(now: UInt64) -> [WorkerAction] {
        lastHello = now
        return [hello()]
    }

    public func control(_ frames: [[UInt8]], now: UInt64) throws -> [WorkerAction] {
        let e: Envelope
        do { e = try WireCodec.decode(frames) } catch {
            logger.warning("ignored malformed message from the coordinator: \(error)")
            return []
        }
        lastHeard = now
        if case .welcome(let w) = e.message {
            guard state == .joining else { return [] }
            return try welcomed(w, jobID: e.jobID)
        }
        // A restarted coordinator (new job id) asks the workers of the old job to join again.
        if case .reject(let r) = e.message, r.reason.hasPrefix(Reject.rejoinPrefix) { return rejoin(r.reason, now: now) }
        // This worker cannot take part (e.g. its numerics fingerprint differs): say why and stop.
        if case .reject(let r) = e.message, r.reason.hasPrefix(Reject.refusedPrefix) {
            state = .finished
            return [.exit(code: 2, reason: "the coordinator refused this worker: \(r.reason.dropFirst(Reject.refusedPrefix.count))")]
        }
        guard e.jobID == jobID else {
            logger.warning("ignored message for job \(e.jobID) (this worker is in job \(jobID))")
            return []
        }
        switch e.message {
        case .dataChunk(let chunk):
            return try receiveChunk(chunk)
        case .assignment(let a):
            guard state == .ready else { return [] }
            if let ws = weightsStep, e.step < ws { return [] }  // stale
            queue.removeAll { $0.step < e.step }
            assignments += 1
            for k in a.microBatches {
                queue.append((e.step, Int(a.epoch), Int(a.stepInEpoch), Int(k), assignments))
            }
            return []
        case .shutdown(let s):
            state = .finished
            return [.exit(code: 0, reason: s.reason)]
        case .reject(let r):
            if r.reason.hasPrefix(Reject.rejoinPrefix) { return rejoin(r.reason, now: now) }
            logger.error("the coordinator refused a message: \(r.reason)")
            return []
        default:
            logger.warning("ignored unexpected \(e.message.type) from the coordinator")
            return []
        }
    }

    public func data(_ frames: [[UInt8]], now: UInt64) throws -> [WorkerAction] {
        let e: Envelope
        do { e = try WireCodec.decode(frames) } catch {
            logger.warning("ignored malformed message from the parameter server: \(error)")
            return []
        }
        if case .reject(let r) = e.message, r.reason.hasPrefix(Reject.rejoinPrefix) { return rejoin(r.reason, now: now) }
        guard e.jobID == jobID else { return [] }
        lastHeard = now
        switch e.message {
        case .weights(let w):
            guard let i = shardRanges.firstIndex(where: { $0.lowerBound == Int(w.offset) }), shardRanges[i].count == w.values.count,
                parameterCount > 0
            else {
                logger.warning("ignored weights for keys [\(w.offset), +\(w.values.count)) that match no shard")
                return []
            }
            if let ws = weightsStep, e.step <= ws { return [] }
            let complete: [Float]
            let count = parameterCount
            if w.values.count == count {  // one server: the slice is the whole vector
                complete = w.values
            } else {
                if incoming == nil || incoming!.step != e.step { incoming = (e.step, [Float](repeating: 0, count: count), 0) }
                incoming!.values.replaceSubrange(shardRanges[i], with: w.values)
                incoming!.filled += w.values.count
                guard incoming!.filled == count else { return [] }
                complete = incoming!.values
            }
            weights = complete
            weightsStep = e.step
            incoming = nil
            queue.removeAll { $0.step < e.step }
        case .reject(let r):
            if r.reason.hasPrefix(Reject.rejoinPrefix) { return rejoin(r.reason, now: now) }
            logger.error("the parameter server refused a message: \(r.reason)")
        default:
            logger.warning("ignored unexpected \(e.message.type) from the parameter server")
        }
        return []
    }

    /// Dropped by the coordinator (e.g. it thought this worker dead): start over with a new Hello,
    /// keeping the training set so it need not be shipped again.
    func rejoin(_ reason: String, now: UInt64) -> [WorkerAction] {
        guard state == .ready || state == .receivingData else { return [] }
        logger.warning("\(reason.dropFirst(Reject.rejoinPrefix.count)); joining again")
        if let dataset { rejoinData = dataset }
        state = .joining
        id = 0
        queue = []
        sumKey = nil
        weightsStep = nil
        incoming = nil
        lastHello = now
        return [.disconnectData, hello()]
    }

    func welcomed(_ w: Welcome, jobID: UInt64) throws -> [WorkerAction] {
        self.jobID = jobID
        id = w.workerID
        welcome = w
        let config: TrainConfig
        do { config = try JSONDecoder().decode(TrainConfig.self, from: Data(w.config)) } catch {
            return [.exit(code: 2, reason: "the coordinator's config is not readable by this worker (version mismatch?): \(error)")]
        }
        self.config = config
        logger.info("joined job \(String(jobID, radix: 16)) as worker \(id); model \(config.modelSpec.name)")
        var actions: [WorkerAction] = [
            .connectData(w.serverEndpoints),
            .sendDataAll(envelope(.hello(Hello(role: .worker, name: name, host: host, pid: UInt32(getpid()), workerID: id))))
        ]
        if w.shipsData {
            state = .receivingData
            images = [UInt8](repeating: 0, count: Int(w.trainCount) * Int(w.rows * w.cols))
            labels = [UInt8](repeating: 0, count: Int(w.trainCount))
        } else if let local = localData ?? rejoinData {
            actions += try becomeReady(with: local, sha: localSHA)
        } else {
            return [.exit(code: 2, reason: "the coordinator expects local data but this worker has none")]
        }
        return actions
    }

    func receiveChunk(_ c: DataChunk) throws -> [WorkerAction] {
        guard state == .receivingData else { return [] }
        let target = c.kind == .images ? images.count : labels.count
        guard c.total == UInt64(target), c.offset + UInt64(c.bytes.count) <= c.total else {
            return [.exit(code: 2, reason: "data chunk does not fit the announced training set (\(c.total) vs \(target) bytes)")]
        }
        if c.kind == .images {
            images.replaceSubrange(Int(c.offset)..<(Int(c.offset) + c.bytes.count), with: c.bytes)
        } else {
            labels.replaceSubrange(Int(c.offset)..<(Int(c.offset) + c.bytes.count), with: c.bytes)
        }
        received[c.kind, default: 0] += c.bytes.count
        guard received[.images, default: 0] >= images.count, received[.labels, default: 0] >= labels.count, let w = welcome, let config
        else { return [] }
        let dataset = try Dataset(
            images: images, labels: labels, rows: Int(w.rows), cols: Int(w.cols), classes: config.data.classes, name: "shipped training set"
        )
        images = []
        labels = []
        return try becomeReady(with: dataset, sha: Coordinator.trainingSetSHA256(dataset))
    }

    func becomeReady(with dataset: Dataset, sha: String) throws -> [WorkerAction] {
        guard let w = welcome, let config else { return [] }
        guard sha == w.dataSHA256 else {
            return [
                .exit(code: 2, reason: "training set checksum \(sha.prefix(12)) differs from the coordinator's \(w.dataSHA256.prefix(12))")
            ]
        }
        switch gradientSource {
        case .computed:
            let model = try Sequential(spec: config.modelSpec)
            parameterCount = model.parameterCount
            computer = MicroBatchComputer(
                model: model, capacity: config.training.microBatch, normalization: config.normalization,
                labelSmoothing: config.labelSmoothing, augmenter: config.augmenter(rows: dataset.rows, cols: dataset.cols))
        case .precomputed(let gradient):
            parameterCount = try gradient.parameterCount(of: config.modelSpec)
            guard gradient.count == parameterCount else {
                return [
                    .exit(
                        code: 2,
                        reason:
                            """
                            the precomputed gradient has \(gradient.count) values; model \(config.modelSpec.name) has \
                            \(parameterCount) parameters
                            """
                    )
                ]
            }
        }
        let shards = w.serverEndpoints.count
        shardRanges = (0..<shards).map { KeyRanges.range(shard: $0, of: shards, parameters: parameterCount) }
        let split = ValidationSplit.stratified(
            labels: dataset.labels, classes: config.data.classes,
            fraction: config.data.validationFraction, seed: config.training.seed)
        plan = EpochPlan(
            trainIndices: split.train, batchSize: config.training.batchSize, microBatch: config.training.microBatch,
            seed: config.training.seed)
        rng = CounterRNG(seed: config.training.seed)
        pushesSums = config.training.mode != .async && parameterCount <= WireCodec.maxInt64s
        stepSum = GradientSum(count: pushesSums ? parameterCount : 0)
        sumKey = nil
        self.dataset = dataset
        state = .ready
        logger.info("worker \(id) ready: \(dataset.count) training images, \(parameterCount) parameters")
        return [.sendControl(envelope(.ready(Ready(workerID: id))))]
    }

    /// True if a micro-batch can be computed now (its step's weights are here).
    public var hasWork: Bool {
        guard state == .ready, let ws = weightsStep else { return false }
        return queue.contains { $0.step == ws }
    }

    /// Computes one assigned micro-batch and returns its push.
    public func computeNext() -> [WorkerAction] {
        guard let ws = weightsStep, let i = queue.firstIndex(where: { $0.step == ws }),
            let plan, let dataset
        else { return [] }
        let job = queue.remove(at: i)
        let ranges = plan.microBatches(step: job.stepInEpoch)
        guard job.microBatch < ranges.count else {
            logger.warning("ignored assignment of micro-batch \(job.microBatch) (step has \(ranges.count))")
            return []
        }
        let r = ranges[job.microBatch]
        let start = clock()
        let loss: Double
        let correct: Int
        let gradient: UnsafeBufferPointer<Float>
        switch gradientSource {
        case .computed:
            guard let computer else { return [] }
            if cachedOrder?.epoch != job.epoch { cachedOrder = (job.epoch, plan.order(epoch: job.epoch)) }
            (loss, correct) = cachedOrder!.order.withUnsafeBufferPointer { order in
                weights.withUnsafeBufferPointer { w in
                    computer.compute(
                        samples: UnsafeBufferPointer(rebasing: order[r]), dataset: dataset, epoch: job.epoch, rng: rng,
                        parameters: w.baseAddress!)
                }
            }
            gradient = UnsafeBufferPointer(start: computer.workspace.gradients, count: computer.model.parameterCount)
        case .precomputed(let fixed):
            (loss, correct) = (fixed.lossPerSample * Double(r.count), 0)
            gradient = UnsafeBufferPointer(fixed.values)
        }
        computed += 1
        let seconds = Double(clock() &- start) / 1e9
        computeSeconds += seconds
        // Sums never span two Assignment messages: work reassigned from a dropped worker may
        // include micro-batches a shard already counted, and a sum is counted whole or not at all.
        let remaining = queue.reduce(0) { $0 + ($1.step == job.step && $1.batch == job.batch ? 1 : 0) }
        let key = SumKey(step: job.step, batch: job.batch)
        // Async mode, or the batch's last micro-batch with nothing summed: push the Float32
        // gradient itself (half the bytes of a fixed-point sum, on the step's critical path).
        // (Queued work runs in order, so a pending sum is always this batch's or a stale step's.)
        guard pushesSums, remaining > 0 || (sumKey == key && !stepParts.isEmpty) else {
            return shardRanges.enumerated().map { s, range in
                .sendData(
                    shard: s,
                    frames: WireCodec.encodeGradientPush(
                        jobID: jobID, sender: id, step: job.step,
                        GradientPush(
                            microBatch: UInt32(job.microBatch), samples: UInt32(r.count), loss: loss, correct: UInt32(correct),
                            computeSeconds: seconds, offset: UInt64(range.lowerBound), values: []),
                        values: UnsafeBufferPointer(rebasing: gradient[range])))
            }
        }
        // Earlier micro-batches go into one exact fixed-point sum, pushed while the last one computes.
        if sumKey != key {
            stepSum.reset()
            stepParts = []
            stepSeconds = 0
            sumKey = key
        }
        if stepSum.add(gradient, samples: r.count) {
            stepParts.append(
                GradientSumPush.Part(microBatch: UInt32(job.microBatch), samples: UInt32(r.count), loss: loss, correct: UInt32(correct)))
            stepSeconds += seconds
        } else {
            logger.error("micro-batch \(job.microBatch) of step \(job.step + 1) has a non-finite gradient; not pushed")
        }
        return remaining <= 1 ? flushSum() : []
    }

    struct SumKey: Equatable {
        var step: UInt64
        var batch: Int
    }

    /// The pending fixed-point sum as one `GradientSum` per shard (none if nothing is summed).
    func flushSum() -> [WorkerAction] {
        defer {
            sumKey = nil
            stepParts = []
        }
        guard let key = sumKey, !stepParts.isEmpty else { return [] }
        return stepSum.values.withUnsafeBufferPointer { sum in
            shardRanges.enumerated().map { s, range in
                .sendData(
                    shard: s,
                    frames: WireCodec.encodeGradientSum(
                        jobID: jobID, sender: id, step: key.step,
                        GradientSumPush(
                            parts: stepParts, computeSeconds: stepSeconds, offset: UInt64(range.lowerBound), values: []),
                        values: UnsafeBufferPointer(rebasing: sum[range])))
            }
        }
    }

    public func tick(now: UInt64) -> [WorkerAction] {
        var actions: [WorkerAction] = []
        if state == .joining, now &- lastHello > 2_000_000_000 {
            lastHello = now
            logger.info("no answer from the coordinator yet; saying hello again")
            actions.append(hello())
        }
        if state == .ready || state == .receivingData, let w = welcome, now &- lastHeartbeat >= UInt64(w.heartbeatMilliseconds) * 1_000_000
        {
            lastHeartbeat = now
            actions.append(.sendControl(envelope(.heartbeat(Heartbeat(workerID: id, computed: computed)))))
        }
        if state != .finished, Double(now &- lastHeard) / 1e9 > silenceDeadlineSeconds {
            state = .finished
            actions.append(.exit(code: 3, reason: "nothing heard from the coordinator for \(Int(silenceDeadlineSeconds)) s"))
        }
        return actions
    }
}
