import Foundation
import TestSupport
import XCTest

/// `--config` takes a TOML recipe or a resolved JSON config; closed-set flags are checked by the parser.
final class ConfigCLITests: XCTestCase {
    func summary(_ run: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as! [String: Any]
    }

    /// A run's config.json is a resolved config: training from it again gives the same weights
    /// without repeating the flags.
    func testResolvedConfigReproducesTheRun() throws {
        let data = try SyntheticData.writeDirectory(train: 160, test: 40)
        let dir = CLI.tempDirectory("resolved")
        let first = try CLI.run([
            "train", "--config", CLI.packageRoot.path + "/Config/fast.toml", "--data", data, "--out", dir + "/a",
            "--epochs", "1", "--batch", "32", "--micro-batch", "8", "--lr", "0.003", "--classes", "10"
        ])
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try CLI.run(["train", "--config", dir + "/a/config.json", "--data", data, "--out", dir + "/b"])
        XCTAssertEqual(second.status, 0, second.stderr)
        let a = try summary(dir + "/a")
        let b = try summary(dir + "/b")
        XCTAssertEqual(a["weights_sha256"] as? String, b["weights_sha256"] as? String)
        XCTAssertEqual(a["recipe_hash"] as? String, b["recipe_hash"] as? String)
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: dir + "/a/config.json")),
            try Data(contentsOf: URL(fileURLWithPath: dir + "/b/config.json")))
    }

    func testClosedSetFlagsListTheValidValues() throws {
        let dir = CLI.tempDirectory("modes")
        let r = try CLI.run(["train", "--mode", "asynch", "--out", dir + "/r"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("asynch") && r.stderr.contains("'sync'") && r.stderr.contains("'async'"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r"))
    }
}
