// A minimal protocol-buffers encoder (wire format only, no schema): enough to write ONNX files
// without a code generator. Fields are appended in call order; nested messages are encoded
// first and written as length-delimited bytes.

public struct ProtobufWriter: Sendable {
    public enum WireType: UInt8, Sendable {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Base-128 varint: 7 bits a byte, least significant group first, high bit set on all but the last.
    public static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    /// Field key: (field number << 3) | wire type.
    public static func key(_ field: Int, _ type: WireType) -> [UInt8] {
        precondition(field >= 1 && field < (1 << 29), "protobuf field numbers are 1 ..< 2^29")
        return varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    /// int64/int32/enum/bool: negative values are sign-extended to 64 bits (10 bytes), as protobuf does.
    public mutating func int(_ field: Int, _ value: Int64) {
        bytes += Self.key(field, .varint)
        bytes += Self.varint(UInt64(bitPattern: value))
    }

    public mutating func int(_ field: Int, _ value: Int) { int(field, Int64(value)) }

    /// float (fixed32, IEEE 754 little-endian).
    public mutating func float(_ field: Int, _ value: Float) {
        bytes += Self.key(field, .fixed32)
        bytes += Self.littleEndian(value.bitPattern)
    }

    public mutating func bytes(_ field: Int, _ value: [UInt8]) {
        bytes += Self.key(field, .lengthDelimited)
        bytes += Self.varint(UInt64(value.count))
        bytes += value
    }

    public mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    /// An embedded message built by `build`.
    public mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    static func littleEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
    }
}
