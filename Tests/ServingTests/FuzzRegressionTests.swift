// Inputs the fuzzers (scripts/fuzz.sh) found crashing a decoder, each fed to the fixed decoder,
// which must now throw its error. The same inputs are seeds in Fuzz/corpus/<target>/regression-*.
import XCTest

@testable import Serving

final class FuzzRegressionTests: XCTestCase {
    /// predict target: a PNG whose IHDR claims 4294967295 x 4294967295 pixels. The size check
    /// before inflating multiplied the two sides in Int and trapped on overflow; now it is a 413.
    func testPNGSizeThatOverflowsIntIsRefused() {
        let body: [UInt8] = [
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x04, 0x00,
            0x00, 0x00, 0x08, 0x00, 0x04, 0x00, 0x09, 0x00, 0x8c, 0x9a, 0xc1, 0xa2, 0x3b, 0x00, 0x00, 0x00, 0x1d, 0x49,
            0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x30, 0x09, 0x34, 0x29, 0x1e, 0x00, 0x00, 0x00, 0x33, 0x31, 0x2c, 0x33,
            0x38, 0x4e, 0x46, 0x6f, 0x72, 0x6d, 0x61, 0x74, 0x52, 0x65, 0x73, 0x75, 0x6c, 0x29, 0x74, 0x44, 0xae, 0x42,
            0x20, 0x82
        ]
        XCTAssertThrowsError(try PredictRequest.decode(body: body, contentType: "image/png")) { error in
            let serveError = error as? ServeError
            XCTAssertEqual(serveError?.status, 413)
            XCTAssertTrue(serveError?.message.contains("4294967295x4294967295 exceeds the limit") ?? false, "\(error)")
        }
        // The same upload as a multipart field.
        let form = Array("--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n".utf8) + body + Array("\r\n--b--\r\n".utf8)
        XCTAssertThrowsError(try PredictRequest.decode(body: form, contentType: "multipart/form-data; boundary=b")) { error in
            XCTAssertEqual((error as? ServeError)?.status, 413)
        }
    }
}
