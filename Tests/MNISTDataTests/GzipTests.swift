// Tests of the gzip and zlib wrappers: round trips, multi-member gzip, and clear errors (naming the
// path) for truncated, corrupt, non-gzip input and trailing garbage.
import XCTest

@testable import MNISTData

final class GzipTests: XCTestCase {
    func testRoundTripSizes() throws {
        for count in [0, 1, 100, 70_000, 300_000] {
            let input = Fixtures.bytes(count) + [UInt8](repeating: 7, count: count / 3)
            let gz = Gzip.compress(input)
            XCTAssertTrue(Gzip.isGzip(gz))
            XCTAssertEqual(try Gzip.decompress(gz, path: "r"), input, "size \(count)")
            let z = Gzip.deflateZlib(input)
            XCTAssertFalse(Gzip.isGzip(z))
            XCTAssertEqual(try Gzip.inflateZlib(z, path: "r"), input, "zlib size \(count)")
        }
    }

    func testCompressionActuallyCompresses() {
        let input = [UInt8](repeating: 0, count: 100_000)
        XCTAssertLessThan(Gzip.compress(input).count, 1_000)
        XCTAssertLessThan(Gzip.deflateZlib(input).count, 1_000)
    }

    func testIsGzip() {
        XCTAssertTrue(Gzip.isGzip([0x1f, 0x8b, 0x08]))
        XCTAssertFalse(Gzip.isGzip([0x1f]))
        XCTAssertFalse(Gzip.isGzip([0, 0, 8, 3]))
    }

    func testConcatenatedMembersAreJoined() throws {
        let gz = Gzip.compress([1, 2, 3]) + Gzip.compress([4, 5])
        XCTAssertEqual(try Gzip.decompress(gz, path: "m"), [1, 2, 3, 4, 5])
    }

    func testEveryPrefixRejected() {
        let input = Fixtures.bytes(300)
        let gz = Gzip.compress(input)
        let z = Gzip.deflateZlib(input)
        for length in 0..<gz.count {
            XCTAssertThrowsError(try Gzip.decompress(Array(gz.prefix(length)), path: "p.gz"), "gzip prefix \(length)") { error in
                XCTAssertEqual((error as? DataError)?.path, "p.gz")
            }
        }
        for length in 0..<z.count {
            XCTAssertThrowsError(try Gzip.inflateZlib(Array(z.prefix(length)), path: "p.z"), "zlib prefix \(length)")
        }
        XCTAssertThrowsError(try Gzip.decompress(Array(gz.dropLast(4)), path: "p.gz")) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }

    func testCorruptChecksumRejected() {
        var gz = Gzip.compress(Fixtures.bytes(1000))
        gz[gz.count - 6] ^= 0xFF  // inside the CRC-32 trailer
        XCTAssertThrowsError(try Gzip.decompress(gz, path: "c.gz")) { error in
            XCTAssertEqual((error as? DataError)?.path, "c.gz")
            XCTAssertTrue("\(error)".contains("corrupt"), "\(error)")
        }
    }

    func testCorruptBodyRejected() {
        var z = Gzip.deflateZlib(Fixtures.bytes(1000))
        for i in 2..<(z.count - 4) { z[i] ^= 0x5A }
        XCTAssertThrowsError(try Gzip.inflateZlib(z, path: "c.z")) { error in
            XCTAssertEqual((error as? DataError)?.path, "c.z")
        }
    }

    func testTrailingGarbageRejected() {
        let gz = Gzip.compress([1, 2, 3]) + [0x41, 0x42]
        XCTAssertThrowsError(try Gzip.decompress(gz, path: "t.gz")) { error in
            XCTAssertTrue("\(error)".contains("2 unexpected bytes"), "\(error)")
        }
        XCTAssertThrowsError(try Gzip.inflateZlib(Gzip.deflateZlib([1]) + [0], path: "t.z"))
    }

    func testNotGzipRejected() {
        XCTAssertThrowsError(try Gzip.decompress([0, 0, 8, 1], path: "n")) { error in
            XCTAssertTrue("\(error)".contains("expected gzip data"), "\(error)")
            XCTAssertTrue("\(error)".contains("0x00000801"), "\(error)")
        }
    }
}
