// Checkpoints hold the whole training state (weights, optimizer moments, position in the plan,
// metrics history, early-stopping state, best weights), so resuming is the same function as
// never stopping. Stored as a SealedFile (checksummed, written atomically).
import Foundation
import NeuralNet

/// One line of metrics.jsonl.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var step: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var valLoss: Double?
    public var valAccuracy: Double?
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var learningRate: Double
    public var epochSeconds: Double
    public var elapsedSeconds: Double
    public var imagesPerSecond: Double
    /// The learning rate of every step of the epoch, in order (only when a schedule is set; else every
    /// step used `learningRate`).
    public var stepLearningRates: [Double]? = nil

    enum CodingKeys: String, CodingKey {
        case epoch, step
        case trainLoss = "train_loss"
        case trainAccuracy = "train_accuracy"
        case valLoss = "val_loss"
        case
            valAccuracy = "val_accuracy"
        case testLoss = "test_loss"
        case testAccuracy = "test_accuracy"
        case
            learningRate = "learning_rate"
        case epochSeconds = "epoch_seconds"
        case elapsedSeconds = "elapsed_seconds"
        case
            imagesPerSecond = "images_per_second"
        case stepLearningRates = "step_learning_rates"
    }
}

/// Where training stands, apart from the big arrays.
public struct TrainingProgress: Codable, Equatable, Sendable {
    /// Index of the epoch in progress (0-based); equals the number of completed epochs at an epoch boundary.
    public var epoch: Int = 0
    /// Steps completed in the current epoch.
    public var stepInEpoch: Int = 0
    /// Steps completed in total.
    public var globalStep: Int = 0
    /// Running sums of the epoch in progress.
    public var epochLossSum: Double = 0
    public var epochCorrect: Int = 0
    public var epochSamples: Int = 0
    public var epochComputeSeconds: Double = 0
    public var history: [EpochRecord] = []
    public var earlyStopping: EarlyStopping?
    public var stoppedEarly: Bool = false
    public var finished: Bool = false
    /// Wall seconds spent in earlier processes of this run (for resumed runs).
    public var elapsedSeconds: Double = 0
    public var trainSeconds: Double = 0
    public var trainImages: Int = 0
    public var secondsTo99: Double?
}

public struct CheckpointHeader: Codable, Sendable {
    public var formatVersion: Int = 1
    public var recipeHash: String
    public var config: TrainConfig
    public var progress: TrainingProgress
    public var optimizerStep: Int
    public var hasBest: Bool
}

public struct Checkpoint: Sendable {
    public static let magic = "DGTCKPT1"
    public var header: CheckpointHeader
    public var parameters: [Float]
    public var optimizer: OptimizerState
    /// Weights of the best epoch so far (for restore_best); empty if none.
    public var bestParameters: [Float]

    public init(header: CheckpointHeader, parameters: [Float], optimizer: OptimizerState, bestParameters: [Float]) {
        self.header = header
        self.parameters = parameters
        self.optimizer = optimizer
        self.bestParameters = bestParameters
    }

    public func encoded() throws -> [UInt8] {
        let json = try JSONEncoder().encode(header)
        return SealedFile.encode(magic: Self.magic, header: json, arrays: [parameters, optimizer.first, optimizer.second, bestParameters])
    }

    public func write(to path: String) throws {
        try SealedFile.writeAtomically(try encoded(), to: path)
    }

    public static func read(path: String) throws -> Checkpoint {
        try decode(try SealedFile.read(path: path), path: path)
    }

    /// Decodes the bytes of a checkpoint file; `path` is only used in error messages.
    /// - Throws: `FileFormatError` naming `path` when the bytes are not an intact, consistent checkpoint.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        let (json, arrays) = try SealedFile.decode(bytes, magic: magic, path: path)
        let header: CheckpointHeader
        do { header = try JSONDecoder().decode(CheckpointHeader.self, from: json) } catch {
            throw FileFormatError(path: path, message: "unreadable checkpoint header: \(error)")
        }
        guard header.formatVersion == 1 else {
            throw FileFormatError(path: path, message: "checkpoint format version \(header.formatVersion) is not supported (expected 1)")
        }
        guard arrays.count == 4 else {
            throw FileFormatError(
                path: path, message: "expected 4 arrays (weights, first moments, second moments, best weights), found \(arrays.count)")
        }
        // Every array but the weights is sized by them: Adam keeps two moments, SGD one (the
        // second is empty), and the best weights are empty until an epoch has been evaluated.
        let n = arrays[0].count
        let adam = header.config.optimizer.kind == .adam
        guard arrays[1].count == n, arrays[2].count == (adam ? n : 0), arrays[3].isEmpty || arrays[3].count == n else {
            throw FileFormatError(
                path: path,
                message:
                    """
                    inconsistent array sizes: expected \(n) first moments, \(adam ? n : 0) second moments \
                    (\(header.config.optimizer.kind)) and 0 or \(n) best weights for \(n) weights, found \(arrays[1].count), \
                    \(arrays[2].count) and \(arrays[3].count)
                    """
            )
        }
        return Checkpoint(
            header: header, parameters: arrays[0],
            optimizer: OptimizerState(step: header.optimizerStep, first: arrays[1], second: arrays[2]),
            bestParameters: arrays[3])
    }
}

/// The checkpoints directory of a run: `ckpt-<global step>.ckpt` files plus `best.ckpt`.
public struct CheckpointStore {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func path(step: Int) -> String { directory + "/" + String(format: "ckpt-%09d.ckpt", step) }
    public var bestPath: String { directory + "/best.ckpt" }

    /// Checkpoint files in step order.
    public func list() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("ckpt-") && $0.hasSuffix(".ckpt") }.sorted().map { directory + "/" + $0 }
    }

    /// Writes a checkpoint, then removes all but the newest `keepLast`.
    public func save(_ checkpoint: Checkpoint, keepLast: Int, best: Bool) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bytes = try checkpoint.encoded()
        try SealedFile.writeAtomically(bytes, to: path(step: checkpoint.header.progress.globalStep))
        if best { try SealedFile.writeAtomically(bytes, to: bestPath) }
        let all = list()
        for old in all.dropLast(keepLast) { try? FileManager.default.removeItem(atPath: old) }
    }

    /// The newest checkpoint that reads back intact; corrupt ones are reported, not fatal, as
    /// long as an older intact one exists.
    public func latest() throws -> (checkpoint: Checkpoint, path: String, skipped: [FileFormatError])? {
        var skipped: [FileFormatError] = []
        for path in list().reversed() {
            do { return (try Checkpoint.read(path: path), path, skipped) } catch let e as FileFormatError { skipped.append(e) }
        }
        if let first = skipped.first { throw first }
        return nil
    }
}
