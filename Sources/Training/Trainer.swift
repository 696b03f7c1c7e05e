// The single-process trainer: the epoch plan, exact step gradients, the optimizer, validation,
// early stopping, checkpoints and the run's output files. The cluster computes the same
// function with the micro-batches spread over workers.
import Foundation
import Logging
import MNISTData
import NeuralNet
import TensorKit

public struct TrainingData: Sendable {
    public var train: Dataset
    public var test: Dataset
    public var directory: String
    public var trainIndices: [Int]
    public var validationIndices: [Int]

    public init(train: Dataset, test: Dataset, directory: String, config: TrainConfig) {
        self.train = train
        self.test = test
        self.directory = directory
        let split = ValidationSplit.stratified(
            labels: train.labels, classes: config.data.classes,
            fraction: config.data.validationFraction, seed: config.training.seed)
        trainIndices = split.train
        validationIndices = split.validation
    }
}

/// Files of a run directory.
public struct RunDirectory: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }
    public var model: String { path + "/model.digits" }
    public var summary: String { path + "/summary.json" }
    public var metrics: String { path + "/metrics.jsonl" }
    public var config: String { path + "/config.json" }
    public var checkpoints: CheckpointStore { CheckpointStore(directory: path + "/checkpoints") }
}

public struct ResumeError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

public final class Trainer {
    public let config: TrainConfig
    public let model: Sequential
    public let data: TrainingData
    public let plan: EpochPlan
    public let threads: Int
    let logger: Logger
    let rng: CounterRNG
    public private(set) var parameters: [Float]
    var bestParameters: [Float] = []
    public private(set) var optimizer: Optimizer
    public private(set) var progress = TrainingProgress()
    var resumedFrom: String?
    /// Called after every step with (global step); lets tests and tools observe or interrupt.
    public var onStep: ((Int) throws -> Void)?
    /// Told about every step and epoch (TensorBoard event files, status pages).
    public var observers: [any TrainingObserver] = []

    public init(config: TrainConfig, data: TrainingData, logger: Logger) throws {
        try config.validate()
        self.config = config
        self.model = try Sequential(spec: config.modelSpec)
        self.data = data
        self.logger = logger
        rng = CounterRNG(seed: config.training.seed)
        plan = EpochPlan(
            trainIndices: data.trainIndices, batchSize: config.training.batchSize,
            microBatch: config.training.microBatch, seed: config.training.seed)
        threads = config.training.threads > 0 ? config.training.threads : ProcessInfo.processInfo.activeProcessorCount
        parameters = model.initialParameters(seed: config.training.seed)
        optimizer = Optimizer(config: config.optimizer, parameterCount: model.parameterCount)
        if config.earlyStopping.enabled {
            progress.earlyStopping = EarlyStopping(
                monitor: config.earlyStopping.monitor, patience: config.earlyStopping.patience,
                minDelta: config.earlyStopping.minDelta)
        }
        guard data.trainIndices.count >= 1 else { throw ConfigError("no training samples left after the validation split") }
    }

    /// Continues from a checkpoint, which must come from the same recipe.
    public func resume(from checkpoint: Checkpoint, path: String) throws {
        guard checkpoint.header.recipeHash == config.recipeHash else {
            throw ResumeError(
                message:
                    """
                    \(path): checkpoint was written by a different recipe (model, data, batch, seed or optimizer differ: recipe \
                    \(checkpoint.header.recipeHash.prefix(12)) vs \(config.recipeHash.prefix(12))); use a new --out directory
                    """
            )
        }
        guard checkpoint.parameters.count == model.parameterCount else {
            throw ResumeError(
                message: "\(path): checkpoint has \(checkpoint.parameters.count) weights, the model needs \(model.parameterCount)")
        }
        parameters = checkpoint.parameters
        optimizer = Optimizer(config: config.optimizer, state: checkpoint.optimizer)
        bestParameters = checkpoint.bestParameters
        progress = checkpoint.header.progress
        resumedFrom = path
        if progress.finished && progress.epoch < config.training.epochs && !progress.stoppedEarly {
            progress.finished = false
        }
    }

    func checkpoint() -> Checkpoint {
        Checkpoint(
            header: CheckpointHeader(
                recipeHash: config.recipeHash, config: config, progress: progress,
                optimizerStep: optimizer.state.step, hasBest: !bestParameters.isEmpty),
            parameters: parameters, optimizer: optimizer.state, bestParameters: bestParameters)
    }

    /// One step of the plan: what to compute next.
    public struct PlannedStep {
        public let epoch: Int
        public let stepInEpoch: Int
        public let globalStep: Int
        /// The epoch's sample order (dataset indices).
        public let order: [Int]
        /// Position ranges into `order`, one per micro-batch.
        public let microBatches: [Range<Int>]
        public var samples: Int { microBatches.reduce(0) { $0 + $1.count } }
    }

    var cachedOrder: (epoch: Int, order: [Int])?
    let bar = ProgressBar()
    public private(set) var runDirectory: RunDirectory?

    /// The next step to compute, or nil when training is over (epochs done or stopped early).
    public func nextStep() -> PlannedStep? {
        guard !progress.finished, progress.epoch < config.training.epochs else { return nil }
        let epoch = progress.epoch
        if cachedOrder?.epoch != epoch { cachedOrder = (epoch, plan.order(epoch: epoch)) }
        return PlannedStep(
            epoch: epoch, stepInEpoch: progress.stepInEpoch, globalStep: progress.globalStep,
            order: cachedOrder!.order, microBatches: plan.microBatches(step: progress.stepInEpoch))
    }

    /// Creates the run directory and logs the plan. Call before the first step.
    public func begin(in run: RunDirectory, workers: Int? = nil) throws {
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        self.runDirectory = run
        let who = workers.map { "\($0) worker(s)" } ?? "\(threads) thread(s)"
        logger.info(
            """
            training \(model.spec.name) (\(model.parameterCount) parameters) on \(plan.samplesPerEpoch) images, validating on \
            \(data.validationIndices.count); batch \(config.training.batchSize) = micro-batches of \(config.training.microBatch); \
            \(who); seed \(config.training.seed)
            """
        )
    }

    /// Applies a completed step: `meanGradient` is the exact mean over the step's samples;
    /// `loss` and `correct` are summed over its micro-batches in micro-batch order. Runs the
    /// epoch-end work (validation, early stopping, checkpoint, metrics) when the epoch is over.
    public func completeStep(meanGradient: UnsafeBufferPointer<Float>, loss: Double, correct: Int, samples: Int, seconds: Double) throws {
        let lr = learningRate(step: progress.globalStep)
        parameters.withUnsafeMutableBufferPointer { p in
            optimizer.apply(gradient: meanGradient, to: p, learningRate: lr)
        }
        try recordStep(loss: loss, correct: correct, samples: samples, seconds: seconds)
    }

    /// Records a step whose update was applied elsewhere (parameter-server shards): the new
    /// weights, and the optimizer moments when `needsOptimizerState` asked for them.
    public func completeStep(
        updatedParameters: [Float], optimizerState: OptimizerState?, loss: Double, correct: Int, samples: Int,
        seconds: Double
    ) throws {
        precondition(updatedParameters.count == parameters.count)
        parameters = updatedParameters
        var state = optimizer.state
        if let optimizerState { state = optimizerState } else { state.step += 1 }
        optimizer = Optimizer(config: config.optimizer, state: state)
        try recordStep(loss: loss, correct: correct, samples: samples, seconds: seconds)
    }

    /// The learning rate of global step `step` (0-based) under the configured schedule.
    public func learningRate(step: Int) -> Float {
        config.schedule.rate(
            base: config.optimizer.learningRate, step: step, stepsPerEpoch: plan.stepsPerEpoch,
            totalSteps: plan.stepsPerEpoch * config.training.epochs)
    }

    /// Recomputes the batch-norm inference statistics of `weights` (no-op without batch norm) from the
    /// first `training.bn_statistics_samples` training samples, in micro-batches of the training size.
    func recalibrateBatchNorm(_ weights: inout [Float]) {
        guard !model.batchNormLayers.isEmpty else { return }
        let m = config.training.microBatch
        let samples = Array(data.trainIndices.prefix(config.training.batchNormSamples))
        let batches = (samples.count + m - 1) / m
        let ws = Workspace(model: model, capacity: m)
        let size = data.train.imageSize
        let norm = config.normalization
        model.batchNormStatistics(parameters: &weights, batches: batches, workspace: ws) { k, ws in
            let chunk = samples[(k * m)..<min((k + 1) * m, samples.count)]
            data.train.images.withUnsafeBufferPointer { images in
                for (s, i) in chunk.enumerated() {
                    norm.apply(images.baseAddress! + i * size, to: ws.input + s * size, count: size)
                }
            }
            return chunk.count
        }
    }

    /// True if completing the next step writes a checkpoint (so remote shards must return their
    /// optimizer moments with it).
    public var needsOptimizerState: Bool {
        progress.stepInEpoch + 1 == plan.stepsPerEpoch
            || (config.checkpoints.everySteps > 0 && (progress.globalStep + 1) % config.checkpoints.everySteps == 0)
    }

    func recordStep(loss: Double, correct: Int, samples: Int, seconds: Double) throws {
        guard let run = runDirectory else { preconditionFailure("begin(in:) must be called first") }
        let steps = plan.stepsPerEpoch
        progress.stepInEpoch += 1
        progress.globalStep += 1
        progress.epochLossSum += loss
        progress.epochCorrect += correct
        progress.epochSamples += samples
        progress.epochComputeSeconds += seconds
        progress.trainSeconds += seconds
        progress.trainImages += samples
        bar.lastStepSeconds = bar.lastStepSeconds == 0 ? seconds : 0.9 * bar.lastStepSeconds + 0.1 * seconds
        bar.update(
            epoch: progress.epoch + 1, epochs: config.training.epochs, step: progress.stepInEpoch, steps: steps,
            imagesPerSecond: Double(progress.epochSamples) / max(progress.epochComputeSeconds, 1e-9),
            loss: progress.epochLossSum / Double(max(progress.epochSamples, 1)),
            accuracy: Double(progress.epochCorrect) / Double(max(progress.epochSamples, 1)))
        if config.checkpoints.everySteps > 0, progress.globalStep % config.checkpoints.everySteps == 0, progress.stepInEpoch < steps {
            progress.elapsedSeconds = elapsed()
            try run.checkpoints.save(checkpoint(), keepLast: config.checkpoints.keepLast, best: false)
        }
        let stepRecord = StepRecord(
            epoch: progress.epoch + 1, globalStep: progress.globalStep, lossSum: loss, correct: correct,
            samples: samples, seconds: seconds, learningRate: Double(config.optimizer.learningRate))
        for o in observers { o.trainingCompleted(step: stepRecord) }
        if progress.stepInEpoch == steps {
            bar.finishLine()
            try finishEpoch(store: run.checkpoints, run: run, elapsed: elapsed)
        }
        try onStep?(progress.globalStep)
    }

    /// Wall time of earlier processes of this run plus this process's, from its start.
    lazy var priorElapsed = progress.elapsedSeconds
    func elapsed() -> Double { priorElapsed + Stopwatch.sinceProcessStart }

    /// Trains to the end (epochs or early stop) with local threads, writing checkpoints,
    /// metrics.jsonl, model.digits and summary.json into `run`.
    @discardableResult
    public func run(in run: RunDirectory) throws -> RunSummary {
        try begin(in: run)
        let runner = StepRunner(
            model: model, microBatch: config.training.microBatch, batchSize: config.training.batchSize,
            threads: threads, normalization: config.normalization, labelSmoothing: config.labelSmoothing,
            augmenter: config.augmenter(rows: data.train.rows, cols: data.train.cols))
        while let step = nextStep() {
            let start = Stopwatch.now()
            let (loss, correct, samples) = try runner.run(
                order: step.order, microBatches: step.microBatches, dataset: data.train,
                epoch: step.epoch, step: step.stepInEpoch, rng: rng, parameters: parameters)
            try runner.meanGradient.withUnsafeBufferPointer {
                try completeStep(meanGradient: $0, loss: loss, correct: correct, samples: samples, seconds: Stopwatch.seconds(since: start))
            }
        }
        return try finish(workers: 1)
    }

    /// Final test evaluation and the run's output files.
    /// `allowMixedNumerics` and `mixedNumericsPeers`: what the coordinator allowed and admitted (summary.json).
    public func finish(workers: Int, allowMixedNumerics: Bool = false, mixedNumericsPeers: [String] = []) throws -> RunSummary {
        guard let run = runDirectory else { preconditionFailure("begin(in:) must be called first") }
        // Final weights: the best epoch's if early stopping fired with restore_best.
        var final = parameters
        if progress.stoppedEarly, config.earlyStopping.restoreBest, !bestParameters.isEmpty { final = bestParameters }
        let test = Evaluator.evaluate(
            model: model, parameters: final, dataset: data.test, normalization: config.normalization,
            batch: config.evaluation.batch, threads: threads
        ).metrics
        let hash = SHA256Hex.of(floats: final)
        progress.elapsedSeconds = elapsed()
        var summary = RunSummary(
            model: model.spec.name, parameters: model.parameterCount, testAccuracy: test.accuracy, testLoss: test.meanLoss,
            perClass: PerClassSummary.rows(test),
            macroAvg: test.macro, weightedAvg: test.weighted, confusionMatrix: test.confusion,
            epochsRun: progress.history.count, bestEpoch: progress.earlyStopping.map { $0.bestEpoch },
            stoppedEarly: progress.stoppedEarly, wallSeconds: progress.elapsedSeconds,
            trainImagesPerSecond: Double(progress.trainImages) / max(progress.trainSeconds, 1e-9),
            secondsTo99: progress.secondsTo99, weightsSHA256: hash, seed: config.training.seed,
            batchSize: config.training.batchSize, microBatch: config.training.microBatch, threads: threads, workers: workers,
            recipeHash: config.recipeHash, blasCore: BLAS.coreName, dataDirectory: data.directory, resumedFrom: resumedFrom)
        summary.numericsFingerprint = NumericsFingerprint.current.description
        summary.allowMixedNumerics = allowMixedNumerics
        summary.mixedNumericsPeers = mixedNumericsPeers
        let modelFile = try ModelFile(
            spec: model.spec, normalization: config.normalization, weights: final,
            metadata: [
                "test_accuracy": String(format: "%.4f", test.accuracy), "epochs_run": "\(progress.history.count)",
                "seed": "\(config.training.seed)", "recipe_hash": config.recipeHash
            ])
        try modelFile.write(to: run.model)
        try SealedFile.writeAtomically([UInt8](try summary.encoded()), to: run.summary)
        logger.info(
            "test accuracy \(String(format: "%.4f", test.accuracy)), loss \(String(format: "%.4f", test.meanLoss)); weights_sha256 \(hash)")
        return summary
    }

    func finishEpoch(store: CheckpointStore, run: RunDirectory, elapsed: () -> Double) throws {
        let epoch = progress.epoch
        var record = EpochRecord(
            epoch: epoch + 1, step: progress.globalStep,
            trainLoss: progress.epochLossSum / Double(max(progress.epochSamples, 1)),
            trainAccuracy: Double(progress.epochCorrect) / Double(max(progress.epochSamples, 1)),
            learningRate: Double(learningRate(step: progress.globalStep - 1)), epochSeconds: progress.epochComputeSeconds,
            elapsedSeconds: 0, imagesPerSecond: Double(progress.epochSamples) / max(progress.epochComputeSeconds, 1e-9))
        if !config.schedule.isDefault {
            let first = progress.globalStep - plan.stepsPerEpoch
            record.stepLearningRates = (first..<progress.globalStep).map { Double(learningRate(step: $0)) }
        }
        recalibrateBatchNorm(&parameters)
        if !data.validationIndices.isEmpty {
            let v = Evaluator.evaluate(
                model: model, parameters: parameters, dataset: data.train, indices: data.validationIndices,
                normalization: config.normalization, batch: config.evaluation.batch, threads: threads
            ).metrics
            record.valLoss = v.meanLoss
            record.valAccuracy = v.accuracy
        }
        if config.evaluation.testEveryEpoch {
            let t = Evaluator.evaluate(
                model: model, parameters: parameters, dataset: data.test, normalization: config.normalization,
                batch: config.evaluation.batch, threads: threads
            ).metrics
            record.testLoss = t.meanLoss
            record.testAccuracy = t.accuracy
        }
        record.elapsedSeconds = elapsed()
        if progress.secondsTo99 == nil, let acc = record.testAccuracy, acc >= 0.99 { progress.secondsTo99 = record.elapsedSeconds }
        progress.history.append(record)

        var isBest = false
        if var stopper = progress.earlyStopping {
            let value = config.earlyStopping.monitor == "val_loss" ? (record.valLoss ?? 0) : (record.valAccuracy ?? 0)
            switch stopper.update(epoch: epoch + 1, value: value) {
            case .proceed(let improved):
                isBest = improved
            case .stop(let best):
                progress.stoppedEarly = true
                progress.finished = true
                logger.info(
                    """
                    early stopping: \(config.earlyStopping.monitor) has not improved for \(config.earlyStopping.patience) epoch(s); \
                    best epoch \(best)
                    """
                )
            }
            progress.earlyStopping = stopper
            if isBest && config.earlyStopping.restoreBest { bestParameters = parameters }
        }
        progress.epoch += 1
        progress.stepInEpoch = 0
        progress.epochLossSum = 0
        progress.epochCorrect = 0
        progress.epochSamples = 0
        progress.epochComputeSeconds = 0
        if progress.epoch >= config.training.epochs { progress.finished = true }
        progress.elapsedSeconds = elapsed()
        try store.save(checkpoint(), keepLast: config.checkpoints.keepLast, best: isBest)
        try writeMetrics(run)
        for o in observers { o.trainingCompleted(epoch: record) }

        func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "-" }
        logger.info(
            """
            epoch \(epoch + 1)/\(config.training.epochs): loss \(f(record.trainLoss)) acc \(f(record.trainAccuracy)) | val_loss \
            \(f(record.valLoss)) val_acc \(f(record.valAccuracy)) | test_acc \(f(record.testAccuracy)) | \
            \(String(format: "%.0f", record.imagesPerSecond)) img/s, \(String(format: "%.1f", record.elapsedSeconds)) \
            s\(isBest ? " *" : "")
            """
        )
    }

    func writeMetrics(_ run: RunDirectory) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes = [UInt8]()
        for r in progress.history {
            bytes += try encoder.encode(r)
            bytes.append(0x0a)
        }
        try SealedFile.writeAtomically(bytes, to: run.metrics)
    }
}
