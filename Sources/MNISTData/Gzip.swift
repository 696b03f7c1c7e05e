// Gzip and zlib streams over the system zlib: gzip for IDX files, raw zlib for PNG IDAT data.
// Decoders never trust their input: truncation, corruption and trailing garbage become DataErrors.
import CZlib

/// gzip (RFC 1952) and zlib (RFC 1950) compression on byte arrays.
public enum Gzip {
    /// Decompressed output larger than this is refused (protects against decompression bombs);
    /// callers that know the size to expect pass a smaller `limit`.
    public static let maxOutputBytes = 1 << 33

    /// True when `bytes` start with the gzip magic number 0x1f 0x8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Decompresses a gzip stream (several concatenated members are accepted, as `gunzip` does).
    /// - Throws: `DataError` naming `path` when the data is not gzip, is truncated or corrupt,
    ///   is followed by bytes that are not another gzip member, or decompresses to more than
    ///   `limit` bytes (checked as it inflates, before allocating more).
    public static func decompress(_ bytes: [UInt8], path: String, limit: Int = maxOutputBytes) throws -> [UInt8] {
        guard isGzip(bytes) else {
            throw DataError(path: path, message: "expected gzip data (magic 0x1f8b), found \(hexPrefix(bytes))")
        }
        return try inflate(bytes, windowBits: 16 + MAX_WBITS, format: "gzip", path: path, limit: limit)
    }

    /// Compresses `bytes` into a single gzip member (default compression level).
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        deflate(bytes, windowBits: 16 + MAX_WBITS)
    }

    /// Decompresses a zlib stream (the format of PNG image data).
    /// - Throws: `DataError` naming `path` when the stream is truncated, corrupt, followed by extra
    ///   bytes, or decompresses to more than `limit` bytes (checked as it inflates).
    public static func inflateZlib(_ bytes: [UInt8], path: String, limit: Int = maxOutputBytes) throws -> [UInt8] {
        try inflate(bytes, windowBits: MAX_WBITS, format: "zlib", path: path, limit: limit)
    }

    /// Compresses `bytes` into a zlib stream (default compression level).
    public static func deflateZlib(_ bytes: [UInt8]) -> [UInt8] {
        deflate(bytes, windowBits: MAX_WBITS)
    }

    // MARK: - zlib plumbing

    static func hexPrefix(_ bytes: [UInt8], count: Int = 4) -> String {
        if bytes.isEmpty { return "an empty file" }
        return "0x"
            + bytes.prefix(count).map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
    }

    private static func inflate(_ bytes: [UInt8], windowBits: Int32, format: String, path: String, limit: Int) throws -> [UInt8] {
        if bytes.isEmpty {
            throw DataError(path: path, message: "expected \(format) data, found an empty file")
        }
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DataError(path: path, message: "zlib could not start decompressing (inflateInit2 returned \(initStatus))")
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(min(bytes.count * 4, 1 << 26, limit))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let chunkCount = chunk.count
        // avail_in is 32 bits: feed the input in slices.
        let maxSlice = 1 << 30

        try bytes.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else { return }
            var offset = 0  // bytes of input handed to zlib so far
            func refill() {
                if stream.avail_in == 0 && offset < input.count {
                    let n = min(maxSlice, input.count - offset)
                    stream.next_in = UnsafeMutablePointer(mutating: base + offset)
                    stream.avail_in = UInt32(n)
                    offset += n
                }
            }
            var consumedBefore: Int { offset - Int(stream.avail_in) }
            refill()
            while true {
                let status: Int32 = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunkCount - Int(stream.avail_out)
                if produced > 0 {
                    if output.count + produced > limit {
                        throw DataError(
                            path: path,
                            message:
                                """
                                \(format) data decompresses to more than \(limit) bytes (the most expected here); refusing (corrupt \
                                or hostile file?)
                                """
                        )
                    }
                    output.append(contentsOf: chunk[0..<produced])
                }
                switch status {
                case Z_OK:
                    refill()
                case Z_STREAM_END:
                    refill()
                    let position = consumedBefore
                    if position == input.count { return }
                    let rest = input.count - position
                    if format == "gzip" && rest >= 2 && base[position] == 0x1f && base[position + 1] == 0x8b {
                        inflateReset(&stream)
                        continue
                    }
                    if format == "gzip" && (position..<input.count).allSatisfy({ base[$0] == 0 }) {
                        return  // zero padding after the last member, which gunzip also accepts
                    }
                    throw DataError(
                        path: path,
                        message:
                            """
                            \(rest) unexpected bytes after the end of the \(format) stream (at offset \(position) of \(input.count)); \
                            the file is corrupt or was appended to
                            """
                    )
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 && offset == input.count {
                        throw DataError(
                            path: path,
                            message:
                                """
                                truncated \(format) data: the stream ended after \(input.count) bytes, before its end marker \
                                (\(output.count) bytes decompressed so far); re-download or re-copy the file
                                """
                        )
                    }
                    refill()
                case Z_DATA_ERROR, Z_NEED_DICT:
                    let detail = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    throw DataError(
                        path: path,
                        message:
                            """
                            corrupt \(format) data near byte \(consumedBefore) of \(input.count): \(detail); re-download or re-copy \
                            the file
                            """
                    )
                case Z_MEM_ERROR:
                    throw DataError(path: path, message: "out of memory while decompressing \(format) data")
                default:
                    throw DataError(path: path, message: "zlib failed while decompressing \(format) data (status \(status))")
                }
            }
        }
        return output
    }

    private static func deflate(_ bytes: [UInt8], windowBits: Int32) -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit2_(
            &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, windowBits, 8,
            Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        // Only fails on out-of-memory or an incompatible library: an internal invariant.
        precondition(initStatus == Z_OK, "deflateInit2 failed with status \(initStatus)")
        defer { deflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(bytes.count / 2 + 64)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let chunkCount = chunk.count
        let maxSlice = 1 << 30
        bytes.withUnsafeBufferPointer { input in
            var offset = 0
            var status = Z_OK
            repeat {
                if stream.avail_in == 0 && offset < input.count, let base = input.baseAddress {
                    let n = min(maxSlice, input.count - offset)
                    stream.next_in = UnsafeMutablePointer(mutating: base + offset)
                    stream.avail_in = UInt32(n)
                    offset += n
                }
                let flush = offset == input.count ? Z_FINISH : Z_NO_FLUSH
                status = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    return CZlib.deflate(&stream, flush)
                }
                output.append(contentsOf: chunk[0..<(chunkCount - Int(stream.avail_out))])
                precondition(
                    status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR,
                    "deflate failed with status \(status)")
            } while status != Z_STREAM_END
        }
        return output
    }
}
