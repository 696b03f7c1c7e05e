import MNISTData
// Tests of /v1/predict request decoding: every accepted form (PNG, JPEG, multipart, JSON 784,
// JSON 28x28, batches, 0...1 scale) and every refusal with its 4xx status.
import XCTest

@testable import Serving

final class PredictRequestTests: XCTestCase {
    /// A 28x28 light-on-dark image with a vertical bar.
    private let digit: GrayImage = {
        var pixels = [UInt8](repeating: 0, count: 784)
        for y in 4..<24 { for x in 12..<16 { pixels[y * 28 + x] = 250 } }
        return GrayImage(width: 28, height: 28, pixels: pixels)
    }()

    private func status(_ body: [UInt8], _ contentType: String?, file: StaticString = #filePath, line: UInt = #line) -> Int? {
        do {
            _ = try PredictRequest.decode(body: body, contentType: contentType)
            XCTFail("accepted", file: file, line: line)
            return nil
        } catch let error as ServeError {
            XCTAssertFalse(error.message.isEmpty, file: file, line: line)
            return error.status
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    private func json(_ value: Any) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: value)) }

    func testRawPNGAndJPEGBodies() throws {
        let png = PNG.encode(digit)
        let a = try PredictRequest.decode(body: png, contentType: "image/png")
        XCTAssertEqual(a, PredictInput(images: [digit], isBatch: false))
        // Recognised by content, whatever image type is declared.
        XCTAssertEqual(try PredictRequest.decode(body: png, contentType: "application/octet-stream").images, [digit])
        let jpeg = try PredictRequest.decode(body: JPEG.encodeGray(digit, quality: 100), contentType: "image/jpeg; charset=binary")
        XCTAssertEqual(jpeg.images.count, 1)
        XCTAssertEqual(jpeg.images[0].width, 28)
        XCTAssertLessThanOrEqual(zip(jpeg.images[0].pixels, digit.pixels).map { abs(Int($0) - Int($1)) }.max()!, 24)
    }

    func testMultipartImageFields() throws {
        let png = PNG.encode(digit)
        func form(_ fields: [(String, [UInt8])]) -> [UInt8] {
            var out: [UInt8] = []
            for (name, data) in fields {
                out += Array(
                    "--B0undary\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"d.png\"\r\nContent-Type: image/png\r\n\r\n"
                        .utf8)
                out += data + Array("\r\n".utf8)
            }
            return out + Array("--B0undary--\r\n".utf8)
        }
        let type = "multipart/form-data; boundary=B0undary"
        XCTAssertEqual(
            try PredictRequest.decode(body: form([("image", png)]), contentType: type), PredictInput(images: [digit], isBatch: false))
        let two = try PredictRequest.decode(body: form([("other", Array("x".utf8)), ("image", png), ("image", png)]), contentType: type)
        XCTAssertEqual(two, PredictInput(images: [digit, digit], isBatch: true))
        XCTAssertEqual(status(form([("file", png)]), type), 400, "no `image` field")
        XCTAssertEqual(status(form([("image", Array(png.prefix(40)))]), type), 400, "truncated PNG in the form")
        XCTAssertEqual(status([], type), 400, "empty multipart body")
        XCTAssertEqual(status(form([("image", png)]), "multipart/form-data"), 400, "no boundary")
    }

    func testJSONForms() throws {
        let flat = digit.pixels.map(Int.init)
        let rows = (0..<28).map { Array(flat[($0 * 28)..<($0 * 28 + 28)]) }
        XCTAssertEqual(
            try PredictRequest.decode(body: json(flat), contentType: "application/json"), PredictInput(images: [digit], isBatch: false))
        XCTAssertEqual(
            try PredictRequest.decode(body: json(rows), contentType: "application/json; charset=utf-8"),
            PredictInput(images: [digit], isBatch: false))
        XCTAssertEqual(
            try PredictRequest.decode(body: json([flat, flat, flat]), contentType: "application/json"),
            PredictInput(images: [digit, digit, digit], isBatch: true))
        XCTAssertEqual(
            try PredictRequest.decode(body: json([rows, rows]), contentType: "application/json"),
            PredictInput(images: [digit, digit], isBatch: true))
        XCTAssertEqual(
            try PredictRequest.decode(body: json([flat]), contentType: "application/json"),
            PredictInput(images: [digit], isBatch: true), "a batch of one is still a batch")
        // A batch of exactly 28 flat images is not mistaken for one 28x28 image.
        XCTAssertEqual(
            try PredictRequest.decode(body: json(Array(repeating: flat, count: 28)), contentType: "application/json").images.count, 28)
        // 0...1 intensities.
        let unit = digit.pixels.map { Double($0) / 255 }
        XCTAssertEqual(try PredictRequest.decode(body: json(unit), contentType: "application/json").images, [digit])
    }

    func testJSONRefusals() {
        let flat = [Int](repeating: 0, count: 784)
        let cases: [(String, [UInt8], Int)] = [
            ("empty body", [], 400),
            ("not JSON", Array("{\"image\": [1, 2,".utf8), 400),
            ("an object", json(["image": flat]), 400),
            ("a string", Array("\"seven\"".utf8), 400),
            ("empty array", json([Int]()), 400),
            ("783 values", json(Array(flat.dropLast())), 400),
            ("28 rows of 27", json(Array(repeating: [Int](repeating: 0, count: 27), count: 28)), 400),
            ("a value over 255", json(flat.enumerated().map { $0.offset == 5 ? 256 : 0 }), 400),
            ("a negative value", json(flat.enumerated().map { $0.offset == 5 ? -1 : 0 }), 400),
            ("a string pixel", json(flat.enumerated().map { $0.offset == 7 ? "x" as Any : 0 as Any }), 400),
            ("a null pixel", json(flat.enumerated().map { $0.offset == 7 ? NSNull() as Any : 0 as Any }), 400),
            ("a bad image in a batch", json([flat, [1, 2, 3]]), 400),
            ("too many images", json(Array(repeating: flat, count: PredictRequest.maxBatch + 1)), 413)
        ]
        for (what, body, expected) in cases {
            XCTAssertEqual(status(body, "application/json"), expected, what)
        }
    }

    func testContentTypeAndImageRefusals() {
        let png = PNG.encode(digit)
        XCTAssertEqual(status(png, nil), 415, "no content type")
        XCTAssertEqual(status(png, "text/plain"), 415)
        XCTAssertEqual(status(png, "application/x-www-form-urlencoded"), 415)
        XCTAssertEqual(status([], "image/png"), 400, "empty body")
        XCTAssertEqual(status(Array(png.prefix(png.count - 13)), "image/png"), 400, "truncated PNG")
        XCTAssertEqual(status(Array(png.prefix(8)), "image/png"), 400, "signature only")
        XCTAssertEqual(status(Array("hello".utf8), "image/png"), 400, "not an image")
        var corrupt = png
        corrupt[40] ^= 0xFF
        XCTAssertEqual(status(corrupt, "image/png"), 400, "CRC mismatch")
        // A PNG header claiming 100000 x 100000 pixels is refused before inflating.
        var huge = png
        for i in 16..<24 { huge[i] = [0, 1, 0x86, 0xA0][i % 4] }
        XCTAssertEqual(status(huge, "image/png"), 413)
    }
}
