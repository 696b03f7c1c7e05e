import Foundation
import MNISTData
import TestSupport
import XCTest

/// Bad input gets a one-line error naming the problem, a non-zero exit, and changes nothing.
final class BadInputTests: XCTestCase {
    func assertFails(_ r: CLI.Result, mentioning needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected failure", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "stderr lacks '\(needle)': \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        let errorLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(errorLines.count, 1, "expected one error line: \(r.stderr)", file: file, line: line)
    }

    func testTruncatedIDXFile() throws {
        let data = try SyntheticData.writeDirectory(train: 50, test: 20)
        let path = data + "/" + MNISTFiles.trainImages + ".gz"
        let raw = try IDXFile.read(path: path)
        try FileManager.default.removeItem(atPath: path)
        let bytes = IDXFile.encode(raw)
        try Data(bytes[0..<(bytes.count - 100)]).write(to: URL(fileURLWithPath: data + "/" + MNISTFiles.trainImages))
        let out = CLI.tempDirectory("bad")
        let r = try CLI.run(["train", "--data", data, "--out", out + "/r", "--epochs", "1"])
        assertFails(r, mentioning: "truncated")
        XCTAssertTrue(r.stderr.contains(MNISTFiles.trainImages), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/r"), "nothing may be written")
    }

    func testWrongMagic() throws {
        let data = try SyntheticData.writeDirectory(train: 50, test: 20)
        let path = data + "/" + MNISTFiles.testLabels + ".gz"
        try FileManager.default.removeItem(atPath: path)
        try Data([0x00, 0x00, 0x09, 0x01, 0, 0, 0, 1, 7]).write(to: URL(fileURLWithPath: data + "/" + MNISTFiles.testLabels))
        assertFails(try CLI.run(["data", "show", "--data", data]), mentioning: "magic")
    }

    func testNegativeBatchSize() throws {
        let r = try CLI.run(["train", "--batch", "-5", "--out", CLI.tempDirectory("neg") + "/r"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--batch must be a positive number of samples, found -5"), r.stderr)
    }

    func testUnknownConfigKey() throws {
        let dir = CLI.tempDirectory("cfg")
        try "[training]\nbatchsize = 64\n".write(toFile: dir + "/train.toml", atomically: true, encoding: .utf8)
        let r = try CLI.run(["train", "--config", dir + "/train.toml", "--out", dir + "/r"])
        assertFails(r, mentioning: "unknown key 'training.batchsize'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r"))
    }

    func testCorruptCheckpointIsRefusedAndLeftInPlace() throws {
        let data = try SyntheticData.writeDirectory(train: 200, test: 50)
        let out = CLI.tempDirectory("ckpt") + "/r"
        let first = try CLI.run(["train", "--data", data, "--out", out, "--epochs", "1", "--batch", "32", "--model", "keras-example"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let store = out + "/checkpoints"
        let names = try FileManager.default.contentsOfDirectory(atPath: store).filter { $0.hasPrefix("ckpt-") }
        XCTAssertEqual(names.count, 1)
        let path = store + "/" + names[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        let summaryBefore = try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))
        let r = try CLI.run([
            "train", "--data", data, "--out", out, "--epochs", "2", "--batch", "32", "--model", "keras-example", "--resume"
        ])
        assertFails(r, mentioning: "checksum mismatch")
        XCTAssertTrue(r.stderr.contains(names[0]), r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), bytes, "the corrupt checkpoint stays for inspection")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")), summaryBefore)
    }

    func testExistingRunIsNotOverwritten() throws {
        let data = try SyntheticData.writeDirectory(train: 100, test: 20)
        let out = CLI.tempDirectory("twice") + "/r"
        XCTAssertEqual(try CLI.run(["train", "--data", data, "--out", out, "--epochs", "1", "--batch", "32"]).status, 0)
        assertFails(
            try CLI.run(["train", "--data", data, "--out", out, "--epochs", "1", "--batch", "32"]), mentioning: "already holds a run")
    }

    func testModelFileThatIsNotOne() throws {
        let dir = CLI.tempDirectory("model")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir + "/model.digits"))
        assertFails(try CLI.run(["evaluate", "--model", dir + "/model.digits"]), mentioning: "model.digits")
    }
}
