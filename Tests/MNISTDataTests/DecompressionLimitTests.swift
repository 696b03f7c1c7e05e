// Decompression bombs: a decoder that knows how much data to expect stops inflating past it,
// before the output is in memory, and says what it expected.
import XCTest

@testable import MNISTData

final class DecompressionLimitTests: XCTestCase {
    private func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        var out = be32(data.count)
        let start = out.count
        out += Array(type.utf8) + data
        out += be32(Int(PNG.crc(out, from: start, to: out.count)))
        return out
    }

    /// A 1x1 greyscale PNG needs 2 bytes of image data (filter byte + pixel); this one's IDAT is a
    /// 8 MB run of zeros (8 KB compressed). It is refused once inflating passes 2 bytes.
    func testPNGWhoseImageDataInflatesPastTheHeaderIsRefused() {
        let bomb = Gzip.deflateZlib([UInt8](repeating: 0, count: 8 << 20))
        XCTAssertLessThan(bomb.count, 16 << 10)
        let png = PNG.signature + chunk("IHDR", be32(1) + be32(1) + [8, 0, 0, 0, 0]) + chunk("IDAT", bomb) + chunk("IEND", [])
        XCTAssertThrowsError(try PNG.decodeGray(png, path: "bomb.png")) { error in
            let message = (error as? DataError)?.message ?? ""
            XCTAssertTrue(message.contains("1x1, 2 bytes after decompression"), message)
            XCTAssertTrue(message.contains("decompresses to more than 2 bytes"), message)
        }
        // The same image with exactly its 2 bytes still decodes.
        let fine =
            PNG.signature + chunk("IHDR", be32(1) + be32(1) + [8, 0, 0, 0, 0]) + chunk("IDAT", Gzip.deflateZlib([0, 77]))
            + chunk("IEND", [])
        XCTAssertEqual(try PNG.decodeGray(fine, path: "fine.png").pixels, [77])
    }

    func testGzipLimitIsCheckedWhileInflating() throws {
        let data = [UInt8](repeating: 7, count: 100_000)
        let gz = Gzip.compress(data)
        XCTAssertEqual(try Gzip.decompress(gz, path: "x.gz", limit: 100_000), data)
        XCTAssertThrowsError(try Gzip.decompress(gz, path: "x.gz", limit: 99_999)) { error in
            XCTAssertEqual(
                (error as? DataError)?.message,
                "gzip data decompresses to more than 99999 bytes (the most expected here); refusing (corrupt or hostile file?)")
        }
    }

    /// IDX files are inflated with the largest IDX file as the limit, not the general 8 GB.
    func testIDXInflatesAtMostTheLargestIDXFile() {
        XCTAssertEqual(IDXFile.maxFileBytes, 4 + 4 * 255 + (1 << 31))
        XCTAssertLessThan(IDXFile.maxFileBytes, Gzip.maxOutputBytes)
    }

    /// A header claiming 4 billion images of 28x28 is refused from the header alone.
    func testIDXHeaderClaimingBillionsOfImagesIsRefusedBeforeAllocating() {
        let header: [UInt8] = [0, 0, 8, 3] + be32(4_000_000_000) + be32(28) + be32(28)
        XCTAssertThrowsError(try IDXFile.decodeFile(Gzip.compress(header), path: "huge.gz")) { error in
            XCTAssertTrue(((error as? DataError)?.message ?? "").contains("more than 2^31 elements"), "\(error)")
        }
    }
}
