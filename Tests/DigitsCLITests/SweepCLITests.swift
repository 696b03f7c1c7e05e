import Foundation
import TestSupport
import XCTest

final class SweepCLITests: XCTestCase {
    /// A two-trial grid on generated data: both trials become run directories, the table ranks them by
    /// validation accuracy, a re-run skips finished trials, and a missing trial is trained again.
    func testTinySweepWritesTheTableAndResumes() throws {
        let data = try SyntheticData.writeDirectory(train: 400, test: 100)
        let dir = CLI.tempDirectory("sweep")
        try """
        [model]
        preset = "keras-example"
        [training]
        epochs = 1
        batch_size = 32
        micro_batch = 8
        [early_stopping]
        enabled = false
        """.write(toFile: dir + "/base.toml", atomically: true, encoding: .utf8)
        try """
        [sweep]
        base = "base.toml"
        [space]
        learning_rate = [0.0005, 0.005]
        augment = [true]
        """.write(toFile: dir + "/sweep.toml", atomically: true, encoding: .utf8)
        let args = ["sweep", "--config", dir + "/sweep.toml", "--out", dir + "/s", "--threads", "1", "--data", data]
        let first = try CLI.run(args, in: dir)
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        let names = ["t01-lr0.0005-aug", "t02-lr0.005-aug"]
        for n in names { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/s/\(n)/summary.json"), n) }
        let csv = try String(contentsOfFile: dir + "/s/results.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 3, csv.joined(separator: "\n"))
        XCTAssertTrue(csv[0].hasPrefix("rank,trial,model,batch_size,learning_rate,dropout,augment,val_accuracy,test_accuracy"))
        let vals = csv.dropFirst().map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[7])! }
        XCTAssertGreaterThanOrEqual(vals[0], vals[1], "rows are sorted by validation accuracy")
        XCTAssertTrue(csv.dropFirst().allSatisfy { $0.hasSuffix(",ok") && $0.contains(",on,") })
        let html = try String(contentsOfFile: dir + "/s/results.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<svg") && html.contains(names[0]) && html.contains(names[1]))
        let config = try String(contentsOfFile: "\(dir)/s/\(names[1])/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains("0.005"), "the trial's learning rate reaches its run")

        // Re-run: nothing retrained, same table.
        let summary = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/s/\(names[0])/summary.json"))
        let second = try CLI.run(args, in: dir)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(second.stdout.components(separatedBy: "already done").count - 1, 2, second.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/s/\(names[0])/summary.json")), summary)
        XCTAssertEqual(try String(contentsOfFile: dir + "/s/results.csv", encoding: .utf8).split(separator: "\n").count, 3)

        // A lost trial is trained again; the other is skipped; same seed, same weights.
        let weights =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/s/\(names[1])/summary.json")))
            as! [String: Any]
        try FileManager.default.removeItem(atPath: "\(dir)/s/\(names[1])")
        let third = try CLI.run(args, in: dir)
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertEqual(third.stdout.components(separatedBy: "already done").count - 1, 1, third.stdout)
        let again =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/s/\(names[1])/summary.json")))
            as! [String: Any]
        XCTAssertEqual(again["weights_sha256"] as? String, weights["weights_sha256"] as? String)
    }

    func testBadSweepConfigIsOneErrorLine() throws {
        let dir = CLI.tempDirectory("sweep-bad")
        try "[space]\nlearning_rate = [0.1]\nbogus = 1\n".write(toFile: dir + "/s.toml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["sweep", "--config", dir + "/s.toml", "--out", dir + "/out"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Error:") && r.stderr.contains("space.bogus"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "a bad config changes nothing on disk")
    }

    /// --data DIR --classes N: labels beyond N are refused with the file and label named.
    func testClassesFlagChecksLabels() throws {
        let data = try SyntheticData.writeDirectory(train: 100, test: 50)
        let dir = CLI.tempDirectory("classes")
        let r = try CLI.run(["train", "--data", data, "--classes", "5", "--out", dir + "/r", "--epochs", "1"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("out of range for 5 classes"), r.stderr)
        let bad = try CLI.run(["train", "--dataset", "kmnist", "--out", dir + "/k", "--epochs", "1"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--dataset must be one of"), bad.stderr)
    }
}

final class DatasetCLITests: XCTestCase {
    /// --dataset fashion-mnist finds Debian's dataset-fashion-mnist files (scripts/install-test-deps.sh installs them).
    func testFashionMNISTIsFoundByName() throws {
        let r = try CLI.run(["data", "show", "--dataset", "fashion-mnist", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: r.stdout.data(using: .utf8)!) as! [String: Any]
        XCTAssertEqual(json["train_count"] as? Int, 60000)
        XCTAssertEqual(json["test_per_class"] as? [Int], [Int](repeating: 1000, count: 10))
        XCTAssertTrue((json["directory"] as? String ?? r.stdout).contains("fashion-mnist"), r.stdout)
    }
}
