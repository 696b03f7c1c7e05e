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
        /// "unit" ([0, 1]) or "standard" (MNIST mean/std).
        public var normalization: String = "unit"
        public var classes: Int = 10
    }
    public struct Schedule: Codable, Equatable, Sendable {
        public var epochs: Int = 15
        public var batchSize: Int = 128
        public var microBatch: Int = 16
        public var seed: UInt64 = 1
        /// Compute threads in this process (0 = one per core). Never changes the result.
        public var threads: Int = 0
        /// "sync" (default: exact, deterministic) or "async" (cluster only: each micro-batch is
        /// applied on arrival; faster under stragglers, NOT reproducible).
        public var mode: String = "sync"
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
        data.normalization == "standard" ? .mnistStandard : .unit
    }

    /// Checks ranges; errors name the key and the value found.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws { if !ok { throw ConfigError(message()) } }
        try check(training.epochs >= 1, "training.epochs must be at least 1, found \(training.epochs)")
        try check(training.batchSize >= 1, "training.batch_size must be positive, found \(training.batchSize)")
        try check(training.microBatch >= 1, "training.micro_batch must be positive, found \(training.microBatch)")
        try check(training.microBatch <= training.batchSize, "training.micro_batch (\(training.microBatch)) must not exceed training.batch_size (\(training.batchSize))")
        try check(training.threads >= 0, "training.threads must be 0 (all cores) or positive, found \(training.threads)")
        try check(["sync", "async"].contains(training.mode), "training.mode must be 'sync' or 'async', found '\(training.mode)'")
        try check(training.staleness >= 0, "training.staleness must be >= 0, found \(training.staleness)")
        try check(data.validationFraction >= 0 && data.validationFraction < 1, "data.validation_fraction must be in [0, 1), found \(data.validationFraction)")
        try check(["unit", "standard"].contains(data.normalization), "data.normalization must be 'unit' or 'standard', found '\(data.normalization)'")
        try check(data.classes >= 2 && data.classes <= 256, "data.classes must be in 2...256, found \(data.classes)")
        try check(optimizer.learningRate > 0 && optimizer.learningRate.isFinite, "optimizer.learning_rate must be positive, found \(optimizer.learningRate)")
        try check(optimizer.beta1 >= 0 && optimizer.beta1 < 1 && optimizer.beta2 >= 0 && optimizer.beta2 < 1, "optimizer.beta1 and beta2 must be in [0, 1)")
        try check(optimizer.epsilon > 0, "optimizer.epsilon must be positive, found \(optimizer.epsilon)")
        try check(optimizer.weightDecay >= 0, "optimizer.weight_decay must be >= 0, found \(optimizer.weightDecay)")
        try check(labelSmoothing >= 0 && labelSmoothing < 1, "optimizer.label_smoothing must be in [0, 1), found \(labelSmoothing)")
        try check(["val_loss", "val_accuracy"].contains(earlyStopping.monitor), "early_stopping.monitor must be 'val_loss' or 'val_accuracy', found '\(earlyStopping.monitor)'")
        try check(earlyStopping.patience >= 0, "early_stopping.patience must be >= 0, found \(earlyStopping.patience)")
        try check(!earlyStopping.enabled || data.validationFraction > 0, "early_stopping needs a validation split (data.validation_fraction > 0)")
        try check(checkpoints.everySteps >= 0, "checkpoint.every_steps must be >= 0, found \(checkpoints.everySteps)")
        try check(checkpoints.keepLast >= 1, "checkpoint.keep_last must be at least 1, found \(checkpoints.keepLast)")
        try check(evaluation.batch >= 1, "evaluation.batch must be positive, found \(evaluation.batch)")
        try check(training.batchNormSamples >= 1, "training.bn_statistics_samples must be positive, found \(training.batchNormSamples)")
        try check(DatasetCatalog.names.contains(dataset), "data.dataset must be one of \(DatasetCatalog.names.joined(separator: ", ")), found '\(dataset)'")
        try schedule.validate()
        if let problem = augment.problems().first { throw ConfigError(problem) }
        try check(modelSpec.classes == data.classes, "model '\(modelSpec.name)' has \(modelSpec.classes) classes but data.classes is \(data.classes)")
    }

    /// Hash of everything that determines the trained weights (not threads, epochs or checkpoint
    /// cadence), so a checkpoint can only be resumed under the same recipe. Patience is included:
    /// resuming under another early-stopping rule would not be "the same function as never stopping".
    public var recipeHash: String {
        struct Recipe: Codable {
            var model: ModelSpec, data: DataSettings, batchSize: Int, microBatch: Int, seed: UInt64
            var optimizer: OptimizerConfig, labelSmoothing: Float, earlyStopping: EarlyStopping, evaluationBatch: Int
            var mode: String, staleness: Int
            // Absent (nil) at their defaults, so older recipes keep their hash.
            var schedule: LRSchedule?, augment: AugmentSettings?, batchNormSamples: Int?
        }
        // The evaluation batch fixes how validation losses are grouped, which early stopping reads.
        let recipe = Recipe(model: modelSpec, data: data, batchSize: training.batchSize, microBatch: training.microBatch,
                            seed: training.seed, optimizer: optimizer, labelSmoothing: labelSmoothing,
                            earlyStopping: earlyStopping, evaluationBatch: evaluation.batch,
                            mode: training.mode, staleness: training.mode == "async" ? training.staleness : 0,
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
            throw ConfigError("model '\(nameOrPath)' is neither a preset (\(ModelSpec.presets.keys.sorted().joined(separator: ", "))) nor an existing spec file")
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
        var reader = TOMLReader(table: table, section: "", path: path)
        let name = try reader.string("name") ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let input = try reader.intArray("input") ?? [28, 28, 1]
        let classes = try reader.int("classes") ?? 10
        guard let layers = table["layers"]?.array else { throw ConfigError("\(path): a model spec needs [[layers]] entries") }
        var specs: [LayerSpec] = []
        for (i, value) in layers.enumerated() {
            guard let t = value.table else { throw ConfigError("\(path): layers[\(i)] must be a table") }
            var r = TOMLReader(table: t, section: "layers[\(i)]", path: path)
            guard let type = try r.string("type") else { throw ConfigError("\(path): layers[\(i)] needs a type") }
            let spec = LayerSpec(type: type, filters: try r.int("filters"), kernel: try r.int("kernel"), stride: try r.int("stride"),
                                 padding: try r.string("padding"), units: try r.int("units"), rate: try r.double("rate").map(Float.init),
                                 size: try r.int("size"), activation: try r.string("activation"), initializer: try r.string("initializer"))
            try r.finish()
            specs.append(spec)
        }
        reader.consumed.insert("layers")
        try reader.finish()
        return ModelSpec(name: name, input: input, classes: classes, layers: specs)
    }

    /// Reads a config file over the defaults. Unknown sections or keys are errors.
    public static func load(path: String) throws -> TrainConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read the config file (missing or not UTF-8)")
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError("\(path): \(e.description) (\(e.source))")
        }
        if ClusterConfig.isClusterFile(table) {
            // A cluster file: its training recipe is the file it names (or the defaults).
            return try ClusterConfig.load(path: path).trainConfig.map { try load(path: $0) } ?? TrainConfig()
        }
        var config = TrainConfig()
        let known = ["model", "data", "training", "optimizer", "schedule", "augment", "early_stopping", "checkpoint", "evaluation"]
        for key in table.keys where !known.contains(key) {
            throw ConfigError("\(path): unknown section or key '\(key)' (known sections: \(known.joined(separator: ", ")))")
        }
        func section(_ name: String) throws -> TOMLReader? {
            guard let v = table[name] else { return nil }
            guard let t = v.table else { throw ConfigError("\(path): '\(name)' must be a section") }
            return TOMLReader(table: t, section: name, path: path)
        }
        if var r = try section("model") {
            if let p = try r.string("preset") { config.model = p }
            if let f = try r.string("file") {
                let base = URL(fileURLWithPath: path).deletingLastPathComponent()
                config.model = f.hasPrefix("/") ? f : base.appendingPathComponent(f).path
            }
            try r.finish()
        }
        if var r = try section("data") {
            if let v = try r.double("validation_fraction") { config.data.validationFraction = v }
            if let v = try r.string("normalization") { config.data.normalization = v }
            if let v = try r.int("classes") { config.data.classes = v }
            if let v = try r.string("dataset") { config.dataset = v }
            try r.finish()
        }
        if var r = try section("training") {
            if let v = try r.int("epochs") { config.training.epochs = v }
            if let v = try r.int("batch_size") { config.training.batchSize = v }
            if let v = try r.int("micro_batch") { config.training.microBatch = v }
            if let v = try r.int("seed") {
                guard v >= 0 else { throw ConfigError("\(path): training.seed must be >= 0, found \(v)") }
                config.training.seed = UInt64(v)
            }
            if let v = try r.int("threads") { config.training.threads = v }
            if let v = try r.string("mode") { config.training.mode = v }
            if let v = try r.int("staleness") { config.training.staleness = v }
            if let v = try r.int("bn_statistics_samples") { config.training.batchNormSamples = v }
            try r.finish()
        }
        if var r = try section("optimizer") {
            if let v = try r.string("kind") {
                guard let k = OptimizerConfig.Kind(rawValue: v) else { throw ConfigError("\(path): optimizer.kind must be 'adam' or 'sgd', found '\(v)'") }
                config.optimizer.kind = k
            }
            if let v = try r.double("learning_rate") { config.optimizer.learningRate = Float(v) }
            if let v = try r.double("beta1") { config.optimizer.beta1 = Float(v) }
            if let v = try r.double("beta2") { config.optimizer.beta2 = Float(v) }
            if let v = try r.double("epsilon") { config.optimizer.epsilon = Float(v) }
            if let v = try r.double("momentum") { config.optimizer.momentum = Float(v) }
            if let v = try r.double("weight_decay") { config.optimizer.weightDecay = Float(v) }
            if let v = try r.double("label_smoothing") { config.labelSmoothing = Float(v) }
            try r.finish()
        }
        if var r = try section("schedule") {
            if let v = try r.string("kind") {
                guard let k = LRSchedule.Kind(rawValue: v) else {
                    throw ConfigError("\(path): schedule.kind must be one of \(LRSchedule.Kind.allCases.map(\.rawValue).joined(separator: ", ")), found '\(v)'")
                }
                config.schedule.kind = k
            }
            if let v = try r.double("warmup_epochs") { config.schedule.warmupEpochs = v }
            if let v = try r.int("step_every_epochs") { config.schedule.stepEveryEpochs = v }
            if let v = try r.double("step_gamma") { config.schedule.stepGamma = v }
            if let v = try r.double("min_fraction") { config.schedule.minFraction = v }
            if let v = try r.double("peak_at") { config.schedule.peakAt = v }
            if let v = try r.double("start_fraction") { config.schedule.startFraction = v }
            try r.finish()
        }
        if var r = try section("augment") {
            if let v = try r.bool("enabled") { config.augment.enabled = v }
            if let v = try r.double("rotation_degrees") { config.augment.rotationDegrees = v }
            if let v = try r.double("scale") { config.augment.scale = v }
            if let v = try r.double("shift_pixels") { config.augment.shiftPixels = v }
            if let v = try r.double("shear_degrees") { config.augment.shearDegrees = v }
            if let v = try r.double("elastic_alpha") { config.augment.elasticAlpha = v }
            if let v = try r.double("elastic_sigma") { config.augment.elasticSigma = v }
            if let v = try r.bool("horizontal_flip") { config.augment.horizontalFlip = v }
            try r.finish()
        }
        if var r = try section("early_stopping") {
            if let v = try r.bool("enabled") { config.earlyStopping.enabled = v }
            if let v = try r.string("monitor") { config.earlyStopping.monitor = v }
            if let v = try r.int("patience") { config.earlyStopping.patience = v }
            if let v = try r.double("min_delta") { config.earlyStopping.minDelta = v }
            if let v = try r.bool("restore_best") { config.earlyStopping.restoreBest = v }
            try r.finish()
        }
        if var r = try section("checkpoint") {
            if let v = try r.int("every_steps") { config.checkpoints.everySteps = v }
            if let v = try r.int("keep_last") { config.checkpoints.keepLast = v }
            try r.finish()
        }
        if var r = try section("evaluation") {
            if let v = try r.bool("test_every_epoch") { config.evaluation.testEveryEpoch = v }
            if let v = try r.int("batch") { config.evaluation.batch = v }
            try r.finish()
        }
        config.modelSpec = try loadModelSpec(config.model).adapted(toClasses: config.data.classes)
        return config
    }
}

/// Typed, strict access to one TOML table: remembers which keys were read; `finish` rejects the rest.
struct TOMLReader {
    let table: TOMLTable
    let section: String
    let path: String
    var consumed: Set<String> = []

    init(table: TOMLTable, section: String, path: String) {
        self.table = table
        self.section = section
        self.path = path
    }

    func name(_ key: String) -> String { section.isEmpty ? key : "\(section).\(key)" }

    func wrongType(_ key: String, _ expected: String) -> ConfigError {
        ConfigError("\(path): \(name(key)) must be \(expected), found \(table[key]?.type.description ?? "nothing")")
    }

    mutating func string(_ key: String) throws -> String? {
        consumed.insert(key)
        guard let v = table[key] else { return nil }
        guard let s = v.string else { throw wrongType(key, "a string") }
        return s
    }

    mutating func int(_ key: String) throws -> Int? {
        consumed.insert(key)
        guard let v = table[key] else { return nil }
        guard let i = v.int else { throw wrongType(key, "an integer") }
        return i
    }

    mutating func double(_ key: String) throws -> Double? {
        consumed.insert(key)
        guard let v = table[key] else { return nil }
        if let d = v.double { return d }
        if let i = v.int { return Double(i) }
        throw wrongType(key, "a number")
    }

    mutating func bool(_ key: String) throws -> Bool? {
        consumed.insert(key)
        guard let v = table[key] else { return nil }
        guard let b = v.bool else { throw wrongType(key, "true or false") }
        return b
    }

    mutating func intArray(_ key: String) throws -> [Int]? {
        consumed.insert(key)
        guard let v = table[key] else { return nil }
        guard let a = v.array else { throw wrongType(key, "an array of integers") }
        var out: [Int] = []
        for e in a {
            guard let i = e.int else { throw wrongType(key, "an array of integers") }
            out.append(i)
        }
        return out
    }

    func finish() throws {
        for key in table.keys where !consumed.contains(key) {
            throw ConfigError("\(path): unknown key '\(name(key))'")
        }
    }
}
