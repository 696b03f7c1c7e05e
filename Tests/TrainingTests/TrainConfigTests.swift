import Foundation
import NeuralNet
import XCTest

@testable import Training

final class TrainConfigTests: XCTestCase {
    var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

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
        let c = try TrainConfig.load(
            path: write(
                """
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
        XCTAssertThrowsError(try c.validate()) {
            XCTAssertTrue("\($0)".contains("training.batch_size must be positive, found -5"), "\($0)")
        }
        c = TrainConfig()
        c.earlyStopping.monitor = "loss"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("early_stopping.monitor"), "\($0)") }
    }

    func testModelSpecFromTOMLFile() throws {
        let path = write(
            """
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
        XCTAssertEqual(spec.layers[0], LayerSpec(type: "conv2d", filters: 4, activation: "relu"))
        XCTAssertEqual(spec.input, [28, 28, 1])
        XCTAssertEqual(spec.classes, 10)

        let full = try TrainConfig.loadModelSpec(
            write(
                """
                name = "n"
                input = [28, 28, 1]
                classes = 26
                [[layers]]
                type = "dropout"
                rate = 0.25
                [[layers]]
                type = "dense"
                units = 26
                initializer = "he_normal"
                """))
        XCTAssertEqual(
            full,
            ModelSpec(
                name: "n", classes: 26,
                layers: [
                    LayerSpec(type: "dropout", rate: 0.25),
                    LayerSpec(type: "dense", units: 26, initializer: "he_normal")
                ]))
        for (toml, message) in [
            ("[[layers]]\nfilters = 3\n", "layers[0] needs a type"),
            ("[[layers]]\ntype = \"dense\"\nunit = 3\n", "unknown key 'layers[0].unit'"),
            ("[[layers]]\ntype = \"dense\"\nunits = \"many\"\n", "layers[0].units must be an integer, found 'many'"),
            ("input = [28, \"x\"]\n[[layers]]\ntype = \"flatten\"\n", "input must be an array of integers"),
            ("name = \"x\"\n", "a model spec needs [[layers]] entries")
        ] {
            XCTAssertThrowsError(try TrainConfig.loadModelSpec(write(toml))) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }

    func testRecipeHashIgnoresThreadsAndEpochsButNotTheSeed() {
        var a = TrainConfig()
        var b = TrainConfig()
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

    /// Every key of the file format lands in its field: each set to a value other than its default.
    func testEveryKeyIsRead() throws {
        let dir = NSTemporaryDirectory() + "digits-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: true)
        try "name = \"tiny\"\nclasses = 5\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 5\n"
            .write(toFile: dir + "/models/tiny.toml", atomically: true, encoding: .utf8)
        try """
        [model]
        file = "models/tiny.toml"
        [data]
        validation_fraction = 0.2
        normalization = "standard"
        classes = 5
        dataset = "fashion-mnist"
        [training]
        epochs = 3
        batch_size = 64
        micro_batch = 8
        seed = 9
        threads = 2
        mode = "async"
        staleness = 6
        bn_statistics_samples = 512
        [optimizer]
        kind = "sgd"
        learning_rate = 0.004
        beta1 = 0.8
        beta2 = 0.99
        epsilon = 1e-6
        momentum = 0.5
        weight_decay = 0.00005
        label_smoothing = 0.05
        [schedule]
        kind = "one-cycle"
        warmup_epochs = 1
        step_every_epochs = 2
        step_gamma = 0.5
        min_fraction = 0.002
        peak_at = 0.3
        start_fraction = 0.1
        [augment]
        enabled = true
        rotation_degrees = 10
        scale = 0.1
        shift_pixels = 2.0
        shear_degrees = 8.0
        elastic_alpha = 8.0
        elastic_sigma = 3.0
        horizontal_flip = true
        [early_stopping]
        enabled = false
        monitor = "val_accuracy"
        patience = 5
        min_delta = 0.01
        restore_best = false
        [checkpoint]
        every_steps = 100
        keep_last = 2
        [evaluation]
        test_every_epoch = false
        batch = 256
        """.write(toFile: dir + "/all.toml", atomically: true, encoding: .utf8)
        let c = try TrainConfig.load(path: dir + "/all.toml")
        var e = TrainConfig()
        e.model = dir + "/models/tiny.toml"
        e.modelSpec = try TrainConfig.loadModelSpec(e.model)
        e.data.validationFraction = 0.2
        e.data.normalization = .standard
        e.data.classes = 5
        e.dataset = "fashion-mnist"
        e.training.epochs = 3
        e.training.batchSize = 64
        e.training.microBatch = 8
        e.training.seed = 9
        e.training.threads = 2
        e.training.mode = .async
        e.training.staleness = 6
        e.training.batchNormSamples = 512
        e.optimizer.kind = .sgd
        e.optimizer.learningRate = 0.004
        e.optimizer.beta1 = 0.8
        e.optimizer.beta2 = 0.99
        e.optimizer.epsilon = 1e-6
        e.optimizer.momentum = 0.5
        e.optimizer.weightDecay = 0.00005
        e.labelSmoothing = 0.05
        e.schedule.kind = .oneCycle
        e.schedule.warmupEpochs = 1
        e.schedule.stepEveryEpochs = 2
        e.schedule.stepGamma = 0.5
        e.schedule.minFraction = 0.002
        e.schedule.peakAt = 0.3
        e.schedule.startFraction = 0.1
        e.augment.enabled = true
        e.augment.rotationDegrees = 10
        e.augment.scale = 0.1
        e.augment.shiftPixels = 2
        e.augment.shearDegrees = 8
        e.augment.elasticAlpha = 8
        e.augment.elasticSigma = 3
        e.augment.horizontalFlip = true
        e.earlyStopping = .init(enabled: false, monitor: "val_accuracy", patience: 5, minDelta: 0.01, restoreBest: false)
        e.checkpoints = .init(everySteps: 100, keepLast: 2)
        e.evaluation = .init(testEveryEpoch: false, batch: 256)
        XCTAssertEqual(c, e)
        // Floats are read as today: the TOML double, rounded once to Float.
        XCTAssertEqual(c.optimizer.learningRate, Float(0.004 as Double))
        XCTAssertEqual(c.optimizer.weightDecay, Float(0.00005 as Double))
    }

    func testClosedSetsAndTypesAreChecked() {
        func fails(_ toml: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try TrainConfig.load(path: write(toml)), file: file, line: line) {
                XCTAssertTrue("\($0)".contains(message), "\($0)", file: file, line: line)
            }
        }
        fails("[training]\nmode = \"asynch\"\n", "training.mode must be 'sync' or 'async', found 'asynch'")
        fails("[data]\nnormalization = \"minmax\"\n", "data.normalization must be 'unit' or 'standard', found 'minmax'")
        fails("[schedule]\nkind = \"linear\"\n", "schedule.kind must be one of 'constant', 'step', 'cosine', 'one-cycle', found 'linear'")
        fails("[optimizer]\nkind = 3\n", "optimizer.kind must be 'adam' or 'sgd', found 3")
        fails("[training]\nepochs = \"ten\"\n", ".toml: training.epochs must be an integer, found 'ten'")
        fails("[training]\nepochs = 2.5\n", "training.epochs must be an integer, found 2.5")
        fails("[training]\nseed = -1\n", "training.seed must be >= 0, found -1")
        fails("[augment]\nenabled = 1\n", "augment.enabled must be true or false, found 1")
        fails("[optimizer]\nlearning_rate = \"fast\"\n", "optimizer.learning_rate must be a number, found 'fast'")
        fails("[data]\ndataset = 7\n", "data.dataset must be a string, found 7")
        fails("[optimizer]\nlabel_smoothin = 0.1\n", "unknown key 'optimizer.label_smoothin'")
        fails("[training]\nbatch_norm_samples = 4\n", "unknown key 'training.batch_norm_samples'")
        fails("training = 3\n", "'training' must be a section")
        // An integer is a number.
        XCTAssertEqual(try TrainConfig.load(path: write("[optimizer]\nlearning_rate = 1\n")).optimizer.learningRate, 1)
    }

    var presetConfigs: [String] {
        let dir = packageRoot + "/Config"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".toml") && $0 != "sweep.toml" }.sorted().map { dir + "/" + $0 }
    }

    /// A resolved config (JSON) reads back as exactly the config written, for every shipped config.
    func testResolvedConfigRoundTrips() throws {
        XCTAssertGreaterThanOrEqual(presetConfigs.count, 5)
        for path in presetConfigs {
            var config = try TrainConfig.load(path: path)
            try config.validate()
            let out = NSTemporaryDirectory() + "digits-resolved-\(UUID().uuidString).json"
            try config.writeResolved(to: out)
            XCTAssertEqual(try TrainConfig.load(path: out), config, path)
            // Flags change the spec itself (dropout, classes): the resolved file keeps it.
            config.modelSpec = config.modelSpec.adapted(toClasses: 7)
            config.data.classes = 7
            config.optimizer.learningRate = 0.0031
            try config.writeResolved(to: out)
            XCTAssertEqual(try TrainConfig.load(path: out), config, path)
        }
        XCTAssertThrowsError(try TrainConfig.load(path: write("{}").replacingOccurrences(of: ".toml", with: ".json"))) { _ in }
    }

    /// The JSON form (run config.json, the config the coordinator sends) keeps its spellings.
    func testJSONFormIsUnchanged() throws {
        var c = TrainConfig()
        c.training.mode = .async
        c.data.normalization = .standard
        let json = String(decoding: try c.resolvedJSON(), as: UTF8.self)
        XCTAssertTrue(json.contains("\"mode\" : \"async\""), json)
        XCTAssertTrue(json.contains("\"normalization\" : \"standard\""), json)
        XCTAssertTrue(json.contains("\"batchNormSamples\" : 4096"), json)
        // The recipe hash of the defaults, as the release before the config enums computed it.
        XCTAssertEqual(TrainConfig().recipeHash, "2876b2b75381272d4adfa8dcc074bffab78d546f626d68d28a7df4e3147bb787")
    }

    func testClusterFileErrorsNameTheKey() {
        XCTAssertThrowsError(try ClusterConfig.load(path: write("[coordinator]\nworkers = \"two\"\n"))) {
            XCTAssertTrue("\($0)".contains("coordinator.workers must be an integer, found 'two'"), "\($0)")
        }
        XCTAssertThrowsError(try ClusterConfig.load(path: write("train_config = \"x.toml\"\nworkerz = 2\n"))) {
            XCTAssertTrue("\($0)".contains("unknown key 'workerz'"), "\($0)")
        }
        XCTAssertThrowsError(try ClusterConfig.load(path: write("[worker]\nbind = \"tcp://x:1\"\n"))) {
            XCTAssertTrue("\($0)".contains("unknown key 'worker.bind'"), "\($0)")
        }
        XCTAssertEqual(try ClusterConfig.load(path: write("[timing]\nheartbeat_deadline = 3\n")).heartbeatDeadline, 3)
    }
}
