import Foundation
import MNISTData
import TestSupport
import XCTest

final class CLITests: XCTestCase {
    func testGradcheckPassesForEveryLayer() throws {
        let r = try CLI.run(["gradcheck"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("all 25 checks passed"), r.stdout)
        for name in ["conv2d", "maxpool2d", "dense", "relu", "dropout", "flatten", "batchnorm", "softmax-xent"] {
            XCTAssertTrue(r.stdout.contains(name), "gradcheck does not cover \(name)")
        }
    }

    /// Train, evaluate and predict through the real binary on a small generated dataset.
    func testTrainEvaluatePredictOnGeneratedData() throws {
        let data = try SyntheticData.writeDirectory(train: 400, test: 100)
        let out = CLI.tempDirectory("run")
        let train = try CLI.run(
            [
                "train", "--data", data, "--out", out + "/r", "--epochs", "2", "--batch", "32", "--micro-batch", "8",
                "--model", "keras-example", "--threads", "2"
            ], in: out)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("weights_sha256"), train.stdout)
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/r/summary.json"))) as! [String: Any]
        XCTAssertGreaterThan(summary["test_accuracy"] as! Double, 0.5)

        let eval = try CLI.run(["evaluate", "--model", out + "/r/model.digits", "--data", data, "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let report = try JSONSerialization.jsonObject(with: eval.stdout.data(using: .utf8)!) as! [String: Any]
        XCTAssertEqual(report["accuracy"] as! Double, summary["test_accuracy"] as! Double, accuracy: 1e-12)
        let text = try CLI.run(["evaluate", "--model", out + "/r/model.digits", "--data", data])
        XCTAssertTrue(text.stdout.contains("confusion matrix"), text.stdout)

        // A test image written as PNG classifies like the evaluator does.
        let test = try MNISTFiles.load(directory: data).test
        let png = out + "/digit.png"
        try Data(PNG.encode(GrayImage(width: 28, height: 28, pixels: Array(test.images[0..<784])))).write(to: URL(fileURLWithPath: png))
        let predict = try CLI.run(["predict", "--model", out + "/r/model.digits", png, "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        XCTAssertTrue(predict.stdout.contains("\"digit\""), predict.stdout)

        // Same seed, same weights; and resuming a finished run with more epochs continues it.
        let again = try CLI.run(
            [
                "train", "--data", data, "--out", out + "/r2", "--epochs", "2", "--batch", "32", "--micro-batch", "8",
                "--model", "keras-example", "--threads", "1"
            ], in: out)
        XCTAssertEqual(again.status, 0, again.stderr)
        let summary2 =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/r2/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary2["weights_sha256"] as! String, summary["weights_sha256"] as! String)
    }

    func testDataShowReportsCountsAndChecksums() throws {
        let data = try SyntheticData.writeDirectory(train: 100, test: 50)
        let r = try CLI.run(["data", "show", "--data", data, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: r.stdout.data(using: .utf8)!) as! [String: Any]
        XCTAssertEqual(json["train_count"] as! Int, 100)
        XCTAssertEqual(json["test_per_class"] as! [Int], [Int](repeating: 5, count: 10))
    }
}
