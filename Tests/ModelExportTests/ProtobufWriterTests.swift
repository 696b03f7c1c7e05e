import ModelExport
import XCTest

/// The wire format against the encodings in the protocol-buffers documentation.
final class ProtobufWriterTests: XCTestCase {
    func testVarints() {
        XCTAssertEqual(ProtobufWriter.varint(0), [0x00])
        XCTAssertEqual(ProtobufWriter.varint(1), [0x01])
        XCTAssertEqual(ProtobufWriter.varint(127), [0x7F])
        XCTAssertEqual(ProtobufWriter.varint(128), [0x80, 0x01])
        XCTAssertEqual(ProtobufWriter.varint(150), [0x96, 0x01])
        XCTAssertEqual(ProtobufWriter.varint(300), [0xAC, 0x02])
        XCTAssertEqual(ProtobufWriter.varint(16_384), [0x80, 0x80, 0x01])
        XCTAssertEqual(ProtobufWriter.varint(UInt64.max), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        // Round trip over many magnitudes through the test decoder.
        for shift in 0..<64 {
            for delta: UInt64 in [0, 1] {
                let v = (UInt64(1) << UInt64(shift)) &- delta
                var reader = ProtoReader(ProtobufWriter.varint(v))
                XCTAssertEqual(try reader.varint(), v)
                XCTAssertTrue(reader.atEnd)
            }
        }
    }

    func testFieldKeys() {
        XCTAssertEqual(ProtobufWriter.key(1, .varint), [0x08])
        XCTAssertEqual(ProtobufWriter.key(2, .lengthDelimited), [0x12])
        XCTAssertEqual(ProtobufWriter.key(2, .fixed32), [0x15])
        XCTAssertEqual(ProtobufWriter.key(15, .varint), [0x78])
        XCTAssertEqual(ProtobufWriter.key(16, .varint), [0x80, 0x01])  // field numbers above 15 take two bytes
        XCTAssertEqual(ProtobufWriter.key(20, .varint), [0xA0, 0x01])
    }

    func testScalarFields() {
        var w = ProtobufWriter()
        w.int(1, 150)
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01])  // the documentation's "Test1 { a: 150 }"

        w = ProtobufWriter()
        w.string(2, "testing")
        XCTAssertEqual(w.bytes, [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67])

        w = ProtobufWriter()
        w.int(1, Int64(-1))  // negative int64: ten bytes, sign-extended
        XCTAssertEqual(w.bytes, [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])

        w = ProtobufWriter()
        w.float(2, 1.0)
        XCTAssertEqual(w.bytes, [0x15, 0x00, 0x00, 0x80, 0x3F])

        w = ProtobufWriter()
        w.bytes(4, [])
        XCTAssertEqual(w.bytes, [0x22, 0x00])
    }

    func testNestedMessage() {
        var w = ProtobufWriter()
        w.message(3) { $0.int(1, 150) }
        XCTAssertEqual(w.bytes, [0x1A, 0x03, 0x08, 0x96, 0x01])  // the documentation's "Test3 { c: { a: 150 } }"

        // A nested message longer than 127 bytes has a two-byte length.
        w = ProtobufWriter()
        w.message(1) { $0.bytes(1, [UInt8](repeating: 7, count: 200)) }
        XCTAssertEqual(Array(w.bytes.prefix(5)), [0x0A, 0xCB, 0x01, 0x0A, 0xC8])
        XCTAssertEqual(w.bytes.count, 3 + 3 + 200)
    }

    func testONNXTensorEncoding() {
        let t = ONNX.Tensor(name: "w", dims: [2], floats: [1, -2])
        var graph = ONNX.Graph(name: "g")
        graph.initializers = [t]
        let model = ONNX.Model(graph: graph, producerVersion: "0").serialized()
        var top = ProtoReader(model)
        let fields = try! top.fields()
        let graphBytes = fields.first { $0.number == 7 }!.bytes!
        var g = ProtoReader(graphBytes)
        let tensorBytes = try! g.fields().first { $0.number == 5 }!.bytes!
        // dims 2, data_type FLOAT, name "w", raw_data 1.0f and -2.0f little-endian.
        XCTAssertEqual(
            tensorBytes,
            [
                0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4A, 0x08,
                0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0
            ])
    }
}

/// A minimal protobuf reader for the tests: fields with their number and value.
struct ProtoReader {
    struct Field {
        var number: Int
        var varint: UInt64?
        var bytes: [UInt8]?
        var fixed32: UInt32?
    }

    struct Malformed: Error {}

    let data: [UInt8]
    var position = 0
    init(_ data: [UInt8]) { self.data = data }
    var atEnd: Bool { position == data.count }

    mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.count, shift < 64 else { throw Malformed() }
            let b = data[position]
            position += 1
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    mutating func fields() throws -> [Field] {
        var out: [Field] = []
        while !atEnd {
            let key = try varint()
            var f = Field(number: Int(key >> 3))
            switch key & 7 {
            case 0: f.varint = try varint()
            case 2:
                let n = Int(try varint())
                guard position + n <= data.count else { throw Malformed() }
                f.bytes = Array(data[position..<(position + n)])
                position += n
            case 5:
                guard position + 4 <= data.count else { throw Malformed() }
                f.fixed32 =
                    UInt32(data[position]) | UInt32(data[position + 1]) << 8 | UInt32(data[position + 2]) << 16 | UInt32(data[position + 3])
                    << 24
                position += 4
            default: throw Malformed()
            }
            out.append(f)
        }
        return out
    }
}
