import Crypto
// The container shared by checkpoints and model files: a magic tag, a JSON header, raw
// little-endian Float32 arrays, and a SHA-256 trailer over everything before it. Written
// atomically (temp file, fsync, rename, fsync of the directory); read back fully verified.
import Foundation

public struct FileFormatError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// Layout: magic (8 bytes) | header length (UInt32 LE) | header JSON | for each array: count (UInt64 LE)
/// then count Float32 LE | SHA-256 (32 bytes) of all preceding bytes.
public enum SealedFile {
    public static func encode(magic: String, header: Data, arrays: [[Float]]) -> [UInt8] {
        precondition(magic.utf8.count == 8)
        var out = [UInt8]()
        out.reserveCapacity(16 + header.count + arrays.reduce(0) { $0 + 8 + 4 * $1.count } + 32)
        out += Array(magic.utf8)
        appendLE(&out, UInt32(header.count))
        out += header
        appendLE(&out, UInt32(arrays.count))
        for a in arrays {
            appendLE(&out, UInt64(a.count))
            a.withUnsafeBytes { out += $0 }  // x86-64 and arm64 are little-endian
        }
        out += Array(SHA256.hash(data: out))
        return out
    }

    public static func decode(_ bytes: [UInt8], magic: String, path: String) throws -> (header: Data, arrays: [[Float]]) {
        func fail(_ m: String) -> FileFormatError { FileFormatError(path: path, message: m) }
        guard bytes.count >= 8 + 4 + 4 + 32 else { throw fail("too short (\(bytes.count) bytes) to be a Digits file") }
        let foundMagic = String(decoding: bytes[0..<8], as: UTF8.self)
        guard foundMagic == magic else {
            throw fail("not a \(magic) file: expected magic '\(magic)', found '\(foundMagic.filter { $0.isASCII && !$0.isNewline })'")
        }
        let body = bytes[0..<(bytes.count - 32)]
        let digest = Array(SHA256.hash(data: body))
        guard digest == Array(bytes[(bytes.count - 32)...]) else {
            throw fail("checksum mismatch: the file is corrupt or truncated (SHA-256 of the contents does not match its trailer)")
        }
        var pos = 8
        func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard pos + size <= body.count else { throw fail("truncated at byte \(pos)") }
            var v: T = 0
            for i in 0..<size { v |= T(body[pos + i]) << (8 * i) }
            pos += size
            return v
        }
        let headerLength = Int(try read(UInt32.self))
        guard pos + headerLength <= body.count else { throw fail("header length \(headerLength) runs past the end of the file") }
        let header = Data(body[pos..<(pos + headerLength)])
        pos += headerLength
        let count = Int(try read(UInt32.self))
        guard count <= 16 else { throw fail("expected at most 16 arrays, found \(count)") }
        var arrays: [[Float]] = []
        for _ in 0..<count {
            let n = try read(UInt64.self)
            guard n <= UInt64((body.count - pos) / 4) else { throw fail("array of \(n) values runs past the end of the file") }
            let k = Int(n)
            var a = [Float](repeating: 0, count: k)
            a.withUnsafeMutableBytes { dst in
                body.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[pos..<(pos + 4 * k)])) }
            }
            pos += 4 * k
            arrays.append(a)
        }
        guard pos == body.count else { throw fail("\(body.count - pos) unexpected bytes after the last array") }
        return (header, arrays)
    }

    static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    /// Writes `bytes` to `path` atomically: a reader sees the old file or the new one, never a mix.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw FileFormatError(path: path, message: "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok: Bool = bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return fsync(fd) == 0
        }
        let err = errno
        close(fd)
        guard ok else {
            unlink(tmp)
            throw FileFormatError(path: path, message: "write failed (\(String(cString: strerror(err)))); the previous file is untouched")
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw FileFormatError(path: path, message: "rename failed: \(String(cString: strerror(e)))")
        }
        let dfd = open(dir, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    public static func read(path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileFormatError(
                path: path, message: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        return [UInt8](data)
    }
}
