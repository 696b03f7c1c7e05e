// What the coordinator's live status page shows: one immutable, Codable value built by the poll
// loop (the only owner of the coordinator's state) and read by the HTTP handlers. JSON keys are
// snake_case, as in summary.json and metrics.jsonl.
import Foundation

public struct StatusSnapshot: Codable, Equatable, Sendable {
    public var job: Job
    public var progress: Progress
    public var workers: [WorkerRow]
    /// One point per finished epoch (from the Trainer's metrics history).
    public var history: [EpochPoint]
    /// The running training loss and accuracy of the epoch in progress, sampled as steps complete
    /// (at most `StatusTracker.maxStepPoints`, thinned evenly when longer).
    public var steps: [StepPoint]
    public var checkpoints: [CheckpointRow]
    /// Recent warnings and errors of the coordinator, oldest first.
    public var events: [Event]
    /// Messages refused, by reason (coordinator and embedded parameter server together).
    public var rejected: [String: Int]
    public var pushLatency: LatencySummary

    public init(
        job: Job, progress: Progress, workers: [WorkerRow], history: [EpochPoint], steps: [StepPoint], checkpoints: [CheckpointRow],
        events: [Event], rejected: [String: Int], pushLatency: LatencySummary
    ) {
        self.job = job
        self.progress = progress
        self.workers = workers
        self.history = history
        self.steps = steps
        self.checkpoints = checkpoints
        self.events = events
        self.rejected = rejected
        self.pushLatency = pushLatency
    }

    public struct Job: Codable, Equatable, Sendable {
        /// waiting (for workers), training, finished, failed or stopped.
        public var state: String
        /// Why the job failed or stopped.
        public var message: String?
        public var model: String
        public var parameters: Int
        public var mode: String
        public var seed: UInt64
        public var batchSize: Int
        public var microBatch: Int
        public var workersExpected: Int
        public var servers: Int
        public var runDirectory: String?
        public var controlEndpoint: String?
        /// Unix time (seconds) of the snapshot, and seconds since the coordinator started.
        public var time: Double
        public var elapsedSeconds: Double
        /// The coordinator's numerics fingerprint; whether peers with another are admitted, and which were.
        public var numerics: String?
        public var allowMixedNumerics: Bool?
        public var mixedNumericsPeers: [String]?

        public init(
            state: String, message: String? = nil, model: String, parameters: Int, mode: String, seed: UInt64, batchSize: Int,
            microBatch: Int, workersExpected: Int, servers: Int, runDirectory: String? = nil, controlEndpoint: String? = nil, time: Double,
            elapsedSeconds: Double, numerics: String? = nil, allowMixedNumerics: Bool? = nil, mixedNumericsPeers: [String]? = nil
        ) {
            self.state = state
            self.message = message
            self.model = model
            self.parameters = parameters
            self.mode = mode
            self.seed = seed
            self.batchSize = batchSize
            self.microBatch = microBatch
            self.workersExpected = workersExpected
            self.servers = servers
            self.runDirectory = runDirectory
            self.controlEndpoint = controlEndpoint
            self.time = time
            self.elapsedSeconds = elapsedSeconds
            self.numerics = numerics
            self.allowMixedNumerics = allowMixedNumerics
            self.mixedNumericsPeers = mixedNumericsPeers
        }

        enum CodingKeys: String, CodingKey {
            case state, message, model, parameters, mode, seed
            case batchSize = "batch_size"
            case microBatch = "micro_batch"
            case
                workersExpected = "workers_expected"
            case servers
            case runDirectory = "run_directory"
            case
                controlEndpoint = "control_endpoint"
            case time
            case elapsedSeconds = "elapsed_seconds"
            case numerics
            case
                allowMixedNumerics = "allow_mixed_numerics"
            case mixedNumericsPeers = "mixed_numerics_peers"
        }
    }

    public struct Progress: Codable, Equatable, Sendable {
        /// The epoch in progress, 1-based (equals `epochs` once training is over).
        public var epoch: Int
        public var epochs: Int
        /// Steps done in the epoch in progress, of `stepsPerEpoch`.
        public var stepInEpoch: Int
        public var stepsPerEpoch: Int
        /// Steps done in the run, of `totalSteps` (an upper bound: early stopping may end sooner).
        public var globalStep: Int
        public var totalSteps: Int
        public var fraction: Double
        /// Seconds left at the recent step rate; nil until there is a rate.
        public var etaSeconds: Double?
        /// Training images per second over the last few seconds of wall time.
        public var imagesPerSecond: Double
        public var stepsPerSecond: Double
        public var trainImages: Int
        /// Running averages of the epoch in progress.
        public var epochLoss: Double?
        public var epochAccuracy: Double?
        public var bestEpoch: Int?
        public var stoppedEarly: Bool

        public init(
            epoch: Int, epochs: Int, stepInEpoch: Int, stepsPerEpoch: Int, globalStep: Int, totalSteps: Int, fraction: Double,
            etaSeconds: Double? = nil, imagesPerSecond: Double, stepsPerSecond: Double, trainImages: Int, epochLoss: Double? = nil,
            epochAccuracy: Double? = nil, bestEpoch: Int? = nil, stoppedEarly: Bool
        ) {
            self.epoch = epoch
            self.epochs = epochs
            self.stepInEpoch = stepInEpoch
            self.stepsPerEpoch = stepsPerEpoch
            self.globalStep = globalStep
            self.totalSteps = totalSteps
            self.fraction = fraction
            self.etaSeconds = etaSeconds
            self.imagesPerSecond = imagesPerSecond
            self.stepsPerSecond = stepsPerSecond
            self.trainImages = trainImages
            self.epochLoss = epochLoss
            self.epochAccuracy = epochAccuracy
            self.bestEpoch = bestEpoch
            self.stoppedEarly = stoppedEarly
        }

        enum CodingKeys: String, CodingKey {
            case epoch, epochs
            case stepInEpoch = "step_in_epoch"
            case stepsPerEpoch = "steps_per_epoch"
            case globalStep = "global_step"
            case
                totalSteps = "total_steps"
            case fraction
            case etaSeconds = "eta_seconds"
            case imagesPerSecond = "images_per_second"
            case
                stepsPerSecond = "steps_per_second"
            case trainImages = "train_images"
            case epochLoss = "epoch_loss"
            case
                epochAccuracy = "epoch_accuracy"
            case bestEpoch = "best_epoch"
            case stoppedEarly = "stopped_early"
        }
    }

    public struct WorkerRow: Codable, Equatable, Sendable {
        public var id: UInt32
        public var name: String
        public var host: String
        /// joining (welcomed, not ready yet), ready, or dropped.
        public var state: String
        /// Seconds since the coordinator last heard from the worker.
        public var lastHeartbeatSeconds: Double
        /// Micro-batch ids of the open step assigned to the worker.
        public var assigned: [Int]
        /// Micro-batches the worker reports it has computed (heartbeats).
        public var computed: UInt64
        /// Gradient pushes accepted from it by the embedded parameter server.
        public var pushes: UInt64
        public var imagesPerSecond: Double
        /// Times a worker of this name was dropped, and its refused pushes.
        public var drops: Int
        public var rejected: Int

        public init(
            id: UInt32, name: String, host: String, state: String, lastHeartbeatSeconds: Double, assigned: [Int], computed: UInt64,
            pushes: UInt64, imagesPerSecond: Double, drops: Int, rejected: Int
        ) {
            self.id = id
            self.name = name
            self.host = host
            self.state = state
            self.lastHeartbeatSeconds = lastHeartbeatSeconds
            self.assigned = assigned
            self.computed = computed
            self.pushes = pushes
            self.imagesPerSecond = imagesPerSecond
            self.drops = drops
            self.rejected = rejected
        }

        enum CodingKeys: String, CodingKey {
            case id, name, host, state
            case lastHeartbeatSeconds = "last_heartbeat_seconds"
            case assigned, computed, pushes
            case
                imagesPerSecond = "images_per_second"
            case drops, rejected
        }
    }

    public struct EpochPoint: Codable, Equatable, Sendable {
        public var epoch: Int
        public var step: Int
        public var trainLoss: Double
        public var trainAccuracy: Double
        public var valLoss: Double?
        public var valAccuracy: Double?
        public var testAccuracy: Double?
        public var imagesPerSecond: Double
        public var elapsedSeconds: Double

        public init(
            epoch: Int, step: Int, trainLoss: Double, trainAccuracy: Double, valLoss: Double? = nil, valAccuracy: Double? = nil,
            testAccuracy: Double? = nil, imagesPerSecond: Double, elapsedSeconds: Double
        ) {
            self.epoch = epoch
            self.step = step
            self.trainLoss = trainLoss
            self.trainAccuracy = trainAccuracy
            self.valLoss = valLoss
            self.valAccuracy = valAccuracy
            self.testAccuracy = testAccuracy
            self.imagesPerSecond = imagesPerSecond
            self.elapsedSeconds = elapsedSeconds
        }

        enum CodingKeys: String, CodingKey {
            case epoch, step
            case trainLoss = "train_loss"
            case trainAccuracy = "train_accuracy"
            case valLoss = "val_loss"
            case
                valAccuracy = "val_accuracy"
            case testAccuracy = "test_accuracy"
            case imagesPerSecond = "images_per_second"
            case
                elapsedSeconds = "elapsed_seconds"
        }
    }

    public struct StepPoint: Codable, Equatable, Sendable {
        public var step: Int
        public var loss: Double
        public var accuracy: Double

        public init(step: Int, loss: Double, accuracy: Double) {
            self.step = step
            self.loss = loss
            self.accuracy = accuracy
        }
    }

    public struct CheckpointRow: Codable, Equatable, Sendable {
        public var name: String
        /// Global step the checkpoint was taken after (nil for best.ckpt).
        public var step: Int?
        public var bytes: Int
        /// Unix time of the file's last modification.
        public var modified: Double

        public init(name: String, step: Int? = nil, bytes: Int, modified: Double) {
            self.name = name
            self.step = step
            self.bytes = bytes
            self.modified = modified
        }
    }

    public struct Event: Codable, Equatable, Sendable {
        public var time: Double
        public var level: String
        public var message: String

        public init(time: Double, level: String, message: String) {
            self.time = time
            self.level = level
            self.message = message
        }
    }

    public struct LatencySummary: Codable, Equatable, Sendable {
        /// Pushes measured in the whole run, and statistics of the most recent ones (seconds).
        public var count: Int
        public var recent: Int
        public var mean: Double?
        public var p50: Double?
        public var p95: Double?
        public var max: Double?

        public init(count: Int = 0, recent: [Double] = []) {
            self.count = count
            self.recent = recent.count
            guard !recent.isEmpty else { return }
            let sorted = recent.sorted()
            mean = sorted.reduce(0, +) / Double(sorted.count)
            p50 = Self.quantile(sorted, 0.5)
            p95 = Self.quantile(sorted, 0.95)
            max = sorted.last
        }

        /// Nearest-rank quantile of sorted values.
        static func quantile(_ sorted: [Double], _ q: Double) -> Double {
            sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
        }
    }

    enum CodingKeys: String, CodingKey {
        case job, progress, workers, history, steps, checkpoints, events, rejected
        case pushLatency = "push_latency"
    }

    /// The snapshot as JSON (sorted keys, so equal snapshots give equal bytes).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }
}
