// TensorBoard event files by hand: TFRecord framing around `tensorflow.Event` protobufs
// (tensorflow/core/util/event.proto, summary.proto). Only what scalars need is encoded:
// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
// Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }

/// TFRecord framing: length (UInt64 LE), masked CRC-32C of the length bytes, the data, masked
/// CRC-32C of the data (tensorflow/core/lib/io/record_writer.cc).
public enum TFRecord {
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = littleEndian(UInt64(data.count))
        out += length
        out += littleEndian(CRC32C.masked(CRC32C.checksum(length)))
        out += data
        out += littleEndian(CRC32C.masked(CRC32C.checksum(data)))
        return out
    }

    /// Splits a file's bytes back into records, checking both CRCs; nil if anything is off.
    public static func records(_ bytes: [UInt8]) -> [[UInt8]]? {
        var records: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            guard bytes.count - i >= 12 else { return nil }
            let lengthBytes = Array(bytes[i..<i + 8])
            let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard readLE32(bytes, i + 8) == CRC32C.masked(CRC32C.checksum(lengthBytes)),
                length <= UInt64(bytes.count - i - 16)
            else { return nil }
            let start = i + 12
            let end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard readLE32(bytes, end) == CRC32C.masked(CRC32C.checksum(data)) else { return nil }
            records.append(data)
            i = end + 4
        }
        return records
    }

    static func readLE32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }
}

/// `tensorflow.Event` messages, protobuf-encoded.
public enum TensorBoardEvent {
    /// The first record of every event file: file_version "brain.Event:2".
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var e = ProtoWriter()
        e.double(1, wallTime)
        e.bytes(3, Array("brain.Event:2".utf8))
        return e.bytes
    }

    /// An event holding scalar summaries (tag, value) at `step`.
    public static func scalars(wallTime: Double, step: Int64, values: [(tag: String, value: Float)]) -> [UInt8] {
        var summary = ProtoWriter()
        for (tag, value) in values {
            var v = ProtoWriter()
            v.bytes(1, Array(tag.utf8))
            v.float(2, value)
            summary.bytes(1, v.bytes)
        }
        var e = ProtoWriter()
        e.double(1, wallTime)
        e.varint(2, UInt64(bitPattern: step))
        e.bytes(5, summary.bytes)
        return e.bytes
    }
}

/// Protobuf wire format: keys are (field << 3 | wire type); 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ wireType: Int) { rawVarint(UInt64(field << 3 | wireType)) }
    mutating func varint(_ field: Int, _ v: UInt64) {
        key(field, 0)
        rawVarint(v)
    }
    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        bytes += TFRecord.littleEndian(v.bitPattern)
    }
    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        bytes += TFRecord.littleEndian(v.bitPattern)
    }
    mutating func bytes(_ field: Int, _ v: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(v.count))
        bytes += v
    }
}
