// The messages of the Digits cluster protocol (docs/PROTOCOL.md). Each travels as one ZeroMQ
// multipart message: [header (40 bytes)] [body] [payload frames...]. No I/O here.

public enum MessageType: UInt16, Sendable, CaseIterable {
    case hello = 1
    case welcome = 2
    case dataChunk = 3
    case ready = 4
    case assignment = 5
    case weights = 6
    case gradientPush = 7
    case heartbeat = 8
    case shutdown = 9
    case reject = 10
    case shardInit = 11
    case beginStep = 12
    case stepDone = 13
    case gradientSum = 14
}

/// Shard s of K owns keys [floor(s·P/K), floor((s+1)·P/K)) of the flat parameter vector.
public enum KeyRanges {
    public static func range(shard s: Int, of k: Int, parameters p: Int) -> Range<Int> {
        (s * p / k)..<((s + 1) * p / k)
    }
}

/// Coordinator -> standalone server: the shard's key range and its starting state.
/// Payload: parameters, Adam first moment, second moment (empty frame for SGD) of the range.
public struct ShardInit: Equatable, Sendable {
    public var shard: UInt32
    public var shards: UInt32
    public var offset: UInt64
    public var optimizerStep: UInt64
    /// The optimizer config as JSON (opaque to the protocol).
    public var optimizer: [UInt8]
    public var parameters: [Float]
    public var first: [Float]
    public var second: [Float]
    public init(
        shard: UInt32, shards: UInt32, offset: UInt64, optimizerStep: UInt64, optimizer: [UInt8],
        parameters: [Float], first: [Float], second: [Float]
    ) {
        self.shard = shard
        self.shards = shards
        self.offset = offset
        self.optimizerStep = optimizerStep
        self.optimizer = optimizer
        self.parameters = parameters
        self.first = first
        self.second = second
    }
}

/// Coordinator -> standalone server: open step `step` (header); send its weights to `workers`.
public struct BeginStep: Equatable, Sendable {
    public var microBatches: UInt32
    public var learningRate: Float
    /// Return the optimizer moments with StepDone (the coordinator will checkpoint).
    public var wantState: Bool
    public var workers: [UInt32]
    public init(microBatches: UInt32, learningRate: Float, wantState: Bool, workers: [UInt32]) {
        self.microBatches = microBatches
        self.learningRate = learningRate
        self.wantState = wantState
        self.workers = workers
    }
}

/// Standalone server -> coordinator: step `step` (header) is applied on this shard.
/// Payload: the updated parameters of the range, then (if asked) the two moment arrays.
public struct StepDone: Equatable, Sendable {
    public var shard: UInt32
    public var loss: Double
    public var correct: UInt64
    public var samples: UInt64
    public var computeSeconds: Double
    public var parameters: [Float]
    public var first: [Float]?
    public var second: [Float]?
    public init(
        shard: UInt32, loss: Double, correct: UInt64, samples: UInt64, computeSeconds: Double, parameters: [Float],
        first: [Float]?, second: [Float]?
    ) {
        self.shard = shard
        self.loss = loss
        self.correct = correct
        self.samples = samples
        self.computeSeconds = computeSeconds
        self.parameters = parameters
        self.first = first
        self.second = second
    }
}

public enum Role: UInt8, Sendable, Equatable {
    case worker = 1
    case server = 2
}

/// Worker -> coordinator (and worker -> server, to announce its data connection).
public struct Hello: Equatable, Sendable {
    public var role: Role
    public var name: String
    public var host: String
    public var pid: UInt32
    /// Worker id already assigned (data connection), 0 on first contact.
    public var workerID: UInt32
    /// SHA-256 of the training set the worker could load itself ("" = none; ship it).
    public var localDataSHA256: String
    /// A server's data endpoint (where workers dial it); "" for workers.
    public var endpoint: String
    /// The sender's numerics fingerprint ("<kernel set>/<hash>"): peers whose fingerprints differ compute
    /// different bits, and the coordinator refuses them unless told to allow mixed numerics.
    public var numerics: String
    public init(
        role: Role, name: String, host: String, pid: UInt32, workerID: UInt32 = 0, localDataSHA256: String = "", endpoint: String = "",
        numerics: String = ""
    ) {
        self.role = role
        self.name = name
        self.host = host
        self.pid = pid
        self.workerID = workerID
        self.localDataSHA256 = localDataSHA256
        self.endpoint = endpoint
        self.numerics = numerics
    }
}

/// Coordinator -> worker: identity, job and config.
public struct Welcome: Equatable, Sendable {
    public var workerID: UInt32
    /// The training config as JSON (opaque to the protocol).
    public var config: [UInt8]
    /// Data endpoints of the parameter-server shards, in key-range order.
    public var serverEndpoints: [String]
    public var heartbeatMilliseconds: UInt32
    /// True if the coordinator will send the training set in DataChunks.
    public var shipsData: Bool
    /// SHA-256 of the training set (images then labels) the worker must end up with.
    public var dataSHA256: String
    public var trainCount: UInt32
    public var rows: UInt32
    public var cols: UInt32
    public init(
        workerID: UInt32, config: [UInt8], serverEndpoints: [String], heartbeatMilliseconds: UInt32, shipsData: Bool,
        dataSHA256: String, trainCount: UInt32, rows: UInt32, cols: UInt32
    ) {
        self.workerID = workerID
        self.config = config
        self.serverEndpoints = serverEndpoints
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.shipsData = shipsData
        self.dataSHA256 = dataSHA256
        self.trainCount = trainCount
        self.rows = rows
        self.cols = cols
    }
}

/// Coordinator -> worker: a piece of the training set. Payload: one frame of raw bytes.
public struct DataChunk: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case images = 1
        case labels = 2
    }
    public var kind: Kind
    public var offset: UInt64
    public var total: UInt64
    public var bytes: [UInt8]
    public init(kind: Kind, offset: UInt64, total: UInt64, bytes: [UInt8]) {
        self.kind = kind
        self.offset = offset
        self.total = total
        self.bytes = bytes
    }
}

/// Worker -> coordinator: data loaded and verified, model built; ready for assignments.
public struct Ready: Equatable, Sendable {
    public var workerID: UInt32
    public init(workerID: UInt32) { self.workerID = workerID }
}

/// Coordinator -> worker: compute these micro-batches of step `step` (header) in `epoch`.
public struct Assignment: Equatable, Sendable {
    public var epoch: UInt32
    public var stepInEpoch: UInt32
    public var microBatches: [UInt32]
    /// Membership view version this assignment belongs to.
    public var view: UInt32
    public init(epoch: UInt32, stepInEpoch: UInt32, microBatches: [UInt32], view: UInt32) {
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
        self.microBatches = microBatches
        self.view = view
    }
}

/// Server -> worker: the weights in force for step `step` (header) for keys [offset, offset+count).
public struct Weights: Equatable, Sendable {
    public var offset: UInt64
    public var values: [Float]
    public init(offset: UInt64, values: [Float]) {
        self.offset = offset
        self.values = values
    }
}

/// Worker -> server: one micro-batch's gradient (sum over its samples) for the server's key range.
public struct GradientPush: Equatable, Sendable {
    public var microBatch: UInt32
    public var samples: UInt32
    public var loss: Double
    public var correct: UInt32
    /// Seconds the worker spent computing this micro-batch (for the compute/communication split).
    public var computeSeconds: Double
    public var offset: UInt64
    public var values: [Float]
    public init(
        microBatch: UInt32, samples: UInt32, loss: Double, correct: UInt32, computeSeconds: Double = 0, offset: UInt64, values: [Float]
    ) {
        self.microBatch = microBatch
        self.samples = samples
        self.loss = loss
        self.correct = correct
        self.computeSeconds = computeSeconds
        self.offset = offset
        self.values = values
    }
}

/// Worker -> server (synchronous mode): the exact fixed-point sum (`FixedPoint`, Int64) of the
/// gradients of several micro-batches of one step, computed by one worker, with each micro-batch's
/// metrics. One push per worker per step instead of one per micro-batch: fewer messages, and the
/// server adds integers instead of rounding floats. The server counts all its micro-batches or none.
public struct GradientSumPush: Equatable, Sendable {
    public struct Part: Equatable, Sendable {
        public var microBatch: UInt32
        public var samples: UInt32
        /// Loss summed over the micro-batch's samples.
        public var loss: Double
        public var correct: UInt32
        public init(microBatch: UInt32, samples: UInt32, loss: Double, correct: UInt32) {
            self.microBatch = microBatch
            self.samples = samples
            self.loss = loss
            self.correct = correct
        }
    }
    public var parts: [Part]
    /// Seconds the worker spent computing these micro-batches.
    public var computeSeconds: Double
    public var offset: UInt64
    public var values: [Int64]
    public init(parts: [Part], computeSeconds: Double = 0, offset: UInt64, values: [Int64]) {
        self.parts = parts
        self.computeSeconds = computeSeconds
        self.offset = offset
        self.values = values
    }
    public var samples: Int { parts.reduce(0) { $0 + Int($1.samples) } }
}

public struct Heartbeat: Equatable, Sendable {
    public var workerID: UInt32
    /// Micro-batches computed so far (progress indicator).
    public var computed: UInt64
    public init(workerID: UInt32, computed: UInt64) {
        self.workerID = workerID
        self.computed = computed
    }
}

public struct Shutdown: Equatable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// A refusal with the reason, so a misconfigured peer learns why.
public struct Reject: Equatable, Sendable {
    /// A reason starting with this tells a worker it was dropped and must say Hello again.
    public static let rejoinPrefix = "rejoin: "
    /// A reason starting with this tells a worker or shard it cannot take part in this job (e.g. its
    /// numerics fingerprint differs): it must exit with the reason, not try again.
    public static let refusedPrefix = "refused: "
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

public enum Message: Equatable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case dataChunk(DataChunk)
    case ready(Ready)
    case assignment(Assignment)
    case weights(Weights)
    case gradientPush(GradientPush)
    case heartbeat(Heartbeat)
    case shutdown(Shutdown)
    case reject(Reject)
    case shardInit(ShardInit)
    case beginStep(BeginStep)
    case stepDone(StepDone)
    case gradientSum(GradientSumPush)

    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .welcome: return .welcome
        case .dataChunk: return .dataChunk
        case .ready: return .ready
        case .assignment: return .assignment
        case .weights: return .weights
        case .gradientPush: return .gradientPush
        case .heartbeat: return .heartbeat
        case .shutdown: return .shutdown
        case .reject: return .reject
        case .shardInit: return .shardInit
        case .beginStep: return .beginStep
        case .stepDone: return .stepDone
        case .gradientSum: return .gradientSum
        }
    }
}

/// A message with its header fields.
public struct Envelope: Equatable, Sendable {
    public var jobID: UInt64
    public var sender: UInt32
    public var step: UInt64
    public var message: Message
    public init(jobID: UInt64, sender: UInt32, step: UInt64, message: Message) {
        self.jobID = jobID
        self.sender = sender
        self.step = step
        self.message = message
    }
}
