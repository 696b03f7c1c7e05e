// Helpers shared by the fuzz harnesses (compiled into each fuzz binary, not into Digits).

enum FuzzSupport {
    /// `bytes` with the CRC-32 of every complete PNG chunk after the signature rewritten to match,
    /// so the fuzzer's mutations reach the chunk parsers instead of failing the checksum.
    static func withPNGCRCsFixed(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var offset = 8
        while offset + 12 <= out.count {
            let length = Int(out[offset]) << 24 | Int(out[offset + 1]) << 16 | Int(out[offset + 2]) << 8 | Int(out[offset + 3])
            let end = offset + 8 + length
            guard length <= out.count, end + 4 <= out.count else { break }
            let crc = crc32(out[(offset + 4)..<end])
            out[end] = UInt8(crc >> 24)
            out[end + 1] = UInt8(crc >> 16 & 0xFF)
            out[end + 2] = UInt8(crc >> 8 & 0xFF)
            out[end + 3] = UInt8(crc & 0xFF)
            offset = end + 4
        }
        return out
    }

    /// Little-endian UInt32 at `offset`, or nil past the end.
    static func le32(_ bytes: [UInt8], at offset: Int) -> Int? {
        guard offset + 4 <= bytes.count else { return nil }
        return (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
    }

    /// Length of the JSON object starting at `from` (braces counted outside strings), or nil.
    static func jsonObjectLength(_ bytes: [UInt8], from: Int) -> Int? {
        guard from < bytes.count, bytes[from] == UInt8(ascii: "{") else { return nil }
        var depth = 0
        var inString = false
        var escaped = false
        for i in from..<bytes.count {
            let c = bytes[i]
            if inString {
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return i - from + 1 }
            default: break
            }
        }
        return nil
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
