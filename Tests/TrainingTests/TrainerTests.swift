import Foundation
import Logging
import MNISTData
import NeuralNet
import TestSupport
import XCTest

@testable import Training

final class TrainerTests: XCTestCase {
    static let train = SyntheticData.dataset(count: 640, seed: 1, name: "train")
    static let test = SyntheticData.dataset(count: 200, seed: 2, name: "test")

    func smallConfig(threads: Int = 1, epochs: Int = 2) -> TrainConfig {
        var c = TrainConfig()
        c.modelSpec = ModelSpec(
            name: "small", layers: [.conv(4), .pool(), .conv(8), .pool(), .flatten, .dropout(0.25), .dense(10, activation: "softmax")])
        c.model = "small"
        c.training.epochs = epochs
        c.training.batchSize = 40  // 576 training samples: 15 steps, the last one short (16 samples)
        c.training.microBatch = 8
        c.training.threads = threads
        c.earlyStopping.patience = 5
        c.optimizer.learningRate = 0.01
        return c
    }

    func tempRun() -> RunDirectory {
        RunDirectory(NSTemporaryDirectory() + "digits-run-\(UUID().uuidString)")
    }

    func train(_ config: TrainConfig, in run: RunDirectory? = nil) throws -> (RunSummary, Trainer) {
        let data = TrainingData(train: Self.train, test: Self.test, directory: "synthetic", config: config)
        let trainer = try Trainer(config: config, data: data, logger: Logger(label: "test"))
        return (try trainer.run(in: run ?? tempRun()), trainer)
    }

    func testTrainingLearnsAndWritesAllOutputs() throws {
        let run = tempRun()
        let (summary, _) = try train(smallConfig(epochs: 3), in: run)
        XCTAssertGreaterThan(summary.testAccuracy, 0.8, "a learnable synthetic task should be learnt")
        for path in [run.model, run.summary, run.metrics] { XCTAssertTrue(FileManager.default.fileExists(atPath: path), path) }
        let lines = try String(contentsOfFile: run.metrics, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.summary))) as! [String: Any]
        for key in [
            "test_accuracy", "test_loss", "per_class", "confusion_matrix", "epochs_run", "best_epoch", "stopped_early",
            "wall_seconds", "train_images_per_second", "seconds_to_99", "weights_sha256"
        ] {
            XCTAssertTrue(json.keys.contains(key), "summary.json lacks \(key)")
        }
        let (file, _) = try ModelFile.read(path: run.model)
        XCTAssertEqual(SHA256Hex.of(floats: file.weights), summary.weightsSHA256)
    }

    func testSameSeedSameWeightsAndThreadCountDoesNotMatter() throws {
        let (a, _) = try train(smallConfig(threads: 1))
        let (b, _) = try train(smallConfig(threads: 1))
        let (c, _) = try train(smallConfig(threads: 3))
        XCTAssertEqual(a.weightsSHA256, b.weightsSHA256)
        XCTAssertEqual(a.weightsSHA256, c.weightsSHA256, "threads must not change the result")
        var other = smallConfig()
        other.training.seed = 2
        XCTAssertNotEqual(try train(other).0.weightsSHA256, a.weightsSHA256)
    }

    func testResumeAfterEpochOneEqualsUninterruptedRun() throws {
        let (clean, _) = try train(smallConfig(epochs: 2))
        let run = tempRun()
        _ = try train(smallConfig(epochs: 1), in: run)
        let config = smallConfig(epochs: 2)
        let trainer = try Trainer(
            config: config, data: TrainingData(train: Self.train, test: Self.test, directory: "synthetic", config: config),
            logger: Logger(label: "test"))
        let (checkpoint, path, _) = try XCTUnwrap(run.checkpoints.latest())
        XCTAssertEqual(checkpoint.header.progress.epoch, 1)
        try trainer.resume(from: checkpoint, path: path)
        let resumed = try trainer.run(in: run)
        XCTAssertEqual(resumed.weightsSHA256, clean.weightsSHA256)
        XCTAssertEqual(resumed.epochsRun, 2)
    }

    func testResumeFromMidEpochCheckpointEqualsUninterruptedRun() throws {
        var config = smallConfig(epochs: 2)
        config.checkpoints.everySteps = 4
        let (clean, _) = try train(config)
        // Interrupt at global step 22 (epoch 2, step 7): the newest checkpoint is then step 20.
        let run = tempRun()
        let data = TrainingData(train: Self.train, test: Self.test, directory: "synthetic", config: config)
        let first = try Trainer(config: config, data: data, logger: Logger(label: "test"))
        struct Interrupt: Error {}
        first.onStep = { if $0 == 22 { throw Interrupt() } }
        XCTAssertThrowsError(try first.run(in: run))
        let (checkpoint, path, _) = try XCTUnwrap(run.checkpoints.latest())
        XCTAssertEqual(checkpoint.header.progress.globalStep, 20)
        let second = try Trainer(config: config, data: data, logger: Logger(label: "test"))
        try second.resume(from: checkpoint, path: path)
        XCTAssertEqual(try second.run(in: run).weightsSHA256, clean.weightsSHA256)
    }

    func testResumeRefusesACheckpointFromAnotherRecipe() throws {
        let run = tempRun()
        _ = try train(smallConfig(epochs: 1), in: run)
        var other = smallConfig(epochs: 2)
        other.optimizer.learningRate = 0.02
        let trainer = try Trainer(
            config: other, data: TrainingData(train: Self.train, test: Self.test, directory: "synthetic", config: other),
            logger: Logger(label: "test"))
        let (checkpoint, path, _) = try XCTUnwrap(run.checkpoints.latest())
        XCTAssertThrowsError(try trainer.resume(from: checkpoint, path: path)) {
            XCTAssertTrue("\($0)".contains("different recipe"), "\($0)")
        }
    }
}
