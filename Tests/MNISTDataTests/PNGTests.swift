// Tests of the PNG codec against PNGs built by hand here (own CRC-32 and filters): every filter,
// palette with tRNS at 2 bits, RGBA, 16-bit, Adam7; round trips; corrupt and truncated files; PGM.
import Foundation
import XCTest

@testable import MNISTData

final class PNGTests: XCTestCase {
    // MARK: - A minimal, independent PNG writer

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = Self.crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private func be32(_ v: Int) -> [UInt8] {
        [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(data.count) + body + be32(Int(crc32(body)))
    }

    /// A PNG from already-filtered scanlines (each starting with its filter byte).
    private func png(
        width: Int, height: Int, depth: UInt8, colorType: UInt8, interlace: UInt8 = 0,
        extra: [[UInt8]] = [], scanlines: [UInt8]
    ) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", be32(width) + be32(height) + [depth, colorType, 0, 0, interlace])
            + extra.flatMap { $0 }
            + chunk("IDAT", Gzip.deflateZlib(scanlines))
            + chunk("IEND", [])
    }

    /// Filters `rows` (raw bytes) with the given filter type per row, `stride` bytes per pixel.
    private func filter(_ rows: [[UInt8]], types: [UInt8], stride: Int) -> [UInt8] {
        var out: [UInt8] = []
        for (y, row) in rows.enumerated() {
            let up = y > 0 ? rows[y - 1] : [UInt8](repeating: 0, count: row.count)
            let type = types[y % types.count]
            out.append(type)
            for i in 0..<row.count {
                let a = i >= stride ? Int(row[i - stride]) : 0
                let b = Int(up[i])
                let c = i >= stride ? Int(up[i - stride]) : 0
                var predictor = 0
                switch type {
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: predictor = 0
                }
                out.append(UInt8((Int(row[i]) - predictor) & 0xFF))
            }
        }
        return out
    }

    private func luminance(_ r: Int, _ g: Int, _ b: Int) -> UInt8 {
        UInt8((0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)).rounded())
    }

    // MARK: - Decoding hand-made files

    func testAllFiveFiltersGray8() throws {
        let (w, h) = (7, 10)
        let pixels = (0..<(w * h)).map { UInt8(($0 * 53 + ($0 / w) * 17) & 0xFF) }
        let rows = (0..<h).map { Array(pixels[($0 * w)..<(($0 + 1) * w)]) }
        let bytes = png(width: w, height: h, depth: 8, colorType: 0, scanlines: filter(rows, types: [0, 1, 2, 3, 4], stride: 1))
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "f.png"), GrayImage(width: w, height: h, pixels: pixels))
    }

    func testPaethTieBreaksTowardsUpBeforeUpperLeft() throws {
        // At (1, 1): left a = 0, up b = 30, upper-left c = 10, so pa = 20 > pb = pc = 10: predictor b.
        let rows: [[UInt8]] = [[10, 30], [0, 77]]
        let bytes = png(width: 2, height: 2, depth: 8, colorType: 0, scanlines: filter(rows, types: [0, 4], stride: 1))
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "paeth.png").pixels, [10, 30, 0, 77])
    }

    func testAllFiveFiltersRGB8UseThreeByteStride() throws {
        let (w, h) = (4, 5)
        let rgb = (0..<(w * h * 3)).map { UInt8(($0 * 71 + 13) & 0xFF) }
        let rows = (0..<h).map { Array(rgb[($0 * w * 3)..<(($0 + 1) * w * 3)]) }
        let bytes = png(width: w, height: h, depth: 8, colorType: 2, scanlines: filter(rows, types: [4, 3, 2, 1, 0], stride: 3))
        let expected = (0..<(w * h)).map { luminance(Int(rgb[3 * $0]), Int(rgb[3 * $0 + 1]), Int(rgb[3 * $0 + 2])) }
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "rgb.png").pixels, expected)
    }

    func testGray16TakesHighByte() throws {
        let rows: [[UInt8]] = [[0x12, 0xFF, 0xAB, 0x00], [0x00, 0x01, 0xFF, 0xFF]]
        let bytes = png(width: 2, height: 2, depth: 16, colorType: 0, scanlines: filter(rows, types: [1, 4], stride: 2))
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "g16.png").pixels, [0x12, 0xAB, 0x00, 0xFF])
    }

    func testPalette2BitWithTransparency() throws {
        let palette: [UInt8] = [0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255]
        // Indices row 0: 0 1 2 3 0, row 1: 3 2 1 0 1 (2 bits each, MSB first, rows padded).
        let rows: [[UInt8]] = [[0b0001_1011, 0b0000_0000], [0b1110_0100, 0b0100_0000]]
        let bytes = png(
            width: 5, height: 2, depth: 2, colorType: 3,
            extra: [chunk("PLTE", palette), chunk("tRNS", [255, 255, 0])],
            scanlines: filter(rows, types: [0, 2], stride: 1))
        // Entry 2 (red) is fully transparent: white. Entry 3 (blue): 0.114 * 255 = 29.
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "p.png").pixels, [0, 255, 255, 29, 0, 29, 255, 255, 0, 255])
    }

    func testPaletteWithoutPLTERejected() {
        let bytes = png(width: 1, height: 1, depth: 8, colorType: 3, scanlines: [0, 0])
        XCTAssertThrowsError(try PNG.decodeGray(bytes, path: "p.png")) { error in
            XCTAssertTrue("\(error)".contains("PLTE"), "\(error)")
        }
    }

    func testPaletteIndexOutOfRangeRejected() {
        let bytes = png(width: 1, height: 1, depth: 8, colorType: 3, extra: [chunk("PLTE", [1, 2, 3])], scanlines: [0, 5])
        XCTAssertThrowsError(try PNG.decodeGray(bytes, path: "p.png")) { error in
            XCTAssertTrue("\(error)".contains("palette index 5"), "\(error)")
        }
    }

    func testRGBACompositedOverWhite() throws {
        let row: [UInt8] = [255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128, 100, 100, 100, 255, 200, 100, 50, 51]
        let bytes = png(width: 5, height: 1, depth: 8, colorType: 6, scanlines: filter([row], types: [1], stride: 4))
        // (lum * a + 255 * (255 - a)) / 255, rounded: red 76, transparent 255, half-black 127, grey 100, 228.84 -> 229.
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "rgba.png").pixels, [76, 255, 127, 100, 229])
    }

    func testGrayAlpha16() throws {
        let row: [UInt8] = [0x40, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00]
        let bytes = png(width: 2, height: 1, depth: 16, colorType: 4, scanlines: filter([row], types: [0], stride: 4))
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "ga.png").pixels, [0x40, 255])
    }

    func testAdam7Interlaced() throws {
        let (w, h) = (9, 10)
        let pixel = { (x: Int, y: Int) in UInt8((x * 29 + y * 13) & 0xFF) }
        let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        var scanlines: [UInt8] = []
        for (x0, y0, dx, dy) in passes {
            let rows = stride(from: y0, to: h, by: dy).map { y in stride(from: x0, to: w, by: dx).map { pixel($0, y) } }
            if rows.isEmpty || rows[0].isEmpty { continue }
            scanlines += filter(rows, types: [1, 2, 3, 4, 0], stride: 1)
        }
        let bytes = png(width: w, height: h, depth: 8, colorType: 0, interlace: 1, scanlines: scanlines)
        let expected = (0..<h).flatMap { y in (0..<w).map { pixel($0, y) } }
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "i.png").pixels, expected)
    }

    // MARK: - Round trips

    func testGrayRoundTrip() throws {
        let (w, h) = (13, 9)
        let image = GrayImage(width: w, height: h, pixels: (0..<(w * h)).map { UInt8(($0 % w) * 19 ^ ($0 / w) * 7) })
        let bytes = PNG.encode(image)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "rt.png"), image)
        let flat = GrayImage(width: 1, height: 1, pixels: [42])
        XCTAssertEqual(try PNG.decodeGray(PNG.encode(flat), path: "1.png"), flat)
    }

    func testRGBRoundTripToLuminance() throws {
        let (w, h) = (6, 4)
        let rgb = (0..<(w * h * 3)).map { UInt8(($0 * 41 + 7) & 0xFF) }
        let bytes = PNG.encode(RGBImage(width: w, height: h, pixels: rgb))
        XCTAssertEqual(bytes[8 + 8 + 9], 2, "colour type must be RGB")
        let expected = (0..<(w * h)).map { luminance(Int(rgb[3 * $0]), Int(rgb[3 * $0 + 1]), Int(rgb[3 * $0 + 2])) }
        XCTAssertEqual(try PNG.decodeGray(bytes, path: "rgb.png"), GrayImage(width: w, height: h, pixels: expected))
    }

    // MARK: - Corrupt input

    func testCorruptCRCRejected() {
        var bytes = PNG.encode(GrayImage(width: 4, height: 4, pixels: Fixtures.bytes(16)))
        bytes[8 + 8 + 2] ^= 0x01  // inside IHDR's data (width)
        XCTAssertThrowsError(try PNG.decodeGray(bytes, path: "crc.png")) { error in
            XCTAssertEqual((error as? DataError)?.path, "crc.png")
            XCTAssertTrue("\(error)".contains("CRC mismatch in the IHDR chunk"), "\(error)")
        }
    }

    func testEveryPrefixRejected() {
        let bytes = PNG.encode(GrayImage(width: 5, height: 3, pixels: Fixtures.bytes(15)))
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try PNG.decodeGray(Array(bytes.prefix(length)), path: "t.png"), "prefix \(length) of \(bytes.count)") {
                error in
                XCTAssertEqual((error as? DataError)?.path, "t.png")
            }
        }
    }

    func testShortImageDataRejected() {
        let bytes = png(width: 4, height: 3, depth: 8, colorType: 0, scanlines: [0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
        XCTAssertThrowsError(try PNG.decodeGray(bytes, path: "s.png")) { error in
            XCTAssertTrue("\(error)".contains("needs 15 bytes after decompression, found 10"), "\(error)")
        }
    }

    func testInvalidFilterTypeRejected() {
        let bytes = png(width: 2, height: 1, depth: 8, colorType: 0, scanlines: [7, 1, 2])
        XCTAssertThrowsError(try PNG.decodeGray(bytes, path: "f.png")) { error in
            XCTAssertTrue("\(error)".contains("invalid filter type 7"), "\(error)")
        }
    }

    func testInvalidHeaderAndUnknownCriticalChunkRejected() {
        let badDepth = png(width: 1, height: 1, depth: 3, colorType: 0, scanlines: [0, 0])
        XCTAssertThrowsError(try PNG.decodeGray(badDepth, path: "d.png")) { error in
            XCTAssertTrue("\(error)".contains("bit depth 3"), "\(error)")
        }
        let critical = png(width: 1, height: 1, depth: 8, colorType: 0, extra: [chunk("ABCD", [1])], scanlines: [0, 0])
        XCTAssertThrowsError(try PNG.decodeGray(critical, path: "c.png")) { error in
            XCTAssertTrue("\(error)".contains("unknown critical chunk ABCD"), "\(error)")
        }
        let ancillary = png(width: 1, height: 1, depth: 8, colorType: 0, extra: [chunk("tEXt", Array("a\u{0}b".utf8))], scanlines: [0, 9])
        XCTAssertEqual(try? PNG.decodeGray(ancillary, path: "a.png").pixels, [9])
    }

    // MARK: - Files

    func testImageFileReadsPNGAndPGMByContent() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let image = GrayImage(width: 3, height: 2, pixels: [0, 50, 100, 150, 200, 250])
        let pngPath = Fixtures.join(directory, "digit.pgm")  // the name lies: content decides
        try Data(PNG.encode(image)).write(to: URL(fileURLWithPath: pngPath))
        XCTAssertEqual(try ImageFile.readGray(path: pngPath), image)

        let pgmPath = Fixtures.join(directory, "digit.png")
        try Data(Array("P5\n# a comment\n3 2\n255\n".utf8) + image.pixels).write(to: URL(fileURLWithPath: pgmPath))
        XCTAssertEqual(try ImageFile.readGray(path: pgmPath), image)
        XCTAssertEqual(try PNM.decodeGray(PNM.encode(image), path: "e.pgm"), image)

        let truncated = Fixtures.join(directory, "short.pgm")
        try Data(Array("P5 3 2 255 ".utf8) + [1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try ImageFile.readGray(path: truncated)) { error in
            XCTAssertTrue("\(error)".contains("truncated PGM/PPM: 3x2 needs 6 bytes of pixel data, found 5"), "\(error)")
        }

        let text = Fixtures.join(directory, "notes.txt")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        XCTAssertThrowsError(try ImageFile.readGray(path: text)) { error in
            XCTAssertEqual((error as? DataError)?.path, text)
            XCTAssertTrue("\(error)".contains("expected a PNG"), "\(error)")
        }
        XCTAssertThrowsError(try ImageFile.readGray(path: Fixtures.join(directory, "absent.png")))
    }
}
