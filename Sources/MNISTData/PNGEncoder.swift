// Writing PNG files (8-bit greyscale or RGB, adaptive filters, zlib-deflated): figures, sample grids
// and the predict API's input image.
import CZlib

extension PNG {

    /// Encodes an 8-bit greyscale PNG (colour type 0), choosing a filter per row.
    /// - Precondition: `width, height >= 1` and `pixels.count == width * height`.
    public static func encode(_ image: GrayImage) -> [UInt8] {
        precondition(
            image.width >= 1 && image.height >= 1 && image.pixels.count == image.width * image.height,
            "GrayImage \(image.width)x\(image.height) with \(image.pixels.count) pixels cannot be encoded")
        return encode(width: image.width, height: image.height, colorType: 0, channels: 1, pixels: image.pixels)
    }

    /// Encodes an 8-bit RGB PNG (colour type 2), choosing a filter per row.
    /// - Precondition: `width, height >= 1` and `pixels.count == width * height * 3`.
    public static func encode(_ image: RGBImage) -> [UInt8] {
        precondition(
            image.width >= 1 && image.height >= 1 && image.pixels.count == image.width * image.height * 3,
            "RGBImage \(image.width)x\(image.height) with \(image.pixels.count) bytes cannot be encoded")
        return encode(width: image.width, height: image.height, colorType: 2, channels: 3, pixels: image.pixels)
    }

    static func encode(width: Int, height: Int, colorType: UInt8, channels: Int, pixels: [UInt8]) -> [UInt8] {
        var ihdr: [UInt8] = []
        appendBE32(&ihdr, UInt32(width))
        appendBE32(&ihdr, UInt32(height))
        ihdr += [8, colorType, 0, 0, 0]
        let filtered = filterRows(pixels, rowBytes: width * channels, height: height, stride: channels)
        var png = signature
        appendChunk(&png, "IHDR", ihdr)
        appendChunk(&png, "IDAT", Gzip.deflateZlib(filtered))
        appendChunk(&png, "IEND", [])
        return png
    }

    /// Filters each row with the type (0-4) whose output has the smallest sum of absolute values
    /// (as signed bytes): the heuristic the PNG specification recommends.
    static func filterRows(_ pixels: [UInt8], rowBytes: Int, height: Int, stride: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(height * (rowBytes + 1))
        let zero = [UInt8](repeating: 0, count: rowBytes)
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        var best = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<height {
            let row = Array(pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
            let previous = y > 0 ? Array(pixels[((y - 1) * rowBytes)..<(y * rowBytes)]) : zero
            var bestType: UInt8 = 0
            var bestCost = Int.max
            for type in UInt8(0)...4 {
                var cost = 0
                for i in 0..<rowBytes {
                    let a = i >= stride ? row[i - stride] : 0
                    let b = previous[i]
                    let c = i >= stride ? previous[i - stride] : 0
                    let predictor: UInt8
                    switch type {
                    case 0: predictor = 0
                    case 1: predictor = a
                    case 2: predictor = b
                    case 3: predictor = UInt8((Int(a) + Int(b)) / 2)
                    default: predictor = paeth(a, b, c)
                    }
                    let value = row[i] &- predictor
                    candidate[i] = value
                    cost += abs(Int(Int8(bitPattern: value)))
                }
                if cost < bestCost {
                    bestCost = cost
                    bestType = type
                    swap(&best, &candidate)
                }
            }
            out.append(bestType)
            out.append(contentsOf: best)
        }
        return out
    }

    static func appendChunk(_ png: inout [UInt8], _ type: String, _ data: [UInt8]) {
        appendBE32(&png, UInt32(data.count))
        let start = png.count
        png += Array(type.utf8)
        png += data
        appendBE32(&png, crc(png, from: start, to: png.count))
    }

    // MARK: - Bytes

    static func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    static func appendBE32(_ bytes: inout [UInt8], _ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// CRC-32 (zlib) of `bytes[from..<to]`.
    static func crc(_ bytes: [UInt8], from: Int, to: Int) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            UInt32(truncatingIfNeeded: crc32(0, buffer.baseAddress.map { $0 + from }, UInt32(to - from)))
        }
    }
}
