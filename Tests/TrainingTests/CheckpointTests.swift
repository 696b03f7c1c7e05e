import Foundation
import NeuralNet
import XCTest
@testable import Training

final class CheckpointTests: XCTestCase {
    func sample() -> Checkpoint {
        Checkpoint(header: CheckpointHeader(recipeHash: "abc", config: TrainConfig(), progress: TrainingProgress(), optimizerStep: 5, hasBest: false),
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
            XCTAssertEqual("\($0)", "run/x.ckpt: checksum mismatch: the file is corrupt or truncated (SHA-256 of the contents does not match its trailer)")
        }
    }

    func testAModelFileIsNotACheckpoint() throws {
        let path = tempPath()
        try ModelFile(spec: .kerasExample, normalization: .unit, weights: try Sequential(spec: .kerasExample).initialParameters(seed: 1), metadata: [:]).write(to: path)
        XCTAssertThrowsError(try Checkpoint.read(path: path)) { XCTAssertTrue("\($0)".contains("expected magic 'DGTCKPT1'"), "\($0)") }
    }

    func testFailedWriteLeavesThePreviousFileIntact() throws {
        let dir = NSTemporaryDirectory() + "digits-ro-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/a.ckpt"
        try sample().write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        // A write into a directory that vanished fails cleanly, and an unwritable target dir too.
        XCTAssertThrowsError(try SealedFile.writeAtomically([1, 2, 3], to: dir + "/missing/b.ckpt"))
        chmod(dir, 0o500)
        defer { chmod(dir, 0o700) }
        if getuid() != 0 {  // root ignores directory permissions
            XCTAssertThrowsError(try SealedFile.writeAtomically([1, 2, 3], to: path))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testStoreKeepsTheNewestAndSkipsACorruptOne() throws {
        let store = CheckpointStore(directory: NSTemporaryDirectory() + "digits-store-\(UUID().uuidString)")
        for step in [3, 6, 9, 12] {
            var c = sample()
            c.header.progress.globalStep = step
            try store.save(c, keepLast: 3, best: step == 6)
        }
        XCTAssertEqual(store.list().map { URL(fileURLWithPath: $0).lastPathComponent },
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
