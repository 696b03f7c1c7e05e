// Model files and checkpoints that crashed or fooled the readers (found while fuzzing them with
// scripts/fuzz.sh, see docs/RELIABILITY.md#fuzzing), each fed to the fixed decoder, which must now
// throw a FileFormatError naming the problem. The same files (without their SHA-256 trailer) are
// seeds in Fuzz/corpus/model/regression-*.
import Foundation
import NeuralNet
import XCTest

@testable import Training

final class FuzzRegressionTests: XCTestCase {
    /// A sealed model file whose header carries `spec` and `normalization` and 10 weights.
    static func modelFile(_ spec: ModelSpec, normalization: Normalization = .unit) throws -> [UInt8] {
        let header = ModelFileHeader(
            spec: spec, normalization: normalization, parameterCount: 10, parameters: [],
            weightsSHA256: "", metadata: [:])
        return SealedFile.encode(
            magic: ModelFile.magic, header: try JSONEncoder().encode(header),
            arrays: [[Float](repeating: 0.5, count: 10)])
    }

    static let hostileSpecs: [(name: String, spec: ModelSpec, message: String)] = [
        // Conv2D computed input + 2 * padding - kernel with a padding of kernel / 2: overflow trap.
        (
            "conv-same-huge-kernel",
            ModelSpec(
                name: "t", input: [2, 2, 1], classes: 2,
                layers: [
                    LayerSpec(type: "conv2d", filters: 2, kernel: Int.max, padding: "same")
                ]), "layer 1 (conv2d): kernel 9223372036854775807 is too large (at most 65536)"
        ),
        // MaxPool2D divided by a stride of 0.
        (
            "pool-stride-zero",
            ModelSpec(
                name: "t", input: [2, 2, 1], classes: 2,
                layers: [
                    LayerSpec(type: "maxpool2d", stride: 0, size: 2)
                ]), "layer 1 (maxpool2d): stride must be positive, found 0"
        ),
        // height x width x channels overflowed Int.
        (
            "input-overflow", ModelSpec(name: "t", input: [1 << 32, 1 << 32, 1 << 32], classes: 2, layers: [.flatten]),
            "input [4294967296, 4294967296, 4294967296] is too large"
        ),
        // 65536 x 65536 x 1 passes each side check but is 2^32 activations.
        (
            "input-too-many-values", ModelSpec(name: "t", input: [65536, 65536, 1], classes: 2, layers: [.flatten]),
            "at most 268435456 values in all"
        ),
        // A dense layer of 2^16 units on a 2^16 x 2^8 input: 2^40 weights.
        (
            "dense-too-many-weights", ModelSpec(name: "t", input: [65536, 256, 1], classes: 2, layers: [.dense(65536)]),
            "layer 1 (dense): 16777216x65536 weights are too many (at most 268435456)"
        )
    ]

    func testHostileModelSpecsAreRefusedWithoutTrapping() throws {
        for (name, spec, message) in Self.hostileSpecs {
            XCTAssertThrowsError(try ModelFile.decode(try Self.modelFile(spec), path: "\(name).digits"), name) { error in
                let description = "\(error)"
                XCTAssertTrue(error is FileFormatError, "\(name): \(description)")
                XCTAssertTrue(description.contains("invalid architecture") && description.contains(message), "\(name): \(description)")
            }
        }
    }

    /// A zero or subnormal std (or a huge mean) made every normalised pixel inf or NaN, so the
    /// model answered NaN for every image without an error.
    func testNormalizationThatCannotBeAppliedIsRefused() throws {
        let spec = ModelSpec(name: "t", input: [2, 2, 1], classes: 2, layers: [.dense(2)])
        for norm in [Normalization(mean: 0, std: 0), Normalization(mean: 0, std: 1e-45), Normalization(mean: 1e38, std: 1e-3)] {
            XCTAssertThrowsError(try ModelFile.decode(try Self.modelFile(spec, normalization: norm), path: "n.digits")) { error in
                XCTAssertTrue("\(error)".contains("expected a normalization with a non-zero std and a finite scale"), "\(error)")
            }
        }
        XCTAssertNoThrow(try ModelFile.decode(try Self.modelFile(spec), path: "ok.digits"))
    }

    /// Checkpoints whose moment or best-weight arrays do not match the weights: resuming would
    /// index past them. Only the first moments were checked before.
    func testCheckpointArraysMustMatchTheWeightsAndOptimizer() throws {
        let header = CheckpointHeader(
            recipeHash: "r", config: TrainConfig(), progress: TrainingProgress(), optimizerStep: 1, hasBest: false)
        func bytes(_ arrays: [[Float]]) throws -> [UInt8] {
            SealedFile.encode(magic: Checkpoint.magic, header: try JSONEncoder().encode(header), arrays: arrays)
        }
        let w: [Float] = [1, 2, 3]
        XCTAssertNoThrow(try Checkpoint.decode(try bytes([w, w, w, []]), path: "ok.ckpt"))
        XCTAssertNoThrow(try Checkpoint.decode(try bytes([w, w, w, w]), path: "ok.ckpt"))
        for (arrays, found) in [
            ([w, w, [], []], "3, 0 and 0"), ([w, w, [1], []], "3, 1 and 0"), ([w, w, w, [1, 2]], "3, 3 and 2"),
            ([w, [1], w, []], "1, 3 and 0")
        ] as [([[Float]], String)] {
            XCTAssertThrowsError(try Checkpoint.decode(try bytes(arrays), path: "bad.ckpt")) { error in
                XCTAssertEqual(
                    "\(error)",
                    """
                    bad.ckpt: inconsistent array sizes: expected 3 first moments, 3 second moments (adam) and 0 or 3 best weights for \
                    3 weights, found \(found)
                    """
                )
            }
        }
    }

    /// Rewrites Fuzz/corpus/model/regression-* (the hostile model files without their trailer)
    /// when DIGITS_WRITE_FUZZ_CORPUS=1; otherwise checks that they are there.
    func testRegressionSeedsAreInTheCorpus() throws {
        let directory = FuzzCorpusTests.corpus + "/model"
        for (name, spec, _) in Self.hostileSpecs {
            let path = directory + "/regression-" + name
            if ProcessInfo.processInfo.environment["DIGITS_WRITE_FUZZ_CORPUS"] == "1" {
                try Data(try Self.modelFile(spec).dropLast(32)).write(to: URL(fileURLWithPath: path))
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), path)
        }
    }
}
