// Tests of the IDX reader and writer: raw and gzip round trips, and rejection (never a crash) of
// truncated files, wrong magic, unsupported types, absurd sizes, trailing bytes and missing files.
import Foundation
import XCTest

@testable import MNISTData

/// Shared helpers: temporary directories and small fake MNIST files.
enum Fixtures {
    static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("mnistdata-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    static func join(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    /// Deterministic bytes.
    static func bytes(_ count: Int, seed: Int = 1) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 37 &+ seed &* 11) ^ ($0 >> 3)) }
    }

    /// Writes the four MNIST files (tiny: 2x3 images) into `directory`.
    @discardableResult
    static func writeFakeMNIST(in directory: String, train: Int = 6, test: Int = 4, gzip: Bool = true) throws -> [String: [UInt8]] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var contents: [String: [UInt8]] = [:]
        let sets = [(MNISTFiles.trainImages, MNISTFiles.trainLabels, train), (MNISTFiles.testImages, MNISTFiles.testLabels, test)]
        for (imagesName, labelsName, count) in sets {
            let images = IDXArray(dims: [count, 2, 3], data: bytes(count * 6, seed: count))
            let labels = IDXArray(dims: [count], data: (0..<count).map { UInt8($0 % 10) })
            for (name, array) in [(imagesName, images), (labelsName, labels)] {
                try IDXFile.write(array, path: join(directory, gzip ? name + ".gz" : name), gzip: gzip)
                contents[name] = IDXFile.encode(array)
            }
        }
        return contents
    }
}

final class IDXFileTests: XCTestCase {
    func testEncodeWritesBigEndianHeaderThenData() {
        let array = IDXArray(dims: [2, 258], data: Fixtures.bytes(516))
        let bytes = IDXFile.encode(array)
        XCTAssertEqual(Array(bytes[0..<12]), [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 1, 2])
        XCTAssertEqual(Array(bytes[12...]), array.data)
    }

    func testRawRoundTrip() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let path = Fixtures.join(directory, "images-idx3-ubyte")
        let array = IDXArray(dims: [5, 4, 3], data: Fixtures.bytes(60))
        try IDXFile.write(array, path: path, gzip: false)
        let stored = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(stored.prefix(4)), [0, 0, 8, 3], "raw file must start with the IDX magic")
        XCTAssertEqual(try IDXFile.read(path: path), array)
    }

    func testGzipRoundTripDetectedByContentNotName() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let array = IDXArray(dims: [7], data: Fixtures.bytes(7))
        // Gzip content under a name without .gz, raw content under a name with .gz.
        let gzipped = Fixtures.join(directory, "labels-idx1-ubyte")
        let raw = Fixtures.join(directory, "other-idx1-ubyte.gz")
        try IDXFile.write(array, path: gzipped, gzip: true)
        try IDXFile.write(array, path: raw, gzip: false)
        XCTAssertTrue(Gzip.isGzip([UInt8](try Data(contentsOf: URL(fileURLWithPath: gzipped)))))
        XCTAssertEqual(try IDXFile.read(path: gzipped), array)
        XCTAssertEqual(try IDXFile.read(path: raw), array)
    }

    func testWriteReplacesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let path = Fixtures.join(directory, "a-idx1-ubyte")
        try IDXFile.write(IDXArray(dims: [3], data: [1, 2, 3]), path: path, gzip: false)
        try IDXFile.write(IDXArray(dims: [2], data: [9, 8]), path: path, gzip: true)
        XCTAssertEqual(try IDXFile.read(path: path), IDXArray(dims: [2], data: [9, 8]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["a-idx1-ubyte"])
    }

    func testWriteRejectsInconsistentArray() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let path = Fixtures.join(directory, "bad")
        XCTAssertThrowsError(try IDXFile.write(IDXArray(dims: [2, 2], data: [1, 2, 3]), path: path, gzip: false)) { error in
            XCTAssertEqual((error as? DataError)?.path, path)
            XCTAssertTrue("\(error)".contains("need 4 bytes of data, found 3"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testEveryPrefixOfRawFileIsRejected() {
        let bytes = IDXFile.encode(IDXArray(dims: [2, 3, 2], data: Fixtures.bytes(12)))
        XCTAssertNoThrow(try IDXFile.decode(bytes, path: "x"))
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try IDXFile.decode(Array(bytes.prefix(length)), path: "prefix.idx"), "prefix \(length)") { error in
                XCTAssertEqual((error as? DataError)?.path, "prefix.idx")
            }
        }
    }

    func testEveryPrefixOfGzipFileIsRejected() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let gz = Gzip.compress(IDXFile.encode(IDXArray(dims: [2, 3, 2], data: Fixtures.bytes(12))))
        let path = Fixtures.join(directory, "p.gz")
        for length in 0..<gz.count {
            try Data(gz.prefix(length)).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try IDXFile.read(path: path), "gzip prefix \(length) of \(gz.count)") { error in
                XCTAssertEqual((error as? DataError)?.path, path)
            }
        }
    }

    func testTruncatedDataMessage() {
        let bytes = IDXFile.encode(IDXArray(dims: [3, 4], data: Fixtures.bytes(12)))
        XCTAssertThrowsError(try IDXFile.decode(Array(bytes.dropLast()), path: "t")) { error in
            XCTAssertTrue("\(error)".contains("truncated: expected 12 bytes of data"), "\(error)")
            XCTAssertTrue("\(error)".contains("found 11"), "\(error)")
        }
    }

    func testTrailingBytesRejected() {
        let bytes = IDXFile.encode(IDXArray(dims: [3], data: [1, 2, 3])) + [0]
        XCTAssertThrowsError(try IDXFile.decode(bytes, path: "t")) { error in
            XCTAssertTrue("\(error)".contains("trailing bytes"), "\(error)")
            XCTAssertTrue("\(error)".contains("1 extra"), "\(error)")
        }
    }

    func testWrongMagic() {
        let bytes: [UInt8] = [0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7]
        XCTAssertThrowsError(try IDXFile.decode(bytes, path: "m.idx")) { error in
            XCTAssertEqual((error as? DataError)?.path, "m.idx")
            XCTAssertTrue("\(error)".hasPrefix("m.idx: "), "\(error)")
            XCTAssertTrue("\(error)".contains("expected magic 0x0000 0803 or 0801"), "\(error)")
            XCTAssertTrue("\(error)".contains("found 0x12340801"), "\(error)")
        }
    }

    func testGzipBytesPassedToDecodeGetAHint() {
        let gz = Gzip.compress(IDXFile.encode(IDXArray(dims: [1], data: [1])))
        XCTAssertThrowsError(try IDXFile.decode(gz, path: "g")) { error in
            XCTAssertTrue("\(error)".contains("gzip"), "\(error)")
        }
    }

    func testUnsupportedElementTypeNamed() {
        let bytes: [UInt8] = [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]
        XCTAssertThrowsError(try IDXFile.decode(bytes, path: "f")) { error in
            XCTAssertTrue("\(error)".contains("float32"), "\(error)")
            XCTAssertTrue("\(error)".contains("0x08"), "\(error)")
        }
    }

    func testZeroDimensionsRejected() {
        XCTAssertThrowsError(try IDXFile.decode([0, 0, 8, 0, 42], path: "z")) { error in
            XCTAssertTrue("\(error)".contains("at least 1 dimension"), "\(error)")
        }
    }

    func testAbsurdDimensionsRejected() {
        let overflow: [UInt8] = [0, 0, 8, 3] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF] + [1, 2]
        let tooBig: [UInt8] = [0, 0, 8, 2] + [0, 1, 0, 0] + [0, 1, 0, 0] + [1]  // 2^32 elements
        for bytes in [overflow, tooBig] {
            XCTAssertThrowsError(try IDXFile.decode(bytes, path: "a")) { error in
                XCTAssertTrue("\(error)".contains("absurd"), "\(error)")
            }
        }
    }

    func testEmptyDimensionIsValid() throws {
        let array = IDXArray(dims: [0, 28, 28], data: [])
        XCTAssertEqual(try IDXFile.decode(IDXFile.encode(array), path: "e"), array)
    }

    func testMissingFileAndDirectoryNamed() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let missing = Fixtures.join(directory, "nope-idx1-ubyte")
        XCTAssertThrowsError(try IDXFile.read(path: missing)) { error in
            XCTAssertEqual(error as? DataError, DataError(path: missing, message: "file not found"))
        }
        XCTAssertThrowsError(try IDXFile.read(path: directory)) { error in
            XCTAssertEqual((error as? DataError)?.path, directory)
            XCTAssertTrue("\(error)".contains("directory"), "\(error)")
        }
    }
}
