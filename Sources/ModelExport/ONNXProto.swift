// The part of the ONNX schema (onnx/onnx.proto, IR version 7) that a feed-forward graph needs,
// as plain values, and their protobuf encoding. Field numbers are those of onnx.proto.

public enum ONNX {
    /// TensorProto.DataType
    public enum DataType: Int, Sendable {
        case float = 1
        case uint8 = 2
        case int64 = 7
    }

    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dims: [Int]
        public var dataType: DataType
        /// Little-endian element bytes (TensorProto.raw_data).
        public var rawData: [UInt8]

        public init(name: String, dims: [Int], floats: [Float]) {
            precondition(dims.reduce(1, *) == floats.count, "tensor \(name): dims \(dims) do not hold \(floats.count) values")
            self.name = name
            self.dims = dims
            self.dataType = .float
            var raw: [UInt8] = []
            raw.reserveCapacity(4 * floats.count)
            for f in floats { raw += ProtobufWriter.littleEndian(f.bitPattern) }
            self.rawData = raw
        }

        public init(name: String, dims: [Int], int64s: [Int64]) {
            precondition(dims.reduce(1, *) == int64s.count, "tensor \(name): dims \(dims) do not hold \(int64s.count) values")
            self.name = name
            self.dims = dims
            self.dataType = .int64
            var raw: [UInt8] = []
            for v in int64s {
                let u = UInt64(bitPattern: v)
                for b in 0..<8 { raw.append(UInt8(u >> (8 * UInt64(b)) & 0xFF)) }
            }
            self.rawData = raw
        }

        func encode(into w: inout ProtobufWriter) {
            for d in dims { w.int(1, d) }  // dims
            w.int(2, dataType.rawValue)  // data_type
            w.string(8, name)  // name
            w.bytes(9, rawData)  // raw_data
        }
    }

    public enum AttributeValue: Sendable, Equatable {
        case int(Int)
        case ints([Int])
        case float(Float)
        case string(String)
    }

    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: AttributeValue

        public init(_ name: String, _ value: AttributeValue) {
            self.name = name
            self.value = value
        }

        func encode(into w: inout ProtobufWriter) {
            w.string(1, name)
            switch value {  // AttributeProto.AttributeType in field 20
            case .float(let f):
                w.float(2, f)
                w.int(20, 1)
            case .int(let i):
                w.int(3, i)
                w.int(20, 2)
            case .string(let s):
                w.string(4, s)
                w.int(20, 3)
            case .ints(let v):
                for i in v { w.int(8, i) }
                w.int(20, 7)
            }
        }
    }

    public struct Node: Sendable, Equatable {
        public var opType: String
        public var name: String
        public var inputs: [String]
        public var outputs: [String]
        public var attributes: [Attribute]

        public init(_ opType: String, name: String, inputs: [String], outputs: [String], attributes: [Attribute] = []) {
            self.opType = opType
            self.name = name
            self.inputs = inputs
            self.outputs = outputs
            self.attributes = attributes
        }

        func encode(into w: inout ProtobufWriter) {
            for i in inputs { w.string(1, i) }
            for o in outputs { w.string(2, o) }
            w.string(3, name)
            w.string(4, opType)
            for a in attributes { w.message(5) { a.encode(into: &$0) } }
        }
    }

    /// A tensor dimension: a fixed size or a named symbolic one (e.g. the batch).
    public enum Dimension: Sendable, Equatable {
        case value(Int)
        case symbol(String)
    }

    public struct ValueInfo: Sendable, Equatable {
        public var name: String
        public var elementType: DataType
        public var shape: [Dimension]
        public var doc: String

        public init(name: String, elementType: DataType, shape: [Dimension], doc: String = "") {
            self.name = name
            self.elementType = elementType
            self.shape = shape
            self.doc = doc
        }

        func encode(into w: inout ProtobufWriter) {
            w.string(1, name)
            w.message(2) { type in  // TypeProto
                type.message(1) { tensor in  // TypeProto.Tensor
                    tensor.int(1, elementType.rawValue)
                    tensor.message(2) { shapeProto in  // TensorShapeProto
                        for d in shape {
                            shapeProto.message(1) { dim in
                                switch d {
                                case .value(let v): dim.int(1, v)
                                case .symbol(let s): dim.string(2, s)
                                }
                            }
                        }
                    }
                }
            }
            if !doc.isEmpty { w.string(3, doc) }
        }
    }

    public struct Graph: Sendable, Equatable {
        public var name: String
        public var nodes: [Node] = []
        public var initializers: [Tensor] = []
        public var inputs: [ValueInfo] = []
        public var outputs: [ValueInfo] = []
        public var doc: String = ""

        public init(name: String) { self.name = name }

        func encode(into w: inout ProtobufWriter) {
            for n in nodes { w.message(1) { n.encode(into: &$0) } }
            w.string(2, name)
            for t in initializers { w.message(5) { t.encode(into: &$0) } }
            if !doc.isEmpty { w.string(10, doc) }
            for i in inputs { w.message(11) { i.encode(into: &$0) } }
            for o in outputs { w.message(12) { o.encode(into: &$0) } }
        }
    }

    public struct Model: Sendable, Equatable {
        public var irVersion = 7
        public var opsetVersion = 13
        public var producerName = "digits"
        public var producerVersion: String
        public var doc: String = ""
        public var graph: Graph
        public var metadata: [(key: String, value: String)] = []

        public init(graph: Graph, producerVersion: String) {
            self.graph = graph
            self.producerVersion = producerVersion
        }

        public static func == (a: Model, b: Model) -> Bool {
            a.irVersion == b.irVersion && a.opsetVersion == b.opsetVersion && a.producerName == b.producerName
                && a.producerVersion == b.producerVersion && a.doc == b.doc && a.graph == b.graph
                && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
        }

        /// The serialized ModelProto.
        public func serialized() -> [UInt8] {
            var w = ProtobufWriter()
            w.int(1, irVersion)  // ir_version
            w.string(2, producerName)  // producer_name
            w.string(3, producerVersion)  // producer_version
            if !doc.isEmpty { w.string(6, doc) }  // doc_string
            w.message(7) { graph.encode(into: &$0) }  // graph
            w.message(8) { opset in  // opset_import: the default domain ""
                opset.string(1, "")
                opset.int(2, opsetVersion)
            }
            for (k, v) in metadata {  // metadata_props
                w.message(14) { e in
                    e.string(1, k)
                    e.string(2, v)
                }
            }
            return w.bytes
        }
    }
}
