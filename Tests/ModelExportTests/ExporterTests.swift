import Foundation
import HDF5
import ModelExport
import NeuralNet
import TensorKit
import XCTest

final class ExporterTests: XCTestCase {
    /// keras-example with weights[i] = i / 1000, so every value says where it came from.
    func kerasExample() throws -> (Sequential, [Float]) {
        let net = try Sequential(spec: .kerasExample)
        return (net, (0..<net.parameterCount).map { Float($0) / 1000 })
    }

    func testPlanFoldsReLUIntoConvAndKeepsKerasLayouts() throws {
        let (net, weights) = try kerasExample()
        let plan = try ExportPlan(model: net, weights: weights, normalization: .mnistStandard, format: "ONNX")
        XCTAssertEqual(plan.steps.count, 7)  // conv(+relu), pool, conv(+relu), pool, flatten, dropout, dense
        guard case .conv(let filters, let kernel, _, _, let channels, let activation, let kernelWeights, let bias) = plan.steps[0].operation
        else {
            return XCTFail("first step is \(plan.steps[0].operation)")
        }
        XCTAssertEqual([filters, kernel, channels], [32, 3, 1])
        XCTAssertEqual(activation, .relu)
        XCTAssertEqual(kernelWeights, Array(weights[0..<288]))
        XCTAssertEqual(bias, Array(weights[288..<320]))
        guard case .dense(let inputs, let units, let denseActivation, let denseKernel, _) = plan.steps[6].operation else {
            return XCTFail("last step is \(plan.steps[6].operation)")
        }
        XCTAssertEqual([inputs, units], [1600, 10])
        XCTAssertEqual(denseActivation, .linear)
        XCTAssertEqual(denseKernel.first, weights[net.offsets[net.layers.count - 1]])
    }

    func testONNXGraphStructureAndConvWeightLayout() throws {
        let (net, weights) = try kerasExample()
        let plan = try ExportPlan(model: net, weights: weights, normalization: .mnistStandard, format: "ONNX")
        let bytes = ONNXExporter.model(plan, producerVersion: "test").serialized()
        var top = ProtoReader(bytes)
        let fields = try top.fields()
        XCTAssertEqual(fields.first { $0.number == 1 }?.varint, 7)  // ir_version
        var opset = ProtoReader(try XCTUnwrap(fields.first { $0.number == 8 }?.bytes))
        let opsetFields = try opset.fields()
        XCTAssertEqual(opsetFields.first { $0.number == 2 }?.varint, 13)
        XCTAssertEqual(opsetFields.first { $0.number == 1 }?.bytes, [])  // the default domain

        var graph = ProtoReader(try XCTUnwrap(fields.first { $0.number == 7 }?.bytes))
        let graphFields = try graph.fields()
        var ops: [String] = []
        for node in graphFields where node.number == 1 {
            var r = ProtoReader(node.bytes!)
            ops.append(String(decoding: try r.fields().first { $0.number == 4 }!.bytes!, as: UTF8.self))
        }
        XCTAssertEqual(
            ops,
            ["Mul", "Add", "Transpose", "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Transpose", "Flatten", "Gemm", "Softmax"])

        var initializers: [String: (dims: [Int], raw: [UInt8])] = [:]
        for t in graphFields where t.number == 5 {
            var r = ProtoReader(t.bytes!)
            let tf = try r.fields()
            let name = String(decoding: tf.first { $0.number == 8 }!.bytes!, as: UTF8.self)
            initializers[name] = (tf.filter { $0.number == 1 }.map { Int($0.varint!) }, tf.first { $0.number == 9 }!.bytes!)
        }
        func floats(_ raw: [UInt8]) -> [Float] {
            stride(from: 0, to: raw.count, by: 4).map {
                Float(bitPattern: UInt32(raw[$0]) | UInt32(raw[$0 + 1]) << 8 | UInt32(raw[$0 + 2]) << 16 | UInt32(raw[$0 + 3]) << 24)
            }
        }
        // Second conv: Keras (3, 3, 32, 64) -> ONNX (64, 32, 3, 3).
        let conv = try XCTUnwrap(initializers["l3_conv_W"])
        XCTAssertEqual(conv.dims, [64, 32, 3, 3])
        let onnxW = floats(conv.raw)
        let base = net.offsets[3]
        for (f, c, y, x) in [(0, 0, 0, 0), (5, 7, 1, 2), (63, 31, 2, 2), (10, 0, 2, 1)] {
            XCTAssertEqual(
                onnxW[((f * 32 + c) * 3 + y) * 3 + x], weights[base + ((y * 3 + x) * 32 + c) * 64 + f], "f\(f) c\(c) y\(y) x\(x)")
        }
        let dense = try XCTUnwrap(initializers["l8_dense_W"])
        XCTAssertEqual(dense.dims, [1600, 10])
        XCTAssertEqual(floats(dense.raw), Array(weights[net.offsets[8]..<(net.offsets[8] + 16_000)]))
        XCTAssertEqual(floats(try XCTUnwrap(initializers["normalize_scale"]).raw), [Normalization.mnistStandard.scale])
        XCTAssertEqual(floats(try XCTUnwrap(initializers["normalize_shift"]).raw), [Normalization.mnistStandard.shift])
        XCTAssertEqual(try XCTUnwrap(initializers["normalize_scale"]).dims, [])
    }

    func testKerasLayoutConfigAndWeights() throws {
        let (net, weights) = try kerasExample()
        let plan = try ExportPlan(model: net, weights: weights, normalization: .mnistStandard, format: "Keras HDF5")
        let export = try KerasH5Exporter.export(plan, producer: "test")
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(export.config.serialized().utf8)) as? [String: Any])
        XCTAssertEqual(config["class_name"] as? String, "Sequential")
        let layers = try XCTUnwrap((config["config"] as? [String: Any])?["layers"] as? [[String: Any]])
        XCTAssertEqual(
            layers.map { $0["class_name"] as? String },
            [
                "InputLayer", "Rescaling", "Conv2D", "MaxPooling2D", "Conv2D",
                "MaxPooling2D", "Flatten", "Dropout", "Dense"
            ])
        let configs = layers.map { $0["config"] as! [String: Any] }
        XCTAssertEqual(configs[0]["batch_input_shape"] as? [NSObject], [NSNull(), 28 as NSNumber, 28 as NSNumber, 1 as NSNumber])
        XCTAssertEqual(Float(configs[1]["scale"] as! Double), Normalization.mnistStandard.scale)
        XCTAssertEqual(Float(configs[1]["offset"] as! Double), Normalization.mnistStandard.shift)
        XCTAssertEqual(configs[2]["activation"] as? String, "relu")
        XCTAssertEqual(configs[8]["activation"] as? String, "softmax")
        XCTAssertEqual(Float(configs[7]["rate"] as! Double), 0.5)
        XCTAssertEqual(
            export.layerNames, ["rescaling", "conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dropout", "dense"])

        let weightsGroup = try XCTUnwrap(export.root.groups.first { $0.name == "model_weights" }?.group)
        XCTAssertEqual(weightsGroup.attributes.first { $0.name == "layer_names" }?.value, .strings(export.layerNames))
        let conv1 = try XCTUnwrap(weightsGroup.groups.first { $0.name == "conv2d_1" }?.group)
        XCTAssertEqual(conv1.attributes.first { $0.name == "weight_names" }?.value, .strings(["conv2d_1/kernel:0", "conv2d_1/bias:0"]))
        let kernel = try XCTUnwrap(conv1.groups.first { $0.name == "conv2d_1" }?.group.datasets.first { $0.name == "kernel:0" }?.dataset)
        XCTAssertEqual(kernel.shape, [3, 3, 32, 64])
        XCTAssertEqual(kernel.values, Array(weights[net.offsets[3]..<(net.offsets[3] + 18_432)]))
        let pool = try XCTUnwrap(weightsGroup.groups.first { $0.name == "max_pooling2d" }?.group)
        XCTAssertEqual(pool.attributes.first { $0.name == "weight_names" }?.value, .strings([]))
        let root = Dictionary(uniqueKeysWithValues: export.root.attributes.map { ($0.name, $0.value) })
        XCTAssertEqual(root["keras_version"], .string("2.15.0"))
        XCTAssertEqual(root["backend"], .string("tensorflow"))
        XCTAssertEqual(root["model_config"], .string(export.config.serialized()))
    }

    func testMixedModelNeedsASoftmaxLayerAfterADenseReLU() throws {
        let spec = ModelSpec(name: "m", layers: [.conv(8, kernel: 3), .flatten, .dense(10), LayerSpec(type: "relu")])
        let net = try Sequential(spec: spec)
        let plan = try ExportPlan(model: net, weights: net.initialParameters(seed: 1), normalization: .unit, format: "Keras HDF5")
        let export = try KerasH5Exporter.export(plan, producer: "test")
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(export.config.serialized().utf8)) as? [String: Any])
        let layers = try XCTUnwrap((config["config"] as? [String: Any])?["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.map { $0["class_name"] as? String }, ["InputLayer", "Rescaling", "Conv2D", "Flatten", "Dense", "Activation"])
        XCTAssertEqual((layers[4]["config"] as? [String: Any])?["activation"] as? String, "relu")
        XCTAssertEqual((layers[5]["config"] as? [String: Any])?["activation"] as? String, "softmax")
    }

    /// A layer type the exporters do not know (e.g. a future batch normalisation) is an error naming it.
    func testUnsupportedLayerIsAnErrorNamingTheLayer() throws {
        let input = Shape3(28, 28, 1)
        let conv = Conv2D(input: input, filters: 8, kernel: 3)
        let stub = NormStub(input: conv.outputShape)
        let flatten = Flatten(input: conv.outputShape)
        let dense = Dense(input: flatten.outputShape, units: 10)
        let net = Sequential(spec: ModelSpec(name: "with-norm", layers: []), layers: [conv, stub, flatten, dense])
        for format in ["ONNX", "Keras HDF5"] {
            XCTAssertThrowsError(
                try ExportPlan(
                    model: net, weights: [Float](repeating: 0, count: net.parameterCount),
                    normalization: .unit, format: format)
            ) { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains("layer 2 (NormStub)"), message)
                XCTAssertTrue(message.contains(format), message)
                XCTAssertTrue(message.contains("with-norm"), message)
            }
        }
        XCTAssertThrowsError(try ExportPlan(model: net, weights: [1, 2, 3], normalization: .unit, format: "ONNX"))
    }

    func testNPYHeader() {
        let bytes = NPYFile.encode(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(bytes.prefix(8)), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header)
        XCTAssertTrue(header.hasSuffix("\n"))
        XCTAssertEqual(bytes.count, 10 + headerLength + 24)
        XCTAssertEqual(Array(bytes[(10 + headerLength)..<(14 + headerLength)]), [0, 0, 0x80, 0x3F])
        let one = String(decoding: NPYFile.encode(shape: [3], values: [1, 2, 3])[10..<64], as: UTF8.self)
        XCTAssertTrue(one.contains("'shape': (3,)"), one)  // a 1-tuple needs its comma
    }

    func testJSONSerialization() {
        let v = JSONValue.object([
            ("a\"b", .string("line\nbreak\u{1}")), ("n", .null), ("t", .bool(true)), ("x", .float(0.1)),
            ("i", .ints([1, -2]))
        ])
        XCTAssertEqual(v.serialized(), #"{"a\"b": "line\nbreak\u0001", "n": null, "t": true, "x": 0.10000000149011612, "i": [1, -2]}"#)
        let parsed = try? JSONSerialization.jsonObject(with: Data(v.serialized().utf8)) as? [String: Any]
        XCTAssertEqual(Float(parsed?["x"] as? Double ?? 0), 0.1)  // reads back as the same Float32
    }

    func testHDF5WriterReportsAPathItCannotCreate() {
        var root = HDF5Group()
        root.attributes = [("a", .string("b"))]
        let path = NSTemporaryDirectory() + "no-such-dir-\(UUID().uuidString)/x.h5"
        XCTAssertThrowsError(try HDF5Writer.write(root, to: path)) { error in
            XCTAssertTrue(String(describing: error).contains(path))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}

/// A parameter-free layer the exporters do not know.
final class NormStub: Layer {
    let inputShape: Shape3
    var outputShape: Shape3 { inputShape }
    init(input: Shape3) { inputShape = input }
    func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        y.update(from: x, count: context.batch * inputShape.count)
    }
    func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>?,
        parameters: UnsafePointer<Float>, dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        dX?.update(from: dY, count: context.batch * inputShape.count)
    }
}
