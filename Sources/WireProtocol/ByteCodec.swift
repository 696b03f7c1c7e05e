// Little-endian, bounds-checked byte writing and reading for message bodies. The reader never
// traps on bad input: every read throws `DecodeError` when the bytes run out or a limit is passed.

public struct DecodeError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }
    public mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    /// UTF-8 with a UInt32 length prefix.
    public mutating func string(_ s: String) { blob(Array(s.utf8)) }
    public mutating func blob(_ b: [UInt8]) {
        u32(UInt32(b.count))
        bytes += b
    }
    public mutating func u32Array(_ a: [UInt32]) {
        u32(UInt32(a.count))
        for v in a { u32(v) }
    }
}

public struct ByteReader {
    let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - position }

    mutating func take(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else {
            throw DecodeError("truncated: \(what) needs \(n) bytes at offset \(position), \(remaining) left")
        }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let s = try take(MemoryLayout<T>.size, what)
        var v: T = 0
        for (i, b) in s.enumerated() { v |= T(b) << (8 * i) }
        return v
    }

    public mutating func u8(_ what: String = "u8") throws -> UInt8 { try integer(UInt8.self, what) }
    public mutating func u16(_ what: String = "u16") throws -> UInt16 { try integer(UInt16.self, what) }
    public mutating func u32(_ what: String = "u32") throws -> UInt32 { try integer(UInt32.self, what) }
    public mutating func u64(_ what: String = "u64") throws -> UInt64 { try integer(UInt64.self, what) }
    public mutating func f64(_ what: String = "f64") throws -> Double { Double(bitPattern: try u64(what)) }
    public mutating func bool(_ what: String = "bool") throws -> Bool {
        let v = try u8(what)
        guard v <= 1 else { throw DecodeError("\(what): expected 0 or 1, found \(v)") }
        return v == 1
    }

    public mutating func blob(_ what: String, max: Int) throws -> [UInt8] {
        let n = Int(try u32("\(what) length"))
        guard n <= max else { throw DecodeError("\(what): \(n) bytes exceeds the limit of \(max)") }
        return Array(try take(n, what))
    }

    public mutating func string(_ what: String, max: Int = 4096) throws -> String {
        let b = try blob(what, max: max)
        guard let s = String(validating: b, as: UTF8.self) else { throw DecodeError("\(what): not valid UTF-8") }
        return s
    }

    public mutating func u32Array(_ what: String, max: Int) throws -> [UInt32] {
        let n = Int(try u32("\(what) count"))
        guard n <= max else { throw DecodeError("\(what): \(n) entries exceeds the limit of \(max)") }
        return try (0..<n).map { _ in try u32(what) }
    }

    /// `what` is built only on failure (describing a message type costs microseconds).
    public func finish(_ what: @autoclosure () -> String) throws {
        guard remaining == 0 else { throw DecodeError("\(what()): \(remaining) unexpected trailing bytes") }
    }
}

/// Numeric arrays as raw little-endian frames (copied on decode: received frames are not aligned):
/// Float32 tensors (weights, gradients) and Int64 fixed-point gradient sums.
public protocol FrameElement: BitwiseCopyable { static var frameName: String { get } }
extension Float: FrameElement { public static var frameName: String { "Float32" } }
extension Int64: FrameElement { public static var frameName: String { "Int64" } }

public enum TensorFrame {
    public static func encode<T: FrameElement>(_ values: [T]) -> [UInt8] {
        values.withUnsafeBufferPointer { encode($0) }
    }

    public static func encode<T: FrameElement>(_ values: UnsafeBufferPointer<T>) -> [UInt8] {
        [UInt8](UnsafeRawBufferPointer(values))
    }

    public static func decode<T: FrameElement>(_ frame: [UInt8], expected count: Int, what: String) throws -> [T] {
        let size = MemoryLayout<T>.stride
        guard frame.count == size * count else {
            throw DecodeError("\(what): expected \(count) \(T.frameName) values (\(size * count) bytes), found \(frame.count) bytes")
        }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            frame.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            initialized = count
        }
    }
}
