// Tests of the multipart/form-data parser on bodies shaped like curl's and browsers'.
import XCTest

@testable import Serving

final class MultipartTests: XCTestCase {
    private func body(_ parts: [(headers: String, data: [UInt8])], boundary: String = "------------------------abc123") -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            out += Array("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8) + part.data + Array("\r\n".utf8)
        }
        return out + Array("--\(boundary)--\r\n".utf8)
    }

    func testBoundaryFromContentType() {
        XCTAssertEqual(
            Multipart.boundary(contentType: "multipart/form-data; boundary=------------------------abc123"),
            "------------------------abc123")
        XCTAssertEqual(Multipart.boundary(contentType: "multipart/form-data; charset=utf-8; Boundary=\"a b\""), "a b")
        XCTAssertNil(Multipart.boundary(contentType: "multipart/form-data"))
        XCTAssertNil(Multipart.boundary(contentType: "multipart/form-data; boundary="))
    }

    func testParsesFieldsAndKeepsBinaryBytes() throws {
        // Binary data containing CR, LF and a near-boundary must come back byte for byte.
        let binary: [UInt8] = [0x89, 0x50, 0x0D, 0x0A, 0x2D, 0x2D, 0x2D, 0x00, 0xFF, 0x0D, 0x0A]
        let parts = try Multipart.parse(
            body([
                ("Content-Disposition: form-data; name=\"note\"", Array("hello".utf8)),
                ("Content-Disposition: form-data; name=\"image\"; filename=\"seven.png\"\r\nContent-Type: image/png", binary)
            ]), boundary: "------------------------abc123")
        XCTAssertEqual(parts.count, 2)
        XCTAssertEqual(parts[0], MultipartPart(name: "note", filename: nil, contentType: nil, body: Array("hello".utf8)))
        XCTAssertEqual(parts[1].name, "image")
        XCTAssertEqual(parts[1].filename, "seven.png")
        XCTAssertEqual(parts[1].contentType, "image/png")
        XCTAssertEqual(parts[1].body, binary)
    }

    func testMalformedBodiesAreRefusedWith400() {
        let boundary = "xyz"
        let cases: [(String, [UInt8])] = [
            ("no boundary at all", Array("just text".utf8)),
            ("truncated before the closing boundary", Array("--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc".utf8)),
            ("headers never end", Array("--xyz\r\nContent-Disposition: form-data; name=\"image\"".utf8)),
            ("part without a name", Array("--xyz\r\nContent-Type: image/png\r\n\r\nabc\r\n--xyz--".utf8)),
            ("garbage after the boundary", Array("--xyzQQ".utf8))
        ]
        for (what, bytes) in cases {
            XCTAssertThrowsError(try Multipart.parse(bytes, boundary: boundary), what) { error in
                XCTAssertEqual((error as? ServeError)?.status, 400, what)
            }
        }
    }

    func testEmptyFormHasNoParts() throws {
        XCTAssertEqual(try Multipart.parse(Array("--xyz--\r\n".utf8), boundary: "xyz"), [])
    }
}
