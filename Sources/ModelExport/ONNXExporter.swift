// An ExportPlan as an ONNX graph (opset 13) that takes raw pixels the way `digits predict` feeds
// the network and returns softmax probabilities:
//
//   pixels  float32 [N, H, W, C] (NHWC), intensities 0 ... 255, light digit on a dark background (MNIST)
//     -> Mul(scale) -> Add(shift)             the model file's normalisation, same Float32 constants
//     -> Transpose to NCHW -> Conv / Relu / MaxPool ...
//     -> Transpose back to NHWC -> Flatten    so dense weights see Digits' (Keras') flatten order
//     -> Gemm (+ Relu) ... -> Softmax
//   probabilities  float32 [N, classes]
//
// Weights are converted from Keras layouts: conv (KH, KW, Cin, Cout) -> ONNX (Cout, Cin, KH, KW);
// dense (in, out) is Gemm's B as is. Dropout is the identity at inference and is left out.
import NeuralNet
import TensorKit

public enum ONNXExporter {
    public static let inputName = "pixels"
    public static let outputName = "probabilities"

    public static func inputDescription(_ plan: ExportPlan) -> String {
        let s = plan.inputShape
        let n = plan.normalization
        let shift = n.shift == 0 ? 0 : n.shift  // print -0.0 as 0
        return "float32 [N, \(s.height), \(s.width), \(s.channels)] (NHWC): raw pixel intensities 0 to 255, light digit on a dark "
            + "background as in MNIST; the graph normalises them as Digits does (x * \(n.scale) + \(shift), "
            + "i.e. (x / 255 - \(n.mean)) / \(n.std))"
    }

    public static func model(_ plan: ExportPlan, producerVersion: String, metadata: [(key: String, value: String)] = []) -> ONNX.Model {
        var graph = ONNX.Graph(name: plan.name)
        graph.doc =
            """
            Digits model '\(plan.name)': input \(inputName) \(inputDescription(plan)); output \(outputName) float32 [N, \
            \(plan.classes)] (softmax).
            """
        let s = plan.inputShape
        graph.inputs = [
            ONNX.ValueInfo(
                name: inputName, elementType: .float,
                shape: [.symbol("N"), .value(s.height), .value(s.width), .value(s.channels)],
                doc: inputDescription(plan))
        ]
        graph.outputs = [
            ONNX.ValueInfo(
                name: outputName, elementType: .float, shape: [.symbol("N"), .value(plan.classes)],
                doc: "softmax probabilities, one per class")
        ]
        var builder = GraphBuilder(graph: graph)
        builder.addInitializer(ONNX.Tensor(name: "normalize_scale", dims: [], floats: [plan.normalization.scale]))
        builder.addInitializer(ONNX.Tensor(name: "normalize_shift", dims: [], floats: [plan.normalization.shift]))
        var current = builder.node("Mul", "normalize_mul", inputs: [inputName, "normalize_scale"])
        current = builder.node("Add", "normalize_add", inputs: [current, "normalize_shift"])
        // The layout of `current`: NHWC (the input), NCHW (inside the conv stack) or flat [N, features].
        enum Layout { case nhwc, nchw, flat }
        var layout = Layout.nhwc
        var shape = plan.inputShape

        func toNCHW(_ tag: String) {
            switch layout {
            case .nchw: return
            case .nhwc:
                current = builder.node("Transpose", "\(tag)_to_nchw", inputs: [current], attributes: [.init("perm", .ints([0, 3, 1, 2]))])
            case .flat:
                // A flat [N, C] tensor is a 1x1xC image.
                let target = builder.constantInt64("\(tag)_shape", [-1, Int64(shape.channels), 1, 1])
                current = builder.node("Reshape", "\(tag)_to_nchw", inputs: [current, target])
            }
            layout = .nchw
        }
        func toFlat(_ tag: String) {
            switch layout {
            case .flat: return
            case .nchw:
                current = builder.node("Transpose", "\(tag)_to_nhwc", inputs: [current], attributes: [.init("perm", .ints([0, 2, 3, 1]))])
                fallthrough
            case .nhwc:
                current = builder.node("Flatten", "\(tag)_flatten", inputs: [current], attributes: [.init("axis", .int(1))])
            }
            layout = .flat
        }

        for (n, step) in plan.steps.enumerated() {
            let tag = "l\(step.layerIndex)"
            switch step.operation {
            case .conv(let filters, let kernel, let stride, let padding, let inputChannels, let activation, let kernelWeights, let bias):
                toNCHW(tag)
                var oihw = [Float](repeating: 0, count: kernelWeights.count)
                for y in 0..<kernel {
                    for x in 0..<kernel {
                        for c in 0..<inputChannels {
                            for f in 0..<filters {
                                oihw[((f * inputChannels + c) * kernel + y) * kernel + x] =
                                    kernelWeights[((y * kernel + x) * inputChannels + c) * filters + f]
                            }
                        }
                    }
                }
                builder.addInitializer(ONNX.Tensor(name: "\(tag)_conv_W", dims: [filters, inputChannels, kernel, kernel], floats: oihw))
                builder.addInitializer(ONNX.Tensor(name: "\(tag)_conv_B", dims: [filters], floats: bias))
                current = builder.node(
                    "Conv", "\(tag)_conv", inputs: [current, "\(tag)_conv_W", "\(tag)_conv_B"],
                    attributes: [
                        .init("kernel_shape", .ints([kernel, kernel])), .init("strides", .ints([stride, stride])),
                        .init("pads", .ints([padding, padding, padding, padding])), .init("dilations", .ints([1, 1])),
                        .init("group", .int(1))
                    ])
                if activation == .relu { current = builder.node("Relu", "\(tag)_relu", inputs: [current]) }
            case .maxPool(let size, let stride):
                toNCHW(tag)
                current = builder.node(
                    "MaxPool", "\(tag)_maxpool", inputs: [current],
                    attributes: [
                        .init("kernel_shape", .ints([size, size])), .init("strides", .ints([stride, stride])),
                        .init("pads", .ints([0, 0, 0, 0])), .init("ceil_mode", .int(0))
                    ])
            case .relu:
                current = builder.node("Relu", "\(tag)_relu", inputs: [current])
            case .flatten:
                toFlat(tag)
            case .dense(let inputs, let units, let activation, let kernelWeights, let bias):
                toFlat(tag)
                builder.addInitializer(ONNX.Tensor(name: "\(tag)_dense_W", dims: [inputs, units], floats: kernelWeights))
                builder.addInitializer(ONNX.Tensor(name: "\(tag)_dense_B", dims: [units], floats: bias))
                current = builder.node(
                    "Gemm", "\(tag)_dense", inputs: [current, "\(tag)_dense_W", "\(tag)_dense_B"],
                    attributes: [
                        .init("alpha", .float(1)), .init("beta", .float(1)), .init("transA", .int(0)), .init("transB", .int(0))
                    ])
                if activation == .relu { current = builder.node("Relu", "\(tag)_relu", inputs: [current]) }
            case .dropout:
                break  // identity at inference
            }
            if n == plan.steps.count - 1 { toFlat("\(tag)_out") }
            shape = step.outputShape
        }
        if plan.steps.isEmpty { toFlat("out") }
        builder.graph.nodes.append(
            ONNX.Node(
                "Softmax", name: "softmax", inputs: [current], outputs: [outputName],
                attributes: [.init("axis", .int(1))]))
        var model = ONNX.Model(graph: builder.graph, producerVersion: producerVersion)
        model.doc = builder.graph.doc
        model.metadata = metadata
        return model
    }

    /// Adds nodes with generated output names.
    struct GraphBuilder {
        var graph: ONNX.Graph

        mutating func node(_ op: String, _ name: String, inputs: [String], attributes: [ONNX.Attribute] = []) -> String {
            let output = name + "_out"
            graph.nodes.append(ONNX.Node(op, name: name, inputs: inputs, outputs: [output], attributes: attributes))
            return output
        }

        mutating func addInitializer(_ tensor: ONNX.Tensor) { graph.initializers.append(tensor) }

        mutating func constantInt64(_ name: String, _ values: [Int64]) -> String {
            graph.initializers.append(ONNX.Tensor(name: name, dims: [values.count], int64s: values))
            return name
        }
    }
}
