import Foundation
import MNISTData
import TestSupport
import XCTest

/// `digits export` end to end: two models trained briefly with the real binary on a slice of real
/// MNIST, exported to ONNX and Keras HDF5, run by the real consumers (onnxruntime; h5py + numpy) on
/// all 10,000 real test images and compared with Digits' own probabilities
/// (`digits evaluate --probabilities-out`). The comparison is scripts/check/check_export.py.
final class ExportTests: XCTestCase {
    struct Fixture {
        var root: String
        /// Real MNIST (the 10k test images the checks run on).
        var realData: String
        var testImages: String
        /// Per model: run directory, exports, probabilities, and the checker's report.
        var models: [String: (onnx: String, h5: String, probabilities: String, report: [String: Any])]
    }

    nonisolated(unsafe) static var cached: Result<Fixture, Error>?

    /// keras-example (the default recipe's network) and a mixed model: 5x5 "same" conv, 3x3/2 pooling,
    /// a stride-2 conv without 8-aligned filters, a separate ReLU layer, a hidden dense layer with ReLU,
    /// dropout, a linear last layer, and MNIST mean/std normalisation.
    static let mixedSpec = """
        {"name": "mixed", "input": [28, 28, 1], "classes": 10, "layers": [
         {"type": "conv2d", "filters": 8, "kernel": 5, "padding": "same", "activation": "relu", "initializer": "he_normal"},
         {"type": "maxpool2d", "size": 3, "stride": 2},
         {"type": "conv2d", "filters": 12, "kernel": 3, "stride": 2},
         {"type": "relu"},
         {"type": "dense", "units": 32, "activation": "relu"},
         {"type": "dropout", "rate": 0.3},
         {"type": "dense", "units": 10}
        ]}
        """

    static func fixture() throws -> Fixture {
        if let cached { return try cached.get() }
        let result = Result { try makeFixture() }
        cached = result
        return try result.get()
    }

    static func makeFixture() throws -> Fixture {
        let realData = try RealMNIST.directory(packageRoot: CLI.packageRoot.path)
        let python = try ExternalTools.python()
        let root = CLI.tempDirectory("export")
        // Training data: the first 3,000 real training images (quick); test set: the real 10,000.
        let (train, _) = try MNISTFiles.load(directory: realData)
        let subset = train.subset(Array(0..<3000))
        let data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try IDXFile.write(
            IDXArray(dims: [subset.count, 28, 28], data: subset.images), path: "\(data)/\(MNISTFiles.trainImages)", gzip: false)
        try IDXFile.write(IDXArray(dims: [subset.count], data: subset.labels), path: "\(data)/\(MNISTFiles.trainLabels)", gzip: false)
        for name in [MNISTFiles.testImages, MNISTFiles.testLabels] {
            let source = try MNISTFiles.path(of: name, in: realData)
            try FileManager.default.copyItem(atPath: source, toPath: "\(data)/" + (source as NSString).lastPathComponent)
        }
        let testImages = try MNISTFiles.path(of: MNISTFiles.testImages, in: data)
        try mixedSpec.write(toFile: root + "/mixed.json", atomically: true, encoding: .utf8)
        try "[data]\nnormalization = \"standard\"\n".write(toFile: root + "/standard.toml", atomically: true, encoding: .utf8)

        var models: [String: (onnx: String, h5: String, probabilities: String, report: [String: Any])] = [:]
        for (name, flags) in [
            ("keras-example", ["--model", "keras-example"]),
            ("mixed", ["--model", root + "/mixed.json", "--config", root + "/standard.toml"])
        ] {
            let run = "\(root)/run-\(name)"
            let trained = try CLI.run(
                [
                    "train", "--data", data, "--out", run, "--epochs", "2", "--batch", "32", "--micro-batch", "8",
                    "--threads", "2", "--seed", "7"
                ] + flags, in: root, timeout: 900)
            guard trained.status == 0 else { throw ExportFixtureError("train \(name) failed: \(trained.stderr)") }
            let model = run + "/model.digits"
            let onnx = "\(root)/\(name).onnx"
            let h5 = "\(root)/\(name).h5"
            let probabilities = "\(root)/\(name).npy"
            for (format, out) in [("onnx", onnx), ("keras-h5", h5)] {
                let r = try CLI.run(["export", "--model", model, "--format", format, "--out", out], in: root)
                guard r.status == 0 else { throw ExportFixtureError("export \(name) \(format) failed: \(r.stderr)") }
            }
            let evaluated = try CLI.run(["evaluate", "--model", model, "--data", data, "--probabilities-out", probabilities], in: root)
            guard evaluated.status == 0 else { throw ExportFixtureError("evaluate \(name) failed: \(evaluated.stderr)") }
            let check = try ExternalTools.run(
                python,
                [
                    checker, "--images", testImages, "--probabilities", probabilities,
                    "--onnx", onnx, "--h5", h5
                ], timeout: 900)
            guard check.status == 0, let report = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any] else {
                throw ExportFixtureError("check_export.py failed for \(name) (status \(check.status)): \(check.stderr)\n\(check.stdout)")
            }
            print("export check \(name): \(check.stdout)")
            models[name] = (onnx, h5, probabilities, report)
        }
        return Fixture(root: root, realData: realData, testImages: testImages, models: models)
    }

    override class func tearDown() {
        if case .success(let f)? = cached { try? FileManager.default.removeItem(atPath: f.root) }
        cached = nil
        super.tearDown()
    }

    static var checker: String { CLI.packageRoot.appendingPathComponent("scripts/check/check_export.py").path }

    func assertAgreement(_ section: [String: Any]?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let section else { return XCTFail("\(what): no report", file: file, line: line) }
        XCTAssertEqual(section["images"] as? Int, 10_000, what, file: file, line: line)
        XCTAssertEqual(
            section["argmax_agree"] as? Int, 10_000, "\(what): argmax must agree with Digits on every test image", file: file, line: line)
        let diff = section["max_abs_prob_diff"] as? Double ?? .infinity
        XCTAssertLessThanOrEqual(diff, 1e-4, "\(what): max |p - p_digits|", file: file, line: line)
        XCTAssertEqual(section["rows_sum_to_one"] as? Bool, true, "\(what): softmax rows", file: file, line: line)
    }

    /// Must-show 1: onnxruntime on the 10k real test images agrees with Digits on every argmax, within 1e-4.
    func testONNXExportRunsInOnnxruntimeAndMatchesDigits() throws {
        let f = try Self.fixture()
        for (name, m) in f.models.sorted(by: { $0.key < $1.key }) {
            let onnx = m.report["onnx"] as? [String: Any]
            assertAgreement(onnx, "\(name) onnx")
            XCTAssertGreaterThanOrEqual(onnx?["opset"] as? Int ?? 0, 13, name)
            XCTAssertEqual(onnx?["input"] as? String, "pixels")
            XCTAssertEqual(onnx?["input_shape"] as? [String], ["N", "28", "28", "1"])
            XCTAssertEqual(onnx?["output"] as? String, "probabilities")
        }
        let mixedNodes = f.models["mixed"]?.report["onnx"].flatMap { ($0 as? [String: Any])?["nodes"] as? [String] } ?? []
        XCTAssertEqual(
            mixedNodes,
            [
                "Mul", "Add", "Transpose", "Conv", "Relu", "MaxPool", "Conv", "Relu", "Transpose", "Flatten",
                "Gemm", "Relu", "Gemm", "Softmax"
            ])
    }

    /// Must-show 2: the .h5 read with h5py and run in numpy from its stored config and weights matches Digits.
    func testKerasH5ExportMatchesDigitsInNumpy() throws {
        let f = try Self.fixture()
        for (name, m) in f.models.sorted(by: { $0.key < $1.key }) {
            let h5 = m.report["h5_numpy"] as? [String: Any]
            assertAgreement(h5, "\(name) keras-h5 (h5py + numpy)")
            XCTAssertEqual(h5?["keras_version"] as? String, "2.15.0")
            XCTAssertEqual(h5?["backend"] as? String, "tensorflow")
        }
        XCTAssertEqual(
            f.models["keras-example"]?.report["h5_numpy"].flatMap { ($0 as? [String: Any])?["layers"] as? [String] },
            ["InputLayer", "Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"])
    }

    /// Keras itself: keras.models.load_model (Keras 3 on the JAX CPU backend, installed in the test
    /// python by scripts/install-test-deps.sh) loads each exported .h5, and its predictions on the
    /// 10k real test images agree with Digits.
    func testKerasH5LoadsInKerasAndMatchesDigits() throws {
        let f = try Self.fixture()
        let python = try ExternalTools.python()
        let expectedLayers = [
            "keras-example": ["Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"],
            "mixed": ["Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dropout", "Dense"]
        ]
        for (name, m) in f.models.sorted(by: { $0.key < $1.key }) {
            let check = try ExternalTools.run(
                python,
                [
                    Self.checker, "--images", f.testImages, "--probabilities", m.probabilities,
                    "--h5", m.h5, "--keras"
                ], timeout: 900)
            XCTAssertEqual(check.status, 0, "\(name): check_export.py --keras failed:\n\(check.stderr)")
            print("keras check \(name): \(check.stdout)")
            let report = try XCTUnwrap(
                try? JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any],
                "\(name): no JSON report: \(check.stdout)\n\(check.stderr)")
            let keras = report["keras"] as? [String: Any]
            assertAgreement(keras, "\(name) keras.models.load_model")
            XCTAssertEqual(keras?["keras_backend"] as? String, "jax", name)
            XCTAssertEqual(keras?["layers"] as? [String], expectedLayers[name], name)
        }
    }

    /// Must-show-style bad input: one `Error:` line naming the problem, non-zero exit, nothing written.
    func testBadInputIsAnErrorAndWritesNothing() throws {
        let dir = CLI.tempDirectory("export-bad")
        // A valid model file (untrained keras-example weights are enough here).
        let good = dir + "/model.digits"
        let spec = dir + "/tiny.json"
        let tiny =
            #"{"name": "tiny", "input": [28, 28, 1], "classes": 10, "layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "#
            + #""activation": "relu"}, {"type": "maxpool2d"}, {"type": "dense", "units": 10}]}"#
        try tiny.write(toFile: spec, atomically: true, encoding: .utf8)
        let data = try SyntheticData.writeDirectory(train: 64, test: 32)
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            try? FileManager.default.removeItem(atPath: data)
        }
        let trained = try CLI.run(
            ["train", "--data", data, "--out", dir + "/run", "--epochs", "1", "--batch", "32", "--model", spec], in: dir)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        try FileManager.default.copyItem(atPath: dir + "/run/model.digits", toPath: good)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: dir + "/corrupt.digits"))
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: dir + "/truncated.digits"))
        try "keep".write(toFile: dir + "/existing.onnx", atomically: true, encoding: .utf8)
        try "a file".write(toFile: dir + "/plainfile", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/adir", withIntermediateDirectories: true)

        let cases: [(args: [String], expect: [String])] = [
            (["--model", dir + "/missing.digits", "--format", "onnx", "--out", dir + "/existing.onnx"], ["missing.digits"]),
            (["--model", dir + "/corrupt.digits", "--format", "onnx", "--out", dir + "/existing.onnx"], ["corrupt.digits", "checksum"]),
            (["--model", dir + "/truncated.digits", "--format", "keras-h5", "--out", dir + "/new.h5"], ["truncated.digits"]),
            (["--model", good, "--out", dir + "/new.bin"], ["--format", "new.bin"]),
            (["--model", good, "--format", "onnx", "--out", dir + "/nodir/new.onnx"], ["--out", "does not exist"]),
            (["--model", good, "--format", "keras-h5", "--out", dir + "/plainfile/new.h5"], ["--out", "plainfile is a file"]),
            (["--model", good, "--format", "onnx", "--out", dir + "/adir"], ["--out", "is a directory"])
        ]
        let before = try snapshot(dir)
        for c in cases {
            let r = try CLI.run(["export"] + c.args, in: dir)
            let what = c.args.joined(separator: " ")
            XCTAssertNotEqual(r.status, 0, what)
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "one line: \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: "), "\(what): \(r.stderr)")
            for word in c.expect { XCTAssertTrue(r.stderr.contains(word), "\(what): '\(word)' not in \(r.stderr)") }
            XCTAssertEqual(try snapshot(dir), before, "\(what) changed the directory")
        }
        // An unknown format is the argument parser's error, listing the formats.
        let tflite = try CLI.run(["export", "--model", good, "--format", "tflite", "--out", dir + "/new.onnx"], in: dir)
        XCTAssertNotEqual(tflite.status, 0)
        for word in ["Error: ", "--format", "tflite", "'onnx'", "'keras-h5'"] {
            XCTAssertTrue(tflite.stderr.contains(word), "'\(word)' not in \(tflite.stderr)")
        }
        XCTAssertEqual(try snapshot(dir), before, "--format tflite changed the directory")
        // The good model exports over an existing file (replacing it atomically).
        let ok = try CLI.run(["export", "--model", good, "--out", dir + "/existing.onnx"], in: dir)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertNotEqual(try String(contentsOfFile: dir + "/existing.onnx", encoding: .isoLatin1), "keep")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }, [])
    }

    /// Every file below `dir` with its size and modification date.
    func snapshot(_ dir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let e = FileManager.default.enumerator(atPath: dir)
        while let path = e?.nextObject() as? String {
            let a = try FileManager.default.attributesOfItem(atPath: dir + "/" + path)
            out[path] = "\(a[.size] ?? 0) \(a[.modificationDate] ?? 0)"
        }
        return out
    }
}

struct ExportFixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
