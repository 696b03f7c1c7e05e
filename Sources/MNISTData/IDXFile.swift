// The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian header
// 0x00 0x00 <type> <ndims>, ndims big-endian UInt32 sizes, then the data. Raw or gzip-compressed.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An n-dimensional array of unsigned bytes as stored in an IDX file, row-major.
public struct IDXArray: Equatable, Sendable {
    /// Sizes, outermost first: `[count, rows, cols]` for MNIST images, `[count]` for labels.
    public var dims: [Int]
    /// `dims.reduce(1, *)` bytes, row-major.
    public var data: [UInt8]

    public init(dims: [Int], data: [UInt8]) {
        self.dims = dims
        self.data = data
    }
}

/// Reading and writing IDX files. Only element type 0x08 (unsigned byte) is supported.
public enum IDXFile {
    /// Largest accepted element count (2^31).
    static let maxElements = 1 << 31
    /// Largest IDX file: a header of 255 dimensions and `maxElements` bytes of data. Gzip content
    /// is refused as soon as it inflates past this, before it is all in memory.
    static let maxFileBytes = 4 + 4 * 255 + maxElements

    /// Reads a raw or gzip-compressed IDX file (gzip detected by its magic bytes, not the name).
    /// - Throws: `DataError` naming `path` when the file is missing or unreadable, is corrupt gzip,
    ///   or is not a well-formed unsigned-byte IDX file.
    public static func read(path: String) throws -> IDXArray {
        try decodeFile(try FileBytes.read(path: path), path: path)
    }

    /// Decodes the contents of a raw or gzip-compressed IDX file (gzip detected by its magic bytes);
    /// `path` is only used in error messages.
    /// - Throws: `DataError` naming `path` when the bytes are corrupt gzip or not a well-formed
    ///   unsigned-byte IDX file.
    public static func decodeFile(_ bytes: [UInt8], path: String) throws -> IDXArray {
        if Gzip.isGzip(bytes) {
            return try decode(Gzip.decompress(bytes, path: path, limit: maxFileBytes), path: path, wasGzip: true)
        }
        return try decode(bytes, path: path)
    }

    /// Decodes the bytes of an uncompressed IDX file; `path` is only used in error messages.
    public static func decode(_ bytes: [UInt8], path: String) throws -> IDXArray {
        try decode(bytes, path: path, wasGzip: false)
    }

    private static func decode(_ bytes: [UInt8], path: String, wasGzip: Bool) throws -> IDXArray {
        let what = wasGzip ? "decompressed IDX content" : "IDX file"
        guard bytes.count >= 4 else {
            throw DataError(path: path, message: "\(what) too short for an IDX header: expected at least 4 bytes, found \(bytes.count)")
        }
        let magic = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let magicText = "0x" + hex(magic, digits: 8)
        guard bytes[0] == 0, bytes[1] == 0 else {
            var hint = ""
            if !wasGzip && Gzip.isGzip(bytes) {
                hint = "; the file is gzip-compressed: read it with IDXFile.read(path:) or gunzip it"
            }
            throw DataError(
                path: path,
                message:
                    "not an IDX file: expected magic 0x0000 0803 or 0801 (unsigned bytes, 3 or 1 dimensions), found \(magicText)\(hint)")
        }
        let type = bytes[2]
        guard type == 0x08 else {
            let names: [UInt8: String] = [0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"]
            let name =
                names[type].map { "element type 0x\(hex(UInt32(type), digits: 2)) (\($0))" }
                ?? "unknown element type 0x\(hex(UInt32(type), digits: 2))"
            throw DataError(
                path: path,
                message:
                    """
                    unsupported IDX file: expected element type 0x08 (unsigned byte, magic 0x0000 0803 or 0801), found \(name) in \
                    magic \(magicText)
                    """
            )
        }
        let ndims = Int(bytes[3])
        guard ndims >= 1 else {
            throw DataError(path: path, message: "invalid IDX header: expected at least 1 dimension, found 0 (magic \(magicText))")
        }
        let headerSize = 4 + 4 * ndims
        guard bytes.count >= headerSize else {
            throw DataError(
                path: path,
                message:
                    """
                    truncated IDX header: magic \(magicText) announces \(ndims) dimensions, so the header needs \(headerSize) bytes, \
                    found \(bytes.count)
                    """
            )
        }
        var dims: [Int] = []
        var elements = 1
        for d in 0..<ndims {
            let o = 4 + 4 * d
            let size = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dims.append(size)
        }
        for size in dims {
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow, product <= maxElements else {
                throw DataError(path: path, message: "absurd IDX dimensions \(dims): more than 2^31 elements; the header is corrupt")
            }
            elements = product
        }
        let found = bytes.count - headerSize
        if found < elements {
            throw DataError(
                path: path,
                message:
                    "truncated: expected \(elements) bytes of data for dimensions \(dims), found \(found); re-download or re-copy the file")
        }
        if found > elements {
            throw DataError(
                path: path,
                message:
                    """
                    trailing bytes: expected \(elements) bytes of data for dimensions \(dims), found \(found) (\(found - elements) \
                    extra); the file is corrupt or not an IDX file
                    """
            )
        }
        return IDXArray(dims: dims, data: Array(bytes[headerSize...]))
    }

    /// Encodes `array` as an uncompressed IDX file (magic 0x0000 08 <ndims>).
    /// - Precondition: 1...255 dimensions, each at most `UInt32.max`, and `data.count` equals their
    ///   product (use `write`, which checks and throws, for arrays you did not build yourself).
    public static func encode(_ array: IDXArray) -> [UInt8] {
        precondition(validationProblem(array) == nil, validationProblem(array) ?? "")
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(array.dims.count)]
        bytes.reserveCapacity(4 + 4 * array.dims.count + array.data.count)
        for size in array.dims {
            let v = UInt32(size)
            bytes += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        bytes += array.data
        return bytes
    }

    /// Writes `array` to `path`, gzip-compressed when `gzip` is true, atomically: the bytes go to a
    /// temporary file in the same directory which is then renamed over `path`.
    /// - Throws: `DataError` when the array is inconsistent or the file cannot be written.
    public static func write(_ array: IDXArray, path: String, gzip: Bool) throws {
        if let problem = validationProblem(array) {
            throw DataError(path: path, message: "cannot write IDX array: \(problem)")
        }
        let raw = encode(array)
        try FileBytes.writeAtomically(gzip ? Gzip.compress(raw) : raw, path: path)
    }

    static func validationProblem(_ array: IDXArray) -> String? {
        guard (1...255).contains(array.dims.count) else {
            return "expected 1 to 255 dimensions, found \(array.dims.count)"
        }
        var elements = 1
        for size in array.dims {
            guard size >= 0, size <= Int(UInt32.max) else {
                return "dimension sizes must be in 0...\(UInt32.max), found \(array.dims)"
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { return "dimensions \(array.dims) overflow" }
            elements = product
        }
        guard elements == array.data.count else {
            return "dimensions \(array.dims) need \(elements) bytes of data, found \(array.data.count)"
        }
        return nil
    }

    static func hex(_ value: UInt32, digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }
}

#if canImport(Glibc)
    private let posixRename = Glibc.rename
#elseif canImport(Darwin)
    private let posixRename = Darwin.rename
#endif

/// Whole-file reads and atomic writes with errors that name the path.
enum FileBytes {
    static func read(path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(path: path, message: "file not found")
        }
        guard !isDirectory.boolValue else {
            throw DataError(path: path, message: "expected a file, found a directory")
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return [UInt8](data)
        } catch {
            throw DataError(path: path, message: "file exists but could not be read (\(error.localizedDescription)); check its permissions")
        }
    }

    /// Writes to a temporary file next to `path`, then renames it into place.
    static func writeAtomically(_ bytes: [UInt8], path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(path: path, message: "cannot write: directory \(directory) does not exist")
        }
        let temporary = temporaryPath(for: path)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw DataError(path: path, message: "cannot write temporary file \(temporary): \(error.localizedDescription)")
        }
        try rename(temporary, to: path)
    }

    /// A unique name in the same directory as `path` (so the final rename is atomic).
    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = ".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// POSIX rename: atomic, replaces an existing destination.
    static func rename(_ source: String, to destination: String) throws {
        #if canImport(Glibc) || canImport(Darwin)
            if posixRename(source, destination) != 0 {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: source)
                throw DataError(path: destination, message: "cannot move \(source) into place: \(reason)")
            }
        #else
            do {
                if FileManager.default.fileExists(atPath: destination) {
                    _ = try FileManager.default.replaceItemAt(URL(fileURLWithPath: destination), withItemAt: URL(fileURLWithPath: source))
                } else {
                    try FileManager.default.moveItem(atPath: source, toPath: destination)
                }
            } catch {
                throw DataError(path: destination, message: "cannot move \(source) into place: \(error.localizedDescription)")
            }
        #endif
    }
}
