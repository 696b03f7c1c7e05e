import Foundation
import NeuralNet
import XCTest

@testable import Training

final class CheckpointTests: XCTestCase {
    func sample() -> Checkpoint {
        Checkpoint(
            header: CheckpointHeader(
                recipeHash: "abc", config: TrainConfig(), progress: TrainingProgress(), optimizerStep: 5, hasBest: false),
            parameters: [1, 2, 3], optimizer: OptimizerState(step: 5, first: [0.1, 0.2, 0.3], second: [0.01, 0.02, 0.03]),
            bestParameters: [])
    }

    func tempPath() -> String { NSTemporaryDirectory() + "digits-ckpt-\(UUID().uuidString).ckpt" }

    func testRoundTrip() throws {
        let path = tempPath()
        try sample().write(to: path)
        let back = try Checkpoint.read(path: path)
        XCTAssertEqual(back.parameters, [1, 2, 3])
        XCTAssertEqual(back.optimizer, sample().optimizer)
        XCTAssertEqual(back.header.recipeHash, "abc")
    }

    func testEveryFlippedByteAndEveryTruncationIsDetected() throws {
        let bytes = try sample().encoded()
        for i in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            var corrupt = bytes
            corrupt[i] ^= 0x20
            XCTAssertThrowsError(try SealedFile.decode(corrupt, magic: Checkpoint.magic, path: "x.ckpt"), "flip at \(i)")
        }
        for n in stride(from: 0, to: bytes.count, by: 7) {
            XCTAssertThrowsError(try SealedFile.decode(Array(bytes[0..<n]), magic: Checkpoint.magic, path: "x.ckpt"), "prefix \(n)")
        }
        var flipped = bytes
        flipped[bytes.count / 2] ^= 1
        XCTAssertThrowsError(try SealedFile.decode(flipped, magic: Checkpoint.magic, path: "run/x.ckpt")) {
            XCTAssertEqual(
                "\($0)",
                "run/x.ckpt: checksum mismatch: the file is corrupt or truncated (SHA-256 of the contents does not match its trailer)")
        }
    }

    func testAModelFileIsNotACheckpoint() throws {
        let path = tempPath()
        try ModelFile(
            spec: .kerasExample, normalization: .unit, weights: try Sequential(spec: .kerasExample).initialParameters(seed: 1),
            metadata: [:]
        ).write(to: path)
        XCTAssertThrowsError(try Checkpoint.read(path: path)) { XCTAssertTrue("\($0)".contains("expected magic 'DGTCKPT1'"), "\($0)") }
    }

    /// Runs /bin/mount or /bin/umount (root only); a failure fails the test in the tool's own words.
    func run(_ tool: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw CocoaError(
                .fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")): \(message)"])
        }
    }

    /// A failed write throws and leaves the previous file as it was: into a directory that vanished,
    /// below a "directory" that is a regular file, and into a directory nobody may write, root
    /// included. Root ignores permission bits, so as root the directory is bind-mounted read-only
    /// over itself (CI runs as root); other users get a directory without write permission.
    func testFailedWriteLeavesThePreviousFileIntact() throws {
        let dir = NSTemporaryDirectory() + "digits-ro-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/a.ckpt"
        try sample().write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SealedFile.writeAtomically([1, 2, 3], to: dir + "/missing/b.ckpt"))
        XCTAssertThrowsError(try SealedFile.writeAtomically([1, 2, 3], to: path + "/b.ckpt")) {
            XCTAssertTrue("\($0)".contains("Not a directory"), "\($0)")
        }

        if getuid() == 0 {
            try run("/bin/mount", ["--bind", dir, dir])
            defer { XCTAssertNoThrow(try run("/bin/umount", [dir])) }
            try run("/bin/mount", ["-o", "remount,bind,ro", dir])
            XCTAssertFalse(FileManager.default.isWritableFile(atPath: dir), "the read-only bind mount is in place")
            XCTAssertThrowsError(try SealedFile.writeAtomically([1, 2, 3], to: path)) {
                XCTAssertTrue("\($0)".contains("Read-only file system"), "\($0)")
            }
        } else {
            chmod(dir, 0o500)
            defer { chmod(dir, 0o700) }
            XCTAssertThrowsError(try SealedFile.writeAtomically([1, 2, 3], to: path)) {
                XCTAssertTrue("\($0)".contains("Permission denied"), "\($0)")
            }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["a.ckpt"], "no temporary file is left behind")
    }

    func testStoreKeepsTheNewestAndSkipsACorruptOne() throws {
        let store = CheckpointStore(directory: NSTemporaryDirectory() + "digits-store-\(UUID().uuidString)")
        for step in [3, 6, 9, 12] {
            var c = sample()
            c.header.progress.globalStep = step
            try store.save(c, keepLast: 3, best: step == 6)
        }
        XCTAssertEqual(
            store.list().map { URL(fileURLWithPath: $0).lastPathComponent },
            ["ckpt-000000006.ckpt", "ckpt-000000009.ckpt", "ckpt-000000012.ckpt"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.bestPath))
        // Corrupt the newest: latest() falls back to step 9 and reports the skipped file.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: store.path(step: 12)))
        bytes[40] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: store.path(step: 12)))
        let (c, _, skipped) = try XCTUnwrap(store.latest())
        XCTAssertEqual(c.header.progress.globalStep, 9)
        XCTAssertEqual(skipped.count, 1)
    }
}
