// A small PNG codec on zlib (RFC 2083 / PNG spec 1.2): decodes every standard colour type and bit
// depth, Adam7 interlacing and all five filters to greyscale; encodes 8-bit grey and RGB images.
import CZlib

/// An 8-bit greyscale image, row-major, 0 = black, 255 = white.
public struct GrayImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// `width * height` bytes, row-major.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// An 8-bit RGB image, row-major.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// `width * height * 3` bytes, RGB interleaved, row-major.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// PNG decoding (to greyscale) and encoding.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Larger images are refused (a hostile header could otherwise ask for gigabytes).
    static let maxPixels = 1 << 28

    /// True when `bytes` start with the PNG signature.
    public static func isPNG(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && Array(bytes[0..<8]) == signature
    }

    private struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var interlaced: Bool

        var channels: Int {
            switch colorType {
            case 2: return 3
            case 4: return 2
            case 6: return 4
            default: return 1  // 0 grey, 3 palette
            }
        }
        var bitsPerPixel: Int { channels * bitDepth }
        /// Bytes between a byte and the one it is filtered against (at least 1).
        var filterStride: Int { max(1, bitsPerPixel / 8) }
        func rowBytes(width: Int) -> Int { (width * bitsPerPixel + 7) / 8 }
    }

    /// Decodes 8-bit (and 16-bit, taking the high byte; and 1/2/4-bit) greyscale, grey+alpha, RGB,
    /// RGBA and palette PNGs, plain or Adam7-interlaced, all five filter types; converts to
    /// greyscale luminance (0.299R + 0.587G + 0.114B, rounded), honours tRNS, and composites alpha
    /// over white. Verifies chunk CRCs.
    /// - Throws: `DataError` naming `path` for a bad signature, truncation, CRC mismatch, invalid
    ///   header, missing palette, unknown critical chunk or corrupt image data.
    public static func decodeGray(_ bytes: [UInt8], path: String) throws -> GrayImage {
        guard isPNG(bytes) else {
            throw DataError(
                path: path, message: "not a PNG: expected signature 0x89504e470d0a1a0a, found \(Gzip.hexPrefix(bytes, count: 8))")
        }
        var offset = 8
        var header: Header?
        var palette: [UInt8]?  // RGB triples
        var transparency: [UInt8]?  // raw tRNS chunk
        var imageData: [UInt8] = []
        var sawImageData = false
        chunks: while true {
            guard offset + 8 <= bytes.count else {
                throw DataError(
                    path: path,
                    message:
                        """
                        truncated PNG: expected a chunk header at byte \(offset), but the file ends at byte \(bytes.count) before the \
                        IEND chunk
                        """
                )
            }
            let length = Int(be32(bytes, offset))
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= 0x7FFF_FFFF, typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw DataError(
                    path: path,
                    message: "corrupt PNG: invalid chunk header at byte \(offset) (length \(length), type \(Gzip.hexPrefix(typeBytes)))")
            }
            let dataStart = offset + 8
            let dataEnd = dataStart + length
            guard dataEnd + 4 <= bytes.count else {
                throw DataError(
                    path: path,
                    message:
                        "truncated PNG: the \(type) chunk at byte \(offset) needs \(length + 12) bytes, only \(bytes.count - offset) remain"
                )
            }
            let storedCRC = be32(bytes, dataEnd)
            let actualCRC = crc(bytes, from: offset + 4, to: dataEnd)
            guard storedCRC == actualCRC else {
                throw DataError(
                    path: path,
                    message:
                        """
                        corrupt PNG: CRC mismatch in the \(type) chunk at byte \(offset): stored \
                        0x\(IDXFile.hex(storedCRC, digits: 8)), computed 0x\(IDXFile.hex(actualCRC, digits: 8))
                        """
                )
            }
            let data = bytes[dataStart..<dataEnd]
            if header == nil && type != "IHDR" {
                throw DataError(path: path, message: "corrupt PNG: expected the IHDR chunk first, found \(type)")
            }
            switch type {
            case "IHDR":
                guard header == nil else {
                    throw DataError(path: path, message: "corrupt PNG: more than one IHDR chunk")
                }
                header = try parseHeader(Array(data), path: path)
            case "PLTE":
                guard length % 3 == 0, (3...768).contains(length) else {
                    throw DataError(
                        path: path,
                        message: "corrupt PNG: expected a PLTE chunk of 1 to 256 RGB entries (a multiple of 3 bytes), found \(length) bytes"
                    )
                }
                palette = Array(data)
            case "tRNS":
                transparency = Array(data)
            case "IDAT":
                imageData.append(contentsOf: data)
                sawImageData = true
            case "IEND":
                break chunks
            default:
                // Bit 5 of the first byte clear = critical: a decoder must not ignore it.
                if typeBytes[0] & 0x20 == 0 {
                    throw DataError(path: path, message: "unsupported PNG: unknown critical chunk \(type)")
                }
            }
            offset = dataEnd + 4
        }
        guard let header else {
            throw DataError(path: path, message: "corrupt PNG: no IHDR chunk")
        }
        guard sawImageData else {
            throw DataError(path: path, message: "corrupt PNG: no IDAT (image data) chunk")
        }
        if header.colorType == 3 && palette == nil {
            throw DataError(path: path, message: "corrupt PNG: palette image (colour type 3) without a PLTE chunk")
        }
        // The header fixes the size of the image data: inflate no more than that (a few KB of
        // deflate can otherwise expand to gigabytes before anything checks it).
        let needed = rawByteCount(header)
        let raw: [UInt8]
        do {
            raw = try Gzip.inflateZlib(imageData, path: path, limit: needed)
        } catch let error as DataError {
            throw DataError(
                path: path,
                message: "PNG image data (\(header.width)x\(header.height), \(needed) bytes after decompression): \(error.message)")
        }
        return try reconstruct(raw, header: header, palette: palette ?? [], transparency: transparency, path: path)
    }

    /// (x0, y0, dx, dy) of each pass: one pass, or the seven of Adam7.
    private static func passes(_ h: Header) -> [(Int, Int, Int, Int)] {
        h.interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
    }

    /// Bytes of filtered scanlines (a filter byte before each row of each pass) the header implies.
    private static func rawByteCount(_ h: Header) -> Int {
        var needed = 0
        for (x0, y0, dx, dy) in passes(h) {
            let pw = h.width > x0 ? (h.width - x0 + dx - 1) / dx : 0
            let ph = h.height > y0 ? (h.height - y0 + dy - 1) / dy : 0
            if pw > 0 && ph > 0 { needed += ph * (1 + h.rowBytes(width: pw)) }
        }
        return needed
    }

    private static func parseHeader(_ d: [UInt8], path: String) throws -> Header {
        guard d.count == 13 else {
            throw DataError(path: path, message: "corrupt PNG: expected a 13-byte IHDR chunk, found \(d.count) bytes")
        }
        let width = Int(be32(d, 0))
        let height = Int(be32(d, 4))
        let bitDepth = Int(d[8])
        let colorType = Int(d[9])
        guard width >= 1, height >= 1, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw DataError(path: path, message: "corrupt PNG: expected width and height in 1...2^31-1, found \(width)x\(height)")
        }
        guard width * height <= maxPixels else {
            throw DataError(path: path, message: "PNG too large: \(width)x\(height) exceeds the limit of \(maxPixels) pixels")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[colorType] else {
            throw DataError(path: path, message: "corrupt PNG: expected colour type 0, 2, 3, 4 or 6, found \(colorType)")
        }
        guard depths.contains(bitDepth) else {
            throw DataError(
                path: path,
                message: "corrupt PNG: bit depth \(bitDepth) is not allowed for colour type \(colorType) (expected one of \(depths))")
        }
        guard d[10] == 0, d[11] == 0 else {
            throw DataError(
                path: path, message: "unsupported PNG: expected compression method 0 and filter method 0, found \(d[10]) and \(d[11])")
        }
        guard d[12] <= 1 else {
            throw DataError(path: path, message: "unsupported PNG: expected interlace method 0 (none) or 1 (Adam7), found \(d[12])")
        }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: d[12] == 1)
    }

    /// Un-filters every pass and converts each pixel to grey.
    private static func reconstruct(
        _ raw: [UInt8], header h: Header, palette: [UInt8],
        transparency: [UInt8]?, path: String
    ) throws -> GrayImage {
        let passes = passes(h)
        let needed = rawByteCount(h)
        guard raw.count >= needed else {
            throw DataError(
                path: path,
                message: "truncated PNG image data: \(h.width)x\(h.height) needs \(needed) bytes after decompression, found \(raw.count)")
        }

        let pixel = try pixelConverter(h, palette: palette, transparency: transparency, path: path)
        var out = [UInt8](repeating: 255, count: h.width * h.height)
        var position = 0
        let stride = h.filterStride
        for (x0, y0, dx, dy) in passes {
            let pw = h.width > x0 ? (h.width - x0 + dx - 1) / dx : 0
            let ph = h.height > y0 ? (h.height - y0 + dy - 1) / dy : 0
            guard pw > 0 && ph > 0 else { continue }
            let rowBytes = h.rowBytes(width: pw)
            var previous = [UInt8](repeating: 0, count: rowBytes)
            var current = [UInt8](repeating: 0, count: rowBytes)
            for y in 0..<ph {
                let filter = raw[position]
                let start = position + 1
                position = start + rowBytes
                for i in 0..<rowBytes {
                    let x = raw[start + i]
                    let a = i >= stride ? current[i - stride] : 0
                    let b = previous[i]
                    let c = i >= stride ? previous[i - stride] : 0
                    switch filter {
                    case 0: current[i] = x
                    case 1: current[i] = x &+ a
                    case 2: current[i] = x &+ b
                    case 3: current[i] = x &+ UInt8((Int(a) + Int(b)) / 2)
                    case 4: current[i] = x &+ paeth(a, b, c)
                    default:
                        throw DataError(
                            path: path, message: "corrupt PNG image data: invalid filter type \(filter) on row \(y) (expected 0...4)")
                    }
                }
                let outRow = (y0 + y * dy) * h.width
                for x in 0..<pw {
                    out[outRow + x0 + x * dx] = try pixel(current, x)
                }
                swap(&previous, &current)
            }
        }
        return GrayImage(width: h.width, height: h.height, pixels: out)
    }

    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a))
        let pb = abs(p - Int(b))
        let pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Returns a function mapping (unfiltered row, x) to the composited grey value.
    private static func pixelConverter(
        _ h: Header, palette: [UInt8], transparency: [UInt8]?,
        path: String
    ) throws -> ([UInt8], Int) throws -> UInt8 {
        let depth = h.bitDepth
        let channels = h.channels
        let maxValue = (1 << depth) - 1
        // Raw sample c of pixel x at full precision.
        func sample(_ row: [UInt8], _ x: Int, _ c: Int) -> Int {
            switch depth {
            case 8: return Int(row[x * channels + c])
            case 16:
                let i = (x * channels + c) * 2
                return Int(row[i]) << 8 | Int(row[i + 1])
            default:
                let bit = x * depth
                return Int(row[bit / 8] >> (8 - depth - bit % 8)) & maxValue
            }
        }
        // Sample scaled to 8 bits: high byte of 16-bit samples, replicated bits of small ones.
        func to8(_ v: Int) -> Double {
            switch depth {
            case 16: return Double(v >> 8)
            case 8: return Double(v)
            default: return Double(v * 255 / maxValue)
            }
        }
        func composite(_ luminance: Double, _ alpha: Double) -> UInt8 {
            let value = (luminance * alpha + 255 * (255 - alpha)) / 255
            return UInt8(max(0, min(255, value.rounded())))
        }
        func luminance(_ r: Double, _ g: Double, _ b: Double) -> Double {
            0.299 * r + 0.587 * g + 0.114 * b
        }
        func key(_ t: [UInt8]?, count: Int) throws -> [Int]? {
            guard let t else { return nil }
            guard t.count >= 2 * count else {
                throw DataError(
                    path: path,
                    message: "corrupt PNG: expected a tRNS chunk of \(2 * count) bytes for colour type \(h.colorType), found \(t.count)")
            }
            return (0..<count).map { (Int(t[2 * $0]) << 8 | Int(t[2 * $0 + 1])) & maxValue }
        }
        switch h.colorType {
        case 0:
            let transparent = try key(transparency, count: 1)?[0]
            return { row, x in
                let v = sample(row, x, 0)
                return v == transparent ? 255 : composite(to8(v), 255)
            }
        case 2:
            let transparent = try key(transparency, count: 3)
            return { row, x in
                let r = sample(row, x, 0)
                let g = sample(row, x, 1)
                let b = sample(row, x, 2)
                if let t = transparent, t[0] == r, t[1] == g, t[2] == b { return 255 }
                return composite(luminance(to8(r), to8(g), to8(b)), 255)
            }
        case 3:
            let entries = palette.count / 3
            let lums = (0..<entries).map { luminance(Double(palette[3 * $0]), Double(palette[3 * $0 + 1]), Double(palette[3 * $0 + 2])) }
            let alphas = (0..<entries).map { $0 < (transparency?.count ?? 0) ? Double(transparency![$0]) : 255 }
            return { row, x in
                let index = sample(row, x, 0)
                guard index < entries else {
                    throw DataError(
                        path: path, message: "corrupt PNG: pixel \(x) uses palette index \(index), but the palette has \(entries) entries")
                }
                return composite(lums[index], alphas[index])
            }
        case 4:
            return { row, x in composite(to8(sample(row, x, 0)), to8(sample(row, x, 1))) }
        default:  // 6
            return { row, x in
                composite(
                    luminance(to8(sample(row, x, 0)), to8(sample(row, x, 1)), to8(sample(row, x, 2))),
                    to8(sample(row, x, 3)))
            }
        }
    }

    // MARK: - Encoding
}

/// Reading greyscale images from files by content.
public enum ImageFile {
    /// Reads a PNG or a binary PGM (P5) / PPM (P6) file, recognised by content, greyscale out.
    /// - Throws: `DataError` naming `path` when the file is missing, unreadable, of another format, or corrupt.
    public static func readGray(path: String) throws -> GrayImage {
        let bytes = try FileBytes.read(path: path)
        if PNG.isPNG(bytes) { return try PNG.decodeGray(bytes, path: path) }
        if PNM.isPNM(bytes) { return try PNM.decodeGray(bytes, path: path) }
        throw DataError(
            path: path,
            message:
                "unrecognised image: expected a PNG (0x89504e47...) or a binary PGM (\"P5\") file, found \(Gzip.hexPrefix(bytes, count: 8))"
        )
    }
}
