// Training flags shared by `train`, `coordinator` and `cluster` (the same recipe everywhere).
import ArgumentParser
import Foundation
import Logging
import Reports
import Training

extension TrainConfig.Schedule.Mode: ExpressibleByArgument {}
extension TrainConfig.DataSettings.Normalization: ExpressibleByArgument {}

struct TrainOptions: ParsableArguments {
    @Option(
        help:
            """
            Training config: TOML (or a cluster file naming one), or a resolved .json config (a run's config.json). Default: \
            Config/train.toml if present, else built-in defaults.
            """
    )
    var config: String?
    @Option(help: "Run directory for model.digits, checkpoints/, metrics.jsonl, summary.json. Default: runs/<model>-<time>.")
    var out: String?
    @Option(parsing: .unconditional, help: "Number of epochs.") var epochs: Int?
    @Option(parsing: .unconditional, help: "Batch size (samples per optimizer step).") var batch: Int?
    @Option(
        name: .customLong("micro-batch"), parsing: .unconditional,
        help: "Micro-batch size: the fixed unit of compute whose gradients are summed exactly.") var microBatch: Int?
    @Option(parsing: .unconditional, help: "Learning rate.") var lr: Float?
    @Option(parsing: .unconditional, help: "Random seed (weights, shuffles, dropout).") var seed: Int?
    @Option(help: "Model: keras-example, pytorch-example, or a spec file (TOML/JSON).") var model: String?
    @Option(parsing: .unconditional, help: "Compute threads in this process (0 = one per core). Never changes the result.") var threads:
        Int?
    @Option(parsing: .unconditional, help: "Early-stopping patience in epochs.") var patience: Int?
    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: "Also checkpoint every N steps (0 = epoch ends only).")
    var checkpointEvery: Int?
    @Option(help: "sync (exact, reproducible; default) or async (cluster only: apply each micro-batch on arrival; NOT reproducible).")
    var mode: TrainConfig.Schedule.Mode?
    @Option(parsing: .unconditional, help: "Async mode: maximum staleness, in updates, of the weights a gradient was computed on.")
    var staleness: Int?
    @Option(
        name: .customLong("tensorboard-every"), parsing: .unconditional,
        help: "Write TensorBoard scalars to RUN/tensorboard every N steps and every epoch (0 = no event files; default 20).")
    var tensorboardEvery: Int?
    @Option(parsing: .unconditional, help: "Number of classes (labels must be below it); a preset's last layer is resized to match.")
    var classes: Int?
    @Option(parsing: .unconditional, help: "Set the rate of every dropout layer of the model.") var dropout: Float?
    @Flag(
        inversion: .prefixedNo,
        help: "Turn augmentation on (the config's [augment] amounts, or the standard digit set if it has none) or off.")
    var augment: Bool?
    @Flag(name: .customLong("no-early-stopping"), help: "Train all epochs.") var noEarlyStopping = false
    @Flag(help: "Continue the run in --out from its newest intact checkpoint.") var resume = false
    @Flag(
        name: .customLong("auto-resume"),
        help: "Continue the run in --out if it has a checkpoint, else start it (for services that restart).") var autoResume = false

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, found \(epochs)") }
        if let batch, batch < 1 { throw ValidationError("--batch must be a positive number of samples, found \(batch)") }
        if let microBatch, microBatch < 1 { throw ValidationError("--micro-batch must be positive, found \(microBatch)") }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive, found \(lr)") }
        if let seed, seed < 0 { throw ValidationError("--seed must be >= 0, found \(seed)") }
        if let threads, threads < 0 { throw ValidationError("--threads must be >= 0, found \(threads)") }
        if let patience, patience < 0 { throw ValidationError("--patience must be >= 0, found \(patience)") }
        if let dropout, !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1), found \(dropout)") }
        if let classes, classes < 2 || classes > 256 { throw ValidationError("--classes must be in 2...256, found \(classes)") }
        if let checkpointEvery, checkpointEvery < 0 { throw ValidationError("--checkpoint-every must be >= 0, found \(checkpointEvery)") }
        if let tensorboardEvery, tensorboardEvery < 0 {
            throw ValidationError("--tensorboard-every must be >= 0, found \(tensorboardEvery)")
        }
        if (resume || autoResume) && out == nil {
            throw ValidationError("--resume and --auto-resume need --out naming the run to continue")
        }
    }

    /// The config file, then flags on top.
    func resolvedConfig() throws -> TrainConfig {
        var c: TrainConfig
        if let path = config {
            c = try TrainConfig.load(path: path)
        } else if FileManager.default.fileExists(atPath: "Config/train.toml") {
            c = try TrainConfig.load(path: "Config/train.toml")
        } else {
            c = TrainConfig()
        }
        if let model {
            c.model = model
            c.modelSpec = try TrainConfig.loadModelSpec(model)
        }
        if let epochs { c.training.epochs = epochs }
        if let batch { c.training.batchSize = batch }
        if let microBatch { c.training.microBatch = microBatch }
        if let lr { c.optimizer.learningRate = lr }
        if let seed { c.training.seed = UInt64(seed) }
        if let threads { c.training.threads = threads }
        if let patience { c.earlyStopping.patience = patience }
        if let checkpointEvery { c.checkpoints.everySteps = checkpointEvery }
        if let mode { c.training.mode = mode }
        if let staleness { c.training.staleness = staleness }
        if noEarlyStopping { c.earlyStopping.enabled = false }
        if let classes { c.data.classes = classes }
        if let dropout {
            guard c.modelSpec.layers.contains(where: { $0.type == "dropout" }) else {
                throw CLIError("--dropout: model '\(c.modelSpec.name)' has no dropout layer")
            }
            c.modelSpec = c.modelSpec.withDropout(dropout)
        }
        if let augment {
            c.augment.enabled = augment
            if augment && !c.augment.isActive { c.augment = .standardDigits }
        }
        c.modelSpec = c.modelSpec.adapted(toClasses: c.data.classes)
        try c.validate()
        return c
    }

    /// Where a launcher writes the resolved config its children read.
    static func resolvedConfigPath(in run: RunDirectory) -> String { run.path + "/config.resolved.json" }

    /// Writes `config` (from `resolvedConfig()`) to `path` and returns the arguments that hand a child
    /// process the same run: `--config path` and the options that are not part of a TrainConfig.
    func childArguments(writing config: TrainConfig, to path: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try config.writeResolved(to: path)
        return childArguments(resolvedConfig: path)
    }

    /// `--config path` (a resolved config) and the options that are not part of a TrainConfig.
    func childArguments(resolvedConfig path: String) -> [String] {
        var a = ["--config", path]
        if let out { a += ["--out", out] }
        if let tensorboardEvery { a += ["--tensorboard-every", "\(tensorboardEvery)"] }
        if resume { a.append("--resume") }
        if autoResume { a.append("--auto-resume") }
        return a
    }

    /// The run directory, refusing to overwrite an existing run unless resuming.
    func runDirectory(for config: TrainConfig) throws -> RunDirectory {
        let run = RunDirectory(out ?? "runs/\(config.modelSpec.name)-\(Self.timestamp())")
        if !resume && !autoResume && (!run.checkpoints.list().isEmpty || FileManager.default.fileExists(atPath: run.summary)) {
            throw CLIError("\(run.path) already holds a run; pass --resume to continue it, or choose another --out")
        }
        return run
    }

    /// Builds the trainer (and resumes it when asked).
    func makeTrainer(config: TrainConfig, run: RunDirectory, data: DataOptions, logger: Logger) throws -> Trainer {
        let (location, train, test) = try data.load(classes: config.data.classes, defaultDataset: config.dataset)
        logger.info("data: \(location.directory) (\(location.source.rawValue)); \(train.count) training and \(test.count) test images")
        let trainer = try Trainer(
            config: config, data: TrainingData(train: train, test: test, directory: location.directory, config: config),
            logger: logger)
        if resume || (autoResume && !run.checkpoints.list().isEmpty) {
            guard let (checkpoint, path, skipped) = try run.checkpoints.latest() else {
                throw CLIError("\(run.checkpoints.directory): no checkpoint to resume from")
            }
            for s in skipped { logger.warning("skipping unreadable checkpoint: \(s)") }
            try trainer.resume(from: checkpoint, path: path)
            logger.info("resuming from \(path) (epoch \(checkpoint.header.progress.epoch), step \(checkpoint.header.progress.globalStep))")
        }
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        try config.writeResolved(to: run.config)
        let every = tensorboardEvery ?? 20
        if every > 0 {
            do {
                trainer.observers.append(try TensorBoardLogger(directory: run.path + "/tensorboard", stepInterval: every, logger: logger))
            } catch {
                logger.warning("no TensorBoard event files: \(error)")
            }
        }
        return trainer
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date())
    }
}

func printSummary(_ summary: RunSummary, run: RunDirectory) {
    print(
        String(
            format: "test accuracy %.4f  loss %.4f  epochs %d%@  %.1f s  %.0f img/s",
            summary.testAccuracy, summary.testLoss, summary.epochsRun, summary.stoppedEarly ? " (stopped early)" : "",
            summary.wallSeconds, summary.trainImagesPerSecond))
    print("weights_sha256 \(summary.weightsSHA256)")
    print("wrote \(run.model), \(run.summary), \(run.metrics)")
}
