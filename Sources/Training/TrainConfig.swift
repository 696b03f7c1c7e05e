// Training configuration: Config/train.toml (every key documented there), overridden by CLI flags.
// Loading is strict: an unknown section or key, or a value of the wrong type, is an error naming it.
import Foundation
import MNISTData
import NeuralNet
import TOMLKit

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct TrainConfig: Codable, Equatable, Sendable {
    public struct DataSettings: Codable, Equatable, Sendable {
        public var validationFraction: Double = 0.1
        public enum Normalization: String, ConfigChoice {
            /// Pixels / 255, in [0, 1].
            case unit
            /// (pixels / 255 - MNIST mean) / MNIST std.
            case standard
        }
        public var normalization: Normalization = .unit
        public var classes: Int = 10
    }
    public struct Schedule: Codable, Equatable, Sendable {
        public var epochs: Int = 15
        public var batchSize: Int = 128
        public var microBatch: Int = 16
        public var seed: UInt64 = 1
        /// Compute threads in this process (0 = one per core). Never changes the result.
        public var threads: Int = 0
        public enum Mode: String, ConfigChoice {
            /// Exact and deterministic (the default).
            case sync
            /// Cluster only: each micro-batch is applied on arrival; faster under stragglers, NOT reproducible.
            case async
        }
        public var mode: Mode = .sync
        /// Async mode: a gradient computed on weights more than this many updates old is redone.
        public var staleness: Int = 4
        /// Models with batch norm: training samples (the first ones of the split, in index order) whose
        /// statistics become the inference statistics before every evaluation.
        public var batchNormSamples: Int = 4096
    }
    public struct EarlyStopping: Codable, Equatable, Sendable {
        public var enabled: Bool = true
        public var monitor: String = "val_loss"
        public var patience: Int = 3
        public var minDelta: Double = 0
        public var restoreBest: Bool = true
    }
    public struct Checkpoints: Codable, Equatable, Sendable {
        public var everySteps: Int = 0
        public var keepLast: Int = 3
    }
    public struct Evaluation: Codable, Equatable, Sendable {
        public var testEveryEpoch: Bool = true
        public var batch: Int = 64
    }

    /// Preset name or path of a model spec file (TOML or JSON).
    public var model: String = "keras-example"
    /// The resolved architecture (from `model`).
    public var modelSpec: ModelSpec = .kerasExample
    public var data = DataSettings()
    public var training = Schedule()
    public var optimizer = OptimizerConfig()
    public var labelSmoothing: Float = 0
    /// Learning-rate schedule over the run's steps (optimizer.learning_rate is the base/peak rate).
    public var schedule = LRSchedule()
    /// On-the-fly augmentation of training samples.
    public var augment = AugmentSettings()
    /// "mnist" (the MNIST locator chain) or "fashion-mnist" (/usr/share/datasets/fashion-mnist); --data DIR overrides.
    public var dataset: String = "mnist"
    public var earlyStopping = EarlyStopping()
    public var checkpoints = Checkpoints()
    public var evaluation = Evaluation()

    public init() {}

    public var normalization: Normalization {
        data.normalization == .standard ? .mnistStandard : .unit
    }

    /// Checks ranges; errors name the key and the value found.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws { if !ok { throw ConfigError(message()) } }
        try check(training.epochs >= 1, "training.epochs must be at least 1, found \(training.epochs)")
        try check(training.batchSize >= 1, "training.batch_size must be positive, found \(training.batchSize)")
        try check(training.microBatch >= 1, "training.micro_batch must be positive, found \(training.microBatch)")
        try check(
            training.microBatch <= training.batchSize,
            "training.micro_batch (\(training.microBatch)) must not exceed training.batch_size (\(training.batchSize))")
        try check(training.threads >= 0, "training.threads must be 0 (all cores) or positive, found \(training.threads)")
        try check(training.staleness >= 0, "training.staleness must be >= 0, found \(training.staleness)")
        try check(
            data.validationFraction >= 0 && data.validationFraction < 1,
            "data.validation_fraction must be in [0, 1), found \(data.validationFraction)")
        try check(data.classes >= 2 && data.classes <= 256, "data.classes must be in 2...256, found \(data.classes)")
        try check(
            optimizer.learningRate > 0 && optimizer.learningRate.isFinite,
            "optimizer.learning_rate must be positive, found \(optimizer.learningRate)")
        try check(
            optimizer.beta1 >= 0 && optimizer.beta1 < 1 && optimizer.beta2 >= 0 && optimizer.beta2 < 1,
            "optimizer.beta1 and beta2 must be in [0, 1)")
        try check(optimizer.epsilon > 0, "optimizer.epsilon must be positive, found \(optimizer.epsilon)")
        try check(optimizer.weightDecay >= 0, "optimizer.weight_decay must be >= 0, found \(optimizer.weightDecay)")
        try check(labelSmoothing >= 0 && labelSmoothing < 1, "optimizer.label_smoothing must be in [0, 1), found \(labelSmoothing)")
        try check(
            ["val_loss", "val_accuracy"].contains(earlyStopping.monitor),
            "early_stopping.monitor must be 'val_loss' or 'val_accuracy', found '\(earlyStopping.monitor)'")
        try check(earlyStopping.patience >= 0, "early_stopping.patience must be >= 0, found \(earlyStopping.patience)")
        try check(
            !earlyStopping.enabled || data.validationFraction > 0, "early_stopping needs a validation split (data.validation_fraction > 0)")
        try check(checkpoints.everySteps >= 0, "checkpoint.every_steps must be >= 0, found \(checkpoints.everySteps)")
        try check(checkpoints.keepLast >= 1, "checkpoint.keep_last must be at least 1, found \(checkpoints.keepLast)")
        try check(evaluation.batch >= 1, "evaluation.batch must be positive, found \(evaluation.batch)")
        try check(training.batchNormSamples >= 1, "training.bn_statistics_samples must be positive, found \(training.batchNormSamples)")
        try check(
            DatasetCatalog.names.contains(dataset),
            "data.dataset must be one of \(DatasetCatalog.names.joined(separator: ", ")), found '\(dataset)'")
        try schedule.validate()
        if let problem = augment.problems().first { throw ConfigError(problem) }
        try check(
            modelSpec.classes == data.classes,
            "model '\(modelSpec.name)' has \(modelSpec.classes) classes but data.classes is \(data.classes)")
    }

    /// Hash of everything that determines the trained weights (not threads, epochs or checkpoint
    /// cadence), so a checkpoint can only be resumed under the same recipe. Patience is included:
    /// resuming under another early-stopping rule would not be "the same function as never stopping".
    public var recipeHash: String {
        struct Recipe: Codable {
            var model: ModelSpec, data: DataSettings, batchSize: Int, microBatch: Int, seed: UInt64
            var optimizer: OptimizerConfig, labelSmoothing: Float, earlyStopping: EarlyStopping, evaluationBatch: Int
            var mode: Schedule.Mode, staleness: Int
            // Absent (nil) at their defaults, so older recipes keep their hash.
            var schedule: LRSchedule?, augment: AugmentSettings?, batchNormSamples: Int?
        }
        // The evaluation batch fixes how validation losses are grouped, which early stopping reads.
        let recipe = Recipe(
            model: modelSpec, data: data, batchSize: training.batchSize, microBatch: training.microBatch,
            seed: training.seed, optimizer: optimizer, labelSmoothing: labelSmoothing,
            earlyStopping: earlyStopping, evaluationBatch: evaluation.batch,
            mode: training.mode, staleness: training.mode == .async ? training.staleness : 0,
            schedule: schedule.isDefault ? nil : schedule, augment: augment.isActive ? augment : nil,
            batchNormSamples: modelSpec.layers.contains { $0.type == "batchnorm" } ? training.batchNormSamples : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(recipe)) ?? Data()
        return SHA256Hex.of([UInt8](bytes))
    }
}

// MARK: - TOML loading

extension TrainConfig {
    /// Resolves a model name: a preset, or a TOML/JSON spec file.
    public static func loadModelSpec(_ nameOrPath: String) throws -> ModelSpec {
        if let preset = ModelSpec.presets[nameOrPath] { return preset }
        guard FileManager.default.fileExists(atPath: nameOrPath) else {
            throw ConfigError(
                """
                model '\(nameOrPath)' is neither a preset (\(ModelSpec.presets.keys.sorted().joined(separator: ", "))) nor an \
                existing spec file
                """
            )
        }
        guard let data = FileManager.default.contents(atPath: nameOrPath), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(nameOrPath): cannot read the model spec file")
        }
        do {
            if nameOrPath.hasSuffix(".json") {
                return try JSONDecoder().decode(ModelSpec.self, from: data)
            }
            let table = try TOMLTable(string: text)
            return try modelSpec(from: table, path: nameOrPath)
        } catch let error as ConfigError {
            throw error
        } catch let error as TOMLParseError {
            throw ConfigError("\(nameOrPath): \(error.description) (\(error.source))")
        } catch {
            throw ConfigError("\(nameOrPath): not a valid model spec: \(error)")
        }
    }

    static func modelSpec(from table: TOMLTable, path: String) throws -> ModelSpec {
        var file = TOMLSection(table: table, name: "", path: path)
        var spec = try file.decode(over: ModelSpec(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, layers: []))
        guard let layers = try file.tables("layers") else { throw ConfigError("\(path): a model spec needs [[layers]] entries") }
        spec.layers = try layers.map { table in
            var table = table
            guard let type: String = try table.value("type") else { throw ConfigError("\(path): \(table.name) needs a type") }
            let layer = try table.decode(over: LayerSpec(type: type))
            try table.finish()
            return layer
        }
        try file.finish()
        return spec
    }

    /// Reads a config file over the defaults: a TOML file (unknown sections or keys are errors; a
    /// cluster file stands for the training config it names), or a resolved config (`.json`, as
    /// `writeResolved` and the run directory's config.json hold it: every key, the model spec included).
    public static func load(path: String) throws -> TrainConfig {
        if path.hasSuffix(".json") { return try loadResolved(path: path) }
        var file = try TOMLSection.file(path, what: "config")
        if ClusterConfig.isClusterFile(file.table) {
            // A cluster file: its training recipe is the file it names (or the defaults).
            return try ClusterConfig.load(path: path).trainConfig.map { try load(path: $0) } ?? TrainConfig()
        }
        var config = TrainConfig()
        let known = ["model", "data", "training", "optimizer", "schedule", "augment", "early_stopping", "checkpoint", "evaluation"]
        for key in file.table.keys where !known.contains(key) {
            throw ConfigError("\(path): unknown section or key '\(key)' (known sections: \(known.joined(separator: ", ")))")
        }
        /// Section `name` decoded over `config[keyPath: field]`; `extra` reads the keys that belong elsewhere.
        func read<T: Codable>(
            _ name: String, _ field: WritableKeyPath<TrainConfig, T>, renamed: [String: String] = [:],
            extra: (inout TOMLSection) throws -> Void = { _ in }
        ) throws {
            guard var section = try file.section(name) else { return }
            try extra(&section)
            config[keyPath: field] = try section.decode(over: config[keyPath: field], renamed: renamed)
            try section.finish()
        }
        if var model = try file.section("model") {
            if let preset: String = try model.value("preset") { config.model = preset }
            if let f: String = try model.value("file") {  // relative to the config file
                config.model = f.hasPrefix("/") ? f : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(f).path
            }
            try model.finish()
        }
        try read("data", \.data) { config.dataset = try $0.value("dataset") ?? config.dataset }
        try read("training", \.training, renamed: ["batchNormSamples": "bn_statistics_samples"])
        try read("optimizer", \.optimizer) { config.labelSmoothing = try $0.value("label_smoothing") ?? config.labelSmoothing }
        try read("schedule", \.schedule)
        try read("augment", \.augment)
        try read("early_stopping", \.earlyStopping)
        try read("checkpoint", \.checkpoints)
        try read("evaluation", \.evaluation)
        config.modelSpec = try loadModelSpec(config.model).adapted(toClasses: config.data.classes)
        return config
    }

    /// A resolved config as JSON (the Codable form, as in the run directory's config.json), for
    /// handing the exact recipe to another process: `load(path:)` of the written file gives `self`.
    public func resolvedJSON() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return [UInt8](try encoder.encode(self))
    }

    /// Writes `resolvedJSON()` atomically to `path` (a `.json` name, so `load(path:)` reads it back).
    public func writeResolved(to path: String) throws {
        guard path.hasSuffix(".json") else { throw ConfigError("\(path): a resolved config is written as .json") }
        try SealedFile.writeAtomically(try resolvedJSON(), to: path)
    }

    static func loadResolved(path: String) throws -> TrainConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError("\(path): cannot read the config file") }
        do {
            return try JSONDecoder().decode(TrainConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigError(
                "\(path): not a resolved config: no '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch {
            throw ConfigError("\(path): not a resolved config: \(error)")
        }
    }
}
