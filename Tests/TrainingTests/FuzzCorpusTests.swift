// The seed corpora of the model and checkpoint fuzz targets (Fuzz/corpus/model, Fuzz/corpus/checkpoint):
// small valid files without their 32-byte SHA-256 trailer, because the harness appends a valid
// trailer to every input it is given (see Fuzz/ModelFuzz.swift). DIGITS_WRITE_FUZZ_CORPUS=1 rewrites them.
import Foundation
import NeuralNet
import XCTest

@testable import Training

final class FuzzCorpusTests: XCTestCase {
    static var corpus: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
            + "/Fuzz/corpus"
    }

    /// Tiny specs (4x4 inputs, 2 classes) that still use every layer type.
    static let specs: [String: ModelSpec] = [
        "conv-pool-dense": ModelSpec(
            name: "tiny-conv", input: [4, 4, 1], classes: 2,
            layers: [
                .conv(2), .pool(), .flatten, .dense(2, activation: "softmax")
            ]),
        "bn-dropout-relu": ModelSpec(
            name: "tiny-bn", input: [3, 3, 2], classes: 3,
            layers: [
                LayerSpec(type: "conv2d", filters: 2, kernel: 3, padding: "same", activation: "relu", initializer: "he_normal"),
                .batchNorm, LayerSpec(type: "maxpool2d", stride: 1, size: 2), .flatten, .dropout(0.25), .dense(4),
                LayerSpec(type: "relu"), .dense(3)
            ]),
        "dense-only": ModelSpec(name: "tiny-dense", input: [2, 2, 1], classes: 2, layers: [.dense(2)])
    ]

    static func modelSeeds() throws -> [String: [UInt8]] {
        var seeds: [String: [UInt8]] = [:]
        for (name, spec) in specs {
            let model = try Sequential(spec: spec)
            let file = try ModelFile(
                spec: spec, normalization: .mnistStandard, weights: model.initialParameters(seed: 1),
                metadata: ["test_accuracy": "0.5"])
            let path = NSTemporaryDirectory() + "digits-fuzz-seed-\(UUID().uuidString).digits"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try file.write(to: path)
            seeds["seed-\(name)"] = Array(try SealedFile.read(path: path).dropLast(32))
        }
        return seeds
    }

    static func checkpointSeeds() throws -> [String: [UInt8]] {
        var adam = TrainConfig()
        adam.modelSpec = specs["dense-only"]!
        adam.model = "tiny-dense"
        var sgd = adam
        sgd.optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.1)
        var progress = TrainingProgress()
        progress.epoch = 1
        progress.globalStep = 3
        progress.history = [
            EpochRecord(
                epoch: 0, step: 3, trainLoss: 0.5, trainAccuracy: 0.75, valLoss: 0.6, valAccuracy: 0.7,
                learningRate: 0.001, epochSeconds: 1, elapsedSeconds: 1, imagesPerSecond: 100)
        ]
        progress.earlyStopping = EarlyStopping(monitor: "val_loss", patience: 2, minDelta: 0)
        let w: [Float] = [0.5, -0.25, 1, 2, 0, 0, 0.125, -1, 0.1, 0.2]
        let checkpoints = [
            "seed-adam": Checkpoint(
                header: CheckpointHeader(recipeHash: "fuzz", config: adam, progress: progress, optimizerStep: 3, hasBest: true),
                parameters: w, optimizer: OptimizerState(step: 3, first: w.map { $0 / 10 }, second: w.map { $0 * $0 }),
                bestParameters: w),
            "seed-sgd": Checkpoint(
                header: CheckpointHeader(recipeHash: "fuzz", config: sgd, progress: TrainingProgress(), optimizerStep: 0, hasBest: false),
                parameters: w, optimizer: OptimizerState(step: 0, first: w.map { _ in 0 }, second: []), bestParameters: [])
        ]
        return try checkpoints.mapValues { Array(try $0.encoded().dropLast(32)) }
    }

    /// Each committed seed, once sealed as the harness seals it, is a file the decoder accepts.
    func testSeedsAreValidFilesWithoutTheirTrailer() throws {
        let targets: [(String, [String: [UInt8]], ([UInt8]) throws -> Void)] = [
            ("model", try Self.modelSeeds(), { _ = try ModelFile.decode($0, path: "seed") }),
            ("checkpoint", try Self.checkpointSeeds(), { _ = try Checkpoint.decode($0, path: "seed") })
        ]
        for (target, seeds, decode) in targets {
            let directory = Self.corpus + "/" + target
            if ProcessInfo.processInfo.environment["DIGITS_WRITE_FUZZ_CORPUS"] == "1" {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                for (name, bytes) in seeds { try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + name)) }
            }
            // (regression-* files are inputs that once crashed a decoder: FuzzRegressionTests.)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("seed-") }
            XCTAssertEqual(Set(files), Set(seeds.keys), "\(target): rewrite the seeds with DIGITS_WRITE_FUZZ_CORPUS=1")
            for file in files {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
                let sealed = bytes + bytes.withUnsafeBytes { SHA256Hex.digest($0) }
                XCTAssertNoThrow(try decode(sealed), "\(target)/\(file)")
            }
        }
    }
}
