// Writes a TensorBoard event file (runs/NAME/tensorboard/events.out.tfevents.*) and, as a
// TrainingObserver, logs a run's scalars: every N steps (loss, accuracy, images/s, learning
// rate, averaged over those steps) and every epoch (the metrics.jsonl record at its step).
import Foundation
import Logging
import Training

/// One event file, appended record by record (each write reaches the file at once, so
/// TensorBoard sees a live run).
public final class TensorBoardWriter {
    public let path: String
    let handle: FileHandle

    /// Creates `directory` and a new event file in it, named as TensorFlow names them.
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "/", with: "_")
        var name = "events.out.tfevents.\(Int(wallTime)).\(host).\(getpid())"
        var n = 0
        while FileManager.default.fileExists(atPath: directory + "/" + name) {
            n += 1
            name += ".\(n)"
        }
        path = directory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try write(TensorBoardEvent.fileVersion(wallTime: wallTime))
    }

    deinit { try? handle.close() }

    public func write(_ event: [UInt8]) throws {
        try handle.write(contentsOf: TFRecord.frame(event))
    }

    public func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try write(TensorBoardEvent.scalars(wallTime: wallTime, step: Int64(step), values: values))
    }
}

/// Tags: `step/loss`, `step/accuracy`, `step/images_per_second`, `step/learning_rate` every
/// `stepInterval` steps; `epoch/<metrics.jsonl key>` at each epoch's last step.
public final class TensorBoardLogger: TrainingObserver {
    public let writer: TensorBoardWriter
    public let stepInterval: Int
    let logger: Logger
    var failed = false
    var lossSum = 0.0, correct = 0, samples = 0, seconds = 0.0

    public init(directory: String, stepInterval: Int = 20, logger: Logger) throws {
        precondition(stepInterval >= 1)
        writer = try TensorBoardWriter(directory: directory)
        self.stepInterval = stepInterval
        self.logger = logger
    }

    public func trainingCompleted(step: StepRecord) {
        lossSum += step.lossSum
        correct += step.correct
        samples += step.samples
        seconds += step.seconds
        guard step.globalStep % stepInterval == 0 else { return }
        let n = Double(max(samples, 1))
        emit(
            [
                ("step/loss", Float(lossSum / n)), ("step/accuracy", Float(Double(correct) / n)),
                ("step/images_per_second", Float(Double(samples) / max(seconds, 1e-9))),
                ("step/learning_rate", Float(step.learningRate))
            ], step: step.globalStep)
        lossSum = 0
        correct = 0
        samples = 0
        seconds = 0
    }

    public func trainingCompleted(epoch r: EpochRecord) {
        emit(Self.epochScalars(r), step: r.step)
    }

    /// The scalars of an epoch record, tagged `epoch/<metrics.jsonl key>` (absent values skipped).
    public static func epochScalars(_ r: EpochRecord) -> [(tag: String, value: Float)] {
        var v: [(String, Double?)] = [
            ("epoch", Double(r.epoch)), ("train_loss", r.trainLoss), ("train_accuracy", r.trainAccuracy),
            ("val_loss", r.valLoss), ("val_accuracy", r.valAccuracy), ("test_loss", r.testLoss),
            ("test_accuracy", r.testAccuracy), ("learning_rate", r.learningRate),
            ("images_per_second", r.imagesPerSecond), ("epoch_seconds", r.epochSeconds)
        ]
        v.removeAll { $0.1 == nil }
        return v.map { ("epoch/" + $0.0, Float($0.1!)) }
    }

    func emit(_ values: [(tag: String, value: Float)], step: Int) {
        guard !failed else { return }
        do { try writer.scalars(values, step: step) } catch {
            failed = true
            logger.warning("could not write TensorBoard events to \(writer.path): \(error); training goes on without them")
        }
    }
}
