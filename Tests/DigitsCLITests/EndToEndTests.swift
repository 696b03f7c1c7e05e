import Foundation
import MNISTData
import TestSupport
import XCTest

/// One real training run on the real MNIST files, through the real binary.
final class EndToEndTests: XCTestCase {
    func testOneEpochOnRealMNISTReachesTheAccuracyFloor() throws {
        let data = try RealMNIST.directory(packageRoot: CLI.packageRoot.path)
        let out = CLI.tempDirectory("e2e") + "/run"
        let r = try CLI.run(
            ["train", "--data", data, "--out", out, "--epochs", "1", "--model", "keras-example", "--threads", "2"],
            in: CLI.packageRoot.path, timeout: 900)
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        let accuracy = summary["test_accuracy"] as! Double
        // Keras reaches 97.3% after one epoch of this model; allow some margin.
        XCTAssertGreaterThanOrEqual(accuracy, 0.96, "test accuracy after one epoch")
        XCTAssertEqual((summary["confusion_matrix"] as! [[Int]]).flatMap { $0 }.reduce(0, +), 10_000)
        XCTAssertEqual((summary["weights_sha256"] as! String).count, 64)
    }
}
