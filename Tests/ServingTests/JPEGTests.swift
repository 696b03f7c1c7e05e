import MNISTData
// Tests of JPEG decoding through libturbojpeg: round trip, truncation, corruption, size limit.
import XCTest

@testable import Serving

final class JPEGTests: XCTestCase {
    private func gradient(_ width: Int, _ height: Int) -> GrayImage {
        GrayImage(width: width, height: height, pixels: (0..<(width * height)).map { UInt8(($0 % width) * 255 / max(width - 1, 1)) })
    }

    func testRoundTripIsClose() throws {
        let image = gradient(40, 24)
        let bytes = JPEG.encodeGray(image, quality: 95)
        XCTAssertTrue(JPEG.isJPEG(bytes))
        let decoded = try JPEG.decodeGray(bytes)
        XCTAssertEqual(decoded.width, 40)
        XCTAssertEqual(decoded.height, 24)
        let maxError = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThanOrEqual(maxError, 8, "quality-95 JPEG of a smooth gradient")
    }

    func testTruncatedAndCorruptJPEGsAreRefused() {
        let bytes = JPEG.encodeGray(gradient(64, 64))
        for cut in [3, 20, bytes.count / 2, bytes.count - 2] {
            XCTAssertThrowsError(try JPEG.decodeGray(Array(bytes.prefix(cut))), "cut at \(cut)") { error in
                XCTAssertEqual((error as? ServeError)?.status, 400, "cut at \(cut): \(error)")
            }
        }
        XCTAssertThrowsError(try JPEG.decodeGray([0x89, 0x50, 0x4E, 0x47])) { XCTAssertEqual(($0 as? ServeError)?.status, 400) }
        XCTAssertThrowsError(try JPEG.decodeGray([])) { XCTAssertEqual(($0 as? ServeError)?.status, 400) }
    }

    func testHugeDimensionsAreRefusedBeforeDecoding() throws {
        var bytes = JPEG.encodeGray(gradient(16, 16))
        // SOF0 (FF C0): length(2) precision(1) height(2) width(2): claim 60000 x 60000.
        let sof = (0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
        for i in 5..<9 { bytes[sof + i] = i % 2 == 1 ? 0xEA : 0x60 }
        XCTAssertThrowsError(try JPEG.decodeGray(bytes)) { error in
            XCTAssertEqual((error as? ServeError)?.status, 413, "\(error)")
        }
    }
}
