import Foundation
import TestSupport
import XCTest

/// Hostile files the operating system makes: a disk that fills up during a checkpoint write, and
/// data nobody may read. Each gives a clear error naming the file and loses nothing.
final class HostileFileTests: XCTestCase {
    static let recipe = ["--epochs", "3", "--batch", "32", "--micro-batch", "8", "--checkpoint-every", "5", "--seed", "4"]

    func sha(_ run: String) throws -> String? {
        (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any])?[
            "weights_sha256"] as? String
    }

    /// A 600 KB tmpfs holds one checkpoint (about 420 KB) but not a second: the write fails with
    /// ENOSPC, the error names the file, the earlier checkpoint stays intact and resumes to the
    /// clean run's weights elsewhere.
    func testFullDiskDuringCheckpointWriteKeepsThePreviousCheckpoint() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a tmpfs needs root (CI runs as root)") }
        let data = try SyntheticData.writeDirectory(train: 400, test: 100)
        let dir = CLI.tempDirectory("fulldisk")
        let clean = try CLI.run(["train", "--data", data, "--out", dir + "/clean"] + Self.recipe)
        XCTAssertEqual(clean.status, 0, clean.stderr)

        let mount = dir + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let m = try ExternalTools.run("/bin/mount", ["-t", "tmpfs", "-o", "size=600k", "tmpfs", mount], timeout: 30)
        guard m.status == 0 else { throw XCTSkip("cannot mount a tmpfs here: \(m.stderr)") }
        defer { _ = try? ExternalTools.run("/bin/umount", [mount], timeout: 30) }

        let full = try CLI.run(["train", "--data", data, "--out", mount + "/run"] + Self.recipe)
        XCTAssertNotEqual(full.status, 0)
        XCTAssertTrue(
            full.stderr.contains("ckpt-") && full.stderr.contains("No space left on device")
                && full.stderr.contains("previous file is untouched"),
            full.stderr)
        let left = try FileManager.default.contentsOfDirectory(atPath: mount + "/run/checkpoints").sorted()
        XCTAssertEqual(left, ["ckpt-000000005.ckpt"], "one whole checkpoint and no partial file")

        // Move the run to a disk with room and resume: the result is the uninterrupted run's.
        try FileManager.default.copyItem(atPath: mount + "/run", toPath: dir + "/moved")
        let resumed = try CLI.run(["train", "--data", data, "--out", dir + "/moved", "--resume"] + Self.recipe)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from"), resumed.stderr)
        XCTAssertEqual(try sha(dir + "/moved"), try sha(dir + "/clean"))
    }

    /// Permissions are checked as an unprivileged user (root reads everything): an unreadable data
    /// directory and an unreadable data file are each named, and no run directory is created.
    func testUnreadableDataIsNamed() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to run digits as nobody")
        }
        let source = try SyntheticData.writeDirectory(train: 100, test: 50)
        let base = "/tmp/digits-unreadable-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: base) }
        let data = base + "/data"
        try FileManager.default.copyItem(atPath: source, toPath: data)
        func asNobody(_ args: [String]) throws -> ExternalTools.Output {
            try ExternalTools.run(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary] + args, directory: base, timeout: 120)
        }
        // The binary must be reachable by nobody; if the checkout is private, say so instead of failing oddly.
        let probe = try asNobody(["--version"])
        guard probe.status == 0 else { throw XCTSkip("nobody cannot run \(CLI.binary): \(probe.stderr)") }

        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: data)
        let dirResult = try asNobody(["train", "--data", data, "--out", base + "/r1"])
        XCTAssertNotEqual(dirResult.status, 0)
        XCTAssertTrue(dirResult.stderr.contains(data) && dirResult.stderr.contains("cannot be read"), dirResult.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/r1"))

        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: data)
        let images = data + "/train-images-idx3-ubyte.gz"
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: images)
        let fileResult = try asNobody(["train", "--data", data, "--out", base + "/r2"])
        XCTAssertNotEqual(fileResult.status, 0)
        XCTAssertTrue(fileResult.stderr.contains(images) && fileResult.stderr.contains("permission"), fileResult.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/r2"))
    }
}
