import Foundation
import XCTest
@testable import Training

final class TrainConfigTests: XCTestCase {
    var packageRoot: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path }

    func write(_ text: String) -> String {
        let path = NSTemporaryDirectory() + "digits-config-\(UUID().uuidString).toml"
        FileManager.default.createFile(atPath: path, contents: text.data(using: .utf8))
        return path
    }

    /// The documented file states exactly the built-in defaults.
    func testShippedConfigEqualsTheDefaults() throws {
        XCTAssertEqual(try TrainConfig.load(path: packageRoot + "/Config/train.toml"), TrainConfig())
    }

    func testKeysOverrideDefaults() throws {
        let c = try TrainConfig.load(path: write("""
            [model]
            preset = "pytorch-example"
            [training]
            epochs = 3
            batch_size = 64
            [optimizer]
            learning_rate = 0.01
            kind = "sgd"
            """))
        XCTAssertEqual(c.modelSpec, .pytorchExample)
        XCTAssertEqual(c.training.epochs, 3)
        XCTAssertEqual(c.training.batchSize, 64)
        XCTAssertEqual(c.optimizer.learningRate, 0.01)
        XCTAssertEqual(c.optimizer.kind, .sgd)
    }

    func testUnknownKeysAndSectionsAreNamed() {
        XCTAssertThrowsError(try TrainConfig.load(path: write("[training]\nepochz = 3\n"))) {
            XCTAssertTrue("\($0)".contains("unknown key 'training.epochz'"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.load(path: write("[trainning]\nepochs = 3\n"))) {
            XCTAssertTrue("\($0)".contains("unknown section or key 'trainning'"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.load(path: write("[training]\nepochs = \"many\"\n"))) {
            XCTAssertTrue("\($0)".contains("training.epochs must be an integer"), "\($0)")
        }
        XCTAssertThrowsError(try TrainConfig.load(path: write("[training\n"))) { XCTAssertTrue("\($0)".contains(".toml"), "\($0)") }
    }

    func testValidationNamesTheKey() {
        var c = TrainConfig()
        c.training.batchSize = -5
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("training.batch_size must be positive, found -5"), "\($0)") }
        c = TrainConfig()
        c.earlyStopping.monitor = "loss"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("early_stopping.monitor"), "\($0)") }
    }

    func testModelSpecFromTOMLFile() throws {
        let path = write("""
            name = "tiny"
            [[layers]]
            type = "conv2d"
            filters = 4
            activation = "relu"
            [[layers]]
            type = "maxpool2d"
            [[layers]]
            type = "dense"
            units = 10
            """)
        let spec = try TrainConfig.loadModelSpec(path)
        XCTAssertEqual(spec.name, "tiny")
        XCTAssertEqual(spec.layers.count, 3)
        XCTAssertEqual(spec.layers[0].filters, 4)
    }

    func testRecipeHashIgnoresThreadsAndEpochsButNotTheSeed() {
        var a = TrainConfig(), b = TrainConfig()
        b.training.threads = 7
        b.training.epochs = 99
        XCTAssertEqual(a.recipeHash, b.recipeHash)
        a.training.seed = 2
        XCTAssertNotEqual(a.recipeHash, b.recipeHash)
    }

    func testShippedClusterConfigNamesTheTrainingRecipeAndDocumentsTheDefaults() throws {
        let path = packageRoot + "/Config/cluster.toml"
        XCTAssertTrue(ClusterConfig.isClusterFile(path: path))
        XCTAssertEqual(try TrainConfig.load(path: path), TrainConfig())
        let c = try ClusterConfig.load(path: path)
        XCTAssertEqual(c.trainConfig, packageRoot + "/Config/train.toml")
        XCTAssertEqual(c.workers, 2)
        XCTAssertEqual(c.heartbeatMilliseconds, 500)
        XCTAssertEqual(c.heartbeatDeadline, 5)
        XCTAssertEqual(c.insecure, false)
        XCTAssertNil(c.keys, "keys are opt-in: the shipped file only shows the key")
        XCTAssertEqual(c.statusBind, "127.0.0.1:0")
        XCTAssertThrowsError(try ClusterConfig.load(path: write("[status]\nbind = \"8000\"\n"))) {
            XCTAssertTrue("\($0)".contains("status.bind: expected HOST:PORT"), "\($0)")
        }
        XCTAssertNil(try ClusterConfig.load(path: write("[status]\nbind = \"off\"\n")).statusBind.flatMap { try? StatusAddress.parse($0) })
        let keyed = try ClusterConfig.load(path: write("[security]\nkeys = \"k\"\n"))
        XCTAssertEqual(keyed.keys.map { URL(fileURLWithPath: $0).lastPathComponent }, "k")
        XCTAssertFalse(ClusterConfig.isClusterFile(path: packageRoot + "/Config/train.toml"))
        XCTAssertThrowsError(try ClusterConfig.load(path: write("[timing]\nheartbeat = 3\n"))) {
            XCTAssertTrue("\($0)".contains("unknown key 'timing.heartbeat'"), "\($0)")
        }
    }
}
