// summary.json: the machine-readable result of a run (keys are a public interface).
import Foundation

public struct PerClassSummary: Codable, Equatable, Sendable {
    public var label: Int
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var support: Int

    enum CodingKeys: String, CodingKey {
        case label = "class"
        case precision, recall, f1, support
    }

    public init(label: Int, precision: Double, recall: Double, f1: Double, support: Int) {
        self.label = label
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
    }

    /// One row per class of a confusion matrix's metrics.
    public static func rows(_ metrics: ClassificationMetrics) -> [PerClassSummary] {
        metrics.perClass.enumerated().map {
            PerClassSummary(
                label: $0.offset, precision: $0.element.precision, recall: $0.element.recall, f1: $0.element.f1, support: $0.element.support
            )
        }
    }
}

public struct RunSummary: Codable, Equatable, Sendable {
    public var model: String
    public var parameters: Int
    public var testAccuracy: Double
    public var testLoss: Double
    public var perClass: [PerClassSummary]
    public var macroAvg: ClassMetrics
    public var weightedAvg: ClassMetrics
    public var confusionMatrix: [[Int]]
    public var epochsRun: Int
    public var bestEpoch: Int?
    public var stoppedEarly: Bool
    public var wallSeconds: Double
    public var trainImagesPerSecond: Double
    public var secondsTo99: Double?
    public var weightsSHA256: String
    public var seed: UInt64
    public var batchSize: Int
    public var microBatch: Int
    public var threads: Int
    public var workers: Int
    public var recipeHash: String
    public var blasCore: String
    public var dataDirectory: String
    public var resumedFrom: String?
    /// The numerics fingerprint of the process that trained (see NumericsFingerprint).
    public var numericsFingerprint: String?
    /// Whether the coordinator admitted peers with another fingerprint, and which it admitted.
    public var allowMixedNumerics: Bool?
    public var mixedNumericsPeers: [String]?

    enum CodingKeys: String, CodingKey {
        case model, parameters
        case testAccuracy = "test_accuracy"
        case testLoss = "test_loss"
        case perClass = "per_class"
        case
            macroAvg = "macro_avg"
        case weightedAvg = "weighted_avg"
        case confusionMatrix = "confusion_matrix"
        case
            epochsRun = "epochs_run"
        case bestEpoch = "best_epoch"
        case stoppedEarly = "stopped_early"
        case
            wallSeconds = "wall_seconds"
        case trainImagesPerSecond = "train_images_per_second"
        case
            secondsTo99 = "seconds_to_99"
        case weightsSHA256 = "weights_sha256"
        case seed
        case batchSize = "batch_size"
        case
            microBatch = "micro_batch"
        case threads, workers
        case recipeHash = "recipe_hash"
        case blasCore = "blas_core"
        case
            dataDirectory = "data_dir"
        case resumedFrom = "resumed_from"
        case numericsFingerprint = "numerics_fingerprint"
        case
            allowMixedNumerics = "allow_mixed_numerics"
        case mixedNumericsPeers = "mixed_numerics_peers"
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try encoder.encode(self)
        data.append(0x0a)
        return data
    }

    /// Keys must be present even when null (scripts rely on them).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(testAccuracy, forKey: .testAccuracy)
        try c.encode(testLoss, forKey: .testLoss)
        try c.encode(perClass, forKey: .perClass)
        try c.encode(macroAvg, forKey: .macroAvg)
        try c.encode(weightedAvg, forKey: .weightedAvg)
        try c.encode(confusionMatrix, forKey: .confusionMatrix)
        try c.encode(epochsRun, forKey: .epochsRun)
        try c.encode(bestEpoch, forKey: .bestEpoch)
        try c.encode(stoppedEarly, forKey: .stoppedEarly)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(trainImagesPerSecond, forKey: .trainImagesPerSecond)
        try c.encode(secondsTo99, forKey: .secondsTo99)
        try c.encode(weightsSHA256, forKey: .weightsSHA256)
        try c.encode(seed, forKey: .seed)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(microBatch, forKey: .microBatch)
        try c.encode(threads, forKey: .threads)
        try c.encode(workers, forKey: .workers)
        try c.encode(recipeHash, forKey: .recipeHash)
        try c.encode(blasCore, forKey: .blasCore)
        try c.encode(dataDirectory, forKey: .dataDirectory)
        try c.encode(resumedFrom, forKey: .resumedFrom)
        try c.encode(numericsFingerprint, forKey: .numericsFingerprint)
        try c.encode(allowMixedNumerics, forKey: .allowMixedNumerics)
        try c.encode(mixedNumericsPeers, forKey: .mixedNumericsPeers)
    }
}
