// Binary Netpbm images: PGM (P5, greyscale) and PPM (P6, RGB, converted to luminance) decoding,
// PGM encoding. Maximum values up to 65535 (two big-endian bytes per sample) are accepted.

/// Binary PGM/PPM decoding to greyscale, PGM encoding.
public enum PNM {
    /// True when `bytes` start with "P5" or "P6".
    public static func isPNM(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") && (bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6"))
    }

    /// Decodes a binary PGM (P5) or PPM (P6); samples are scaled to 0...255, RGB converted to
    /// luminance 0.299R + 0.587G + 0.114B, rounded.
    /// - Throws: `DataError` naming `path` for a bad magic, malformed header or truncated data.
    public static func decodeGray(_ bytes: [UInt8], path: String) throws -> GrayImage {
        guard isPNM(bytes) else {
            throw DataError(
                path: path, message: "not a binary PGM/PPM: expected \"P5\" or \"P6\", found \(Gzip.hexPrefix(bytes, count: 2))")
        }
        let channels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
        var position = 2
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
        func number(_ what: String) throws -> Int {
            // Whitespace and comments ('#' to end of line) before each number.
            while position < bytes.count {
                if isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0A { position += 1 }
                } else {
                    break
                }
            }
            var value = 0
            var digits = 0
            while position < bytes.count, (0x30...0x39).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - 0x30)
                digits += 1
                position += 1
                guard digits <= 9 else {
                    throw DataError(path: path, message: "malformed PGM/PPM header: \(what) has too many digits")
                }
            }
            guard digits > 0 else {
                let found = position < bytes.count ? "byte 0x\(IDXFile.hex(UInt32(bytes[position]), digits: 2))" : "the end of the file"
                throw DataError(
                    path: path,
                    message: "malformed PGM/PPM header: expected the \(what) as a decimal number at byte \(position), found \(found)")
            }
            return value
        }
        let width = try number("width")
        let height = try number("height")
        let maxValue = try number("maximum value")
        guard width >= 1, height >= 1, width * height <= PNG.maxPixels else {
            throw DataError(path: path, message: "invalid PGM/PPM size: expected 1...\(PNG.maxPixels) pixels, found \(width)x\(height)")
        }
        guard (1...65535).contains(maxValue) else {
            throw DataError(path: path, message: "invalid PGM/PPM maximum value: expected 1...65535, found \(maxValue)")
        }
        guard position < bytes.count, isSpace(bytes[position]) else {
            throw DataError(
                path: path, message: "malformed PGM/PPM header: expected one whitespace byte after the maximum value at byte \(position)")
        }
        position += 1
        let sampleBytes = maxValue > 255 ? 2 : 1
        let needed = width * height * channels * sampleBytes
        let found = bytes.count - position
        guard found >= needed else {
            throw DataError(
                path: path, message: "truncated PGM/PPM: \(width)x\(height) needs \(needed) bytes of pixel data, found \(found)")
        }
        func sample(_ i: Int) -> Double {
            let v = sampleBytes == 1 ? Int(bytes[position + i]) : Int(bytes[position + 2 * i]) << 8 | Int(bytes[position + 2 * i + 1])
            return Double(min(v, maxValue)) * 255 / Double(maxValue)
        }
        var pixels = [UInt8](repeating: 0, count: width * height)
        for p in 0..<(width * height) {
            let value =
                channels == 1
                ? sample(p)
                : 0.299 * sample(3 * p) + 0.587 * sample(3 * p + 1) + 0.114 * sample(3 * p + 2)
            pixels[p] = UInt8(max(0, min(255, value.rounded())))
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Encodes a binary PGM (P5, maximum value 255).
    /// - Precondition: `pixels.count == width * height`.
    public static func encode(_ image: GrayImage) -> [UInt8] {
        precondition(
            image.pixels.count == image.width * image.height,
            "GrayImage \(image.width)x\(image.height) with \(image.pixels.count) pixels cannot be encoded")
        return Array("P5\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
    }
}
