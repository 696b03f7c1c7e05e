import Foundation
import Logging
import MNISTData
import NeuralNet
import TestSupport
import XCTest

@testable import Training

final class TrainingObserverTests: XCTestCase {
    final class Recorder: TrainingObserver {
        var steps: [StepRecord] = []
        var epochs: [EpochRecord] = []
        func trainingCompleted(step: StepRecord) { steps.append(step) }
        func trainingCompleted(epoch: EpochRecord) { epochs.append(epoch) }
    }

    /// Observers see every step in order and exactly the epoch records of metrics.jsonl.
    func testObserversSeeEveryStepAndTheMetricsRecords() throws {
        var c = TrainConfig()
        c.modelSpec = ModelSpec(name: "small", layers: [.conv(4), .pool(), .flatten, .dense(10, activation: "softmax")])
        c.model = "small"
        c.training.epochs = 2
        c.training.batchSize = 40
        c.training.microBatch = 8
        c.training.threads = 1
        let train = SyntheticData.dataset(count: 200, seed: 1, name: "train")
        let test = SyntheticData.dataset(count: 50, seed: 2, name: "test")
        let trainer = try Trainer(
            config: c, data: TrainingData(train: train, test: test, directory: "synthetic", config: c), logger: Logger(label: "t"))
        let recorder = Recorder()
        trainer.observers.append(recorder)
        let run = RunDirectory(NSTemporaryDirectory() + "digits-observer-\(UUID().uuidString)")
        try trainer.run(in: run)
        let stepsPerEpoch = trainer.plan.stepsPerEpoch
        XCTAssertEqual(recorder.steps.map(\.globalStep), Array(1...(2 * stepsPerEpoch)))
        XCTAssertEqual(recorder.steps.map(\.epoch), [Int](repeating: 1, count: stepsPerEpoch) + [Int](repeating: 2, count: stepsPerEpoch))
        XCTAssertEqual(recorder.steps.prefix(stepsPerEpoch).map(\.samples).reduce(0, +), trainer.data.trainIndices.count)
        XCTAssertEqual(recorder.epochs, trainer.progress.history)
        let lines = try String(contentsOfFile: run.metrics, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(try lines.map { try JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8)) }, recorder.epochs)
        // The epoch's train loss is the mean of its steps' losses.
        let lossSum = recorder.steps.prefix(stepsPerEpoch).map(\.lossSum).reduce(0, +)
        XCTAssertEqual(recorder.epochs[0].trainLoss, lossSum / Double(trainer.data.trainIndices.count), accuracy: 1e-12)
    }

    func testProgressBarsOnlyOnAnInteractiveTerminal() {
        XCTAssertTrue(ProgressBar.terminalWantsBars(isTTY: true, environment: ["TERM": "xterm"]))
        XCTAssertFalse(ProgressBar.terminalWantsBars(isTTY: false, environment: ["TERM": "xterm"]))
        XCTAssertFalse(ProgressBar.terminalWantsBars(isTTY: true, environment: ["TERM": "xterm", "CI": "true"]))
        XCTAssertFalse(ProgressBar.terminalWantsBars(isTTY: true, environment: ["TERM": "dumb"]))
        XCTAssertTrue(ProgressBar.terminalWantsBars(isTTY: true, environment: ["CI": ""]))
    }
}
