// An ExportPlan as the legacy Keras HDF5 model file (what `model.save("x.h5")` writes in tf.keras 2.x
// and what `keras.models.load_model` reads in Keras 2 and 3):
//
//   /                 attrs: keras_version, backend, model_config (JSON: a Sequential with the same layers)
//   /model_weights    attrs: layer_names, backend, keras_version
//     /<layer>        attrs: weight_names (e.g. "conv2d/kernel:0"; empty for layers without weights)
//       /<layer>/kernel:0, /<layer>/bias:0     Float32 datasets in Keras layouts
//
// The Sequential starts with an InputLayer [None, H, W, C] and a Rescaling layer that applies the
// model file's normalisation (x * scale + offset, the same Float32 constants Digits uses), so it takes
// raw 0 ... 255 pixels like the ONNX export; it ends in softmax. Digits' layouts are already Keras'
// (conv kernel (KH, KW, Cin, Cout), dense kernel (in, out), channels_last flatten), so weights are
// copied as they are.
import NeuralNet
import TensorKit

public enum KerasH5Exporter {
    /// The Keras version whose file layout and layer configs this writes (tf.keras 2.x).
    public static let kerasVersion = "2.15.0"
    public static let backend = "tensorflow"

    public struct Export: Sendable {
        /// The `model_config` attribute.
        public var config: JSONValue
        /// The whole file.
        public var root: HDF5Group
        /// Layer names, in order (the `layer_names` attribute).
        public var layerNames: [String]
    }

    public static func export(_ plan: ExportPlan, producer: String) throws -> Export {
        var names: [String: Int] = [:]
        func uniqueName(_ base: String) -> String {
            let n = names[base, default: 0]
            names[base] = n + 1
            return n == 0 ? base : "\(base)_\(n)"
        }
        func common(_ name: String) -> [(String, JSONValue)] {
            [("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32"))]
        }
        func layer(_ className: String, _ config: [(String, JSONValue)]) -> JSONValue {
            .object([("class_name", .string(className)), ("config", .object(config))])
        }
        let initializers: [(String, JSONValue)] = [
            ("kernel_initializer", layer("GlorotUniform", [("seed", .null)])),
            ("bias_initializer", layer("Zeros", [])),
            ("kernel_regularizer", .null), ("bias_regularizer", .null), ("activity_regularizer", .null),
            ("kernel_constraint", .null), ("bias_constraint", .null)
        ]
        struct Weighted {
            var name: String
            var weights: [(String, HDF5Group.Dataset)]
        }
        var layers: [JSONValue] = []
        var saved: [Weighted] = []
        func add(_ base: String, _ className: String, _ config: [(String, JSONValue)], weights: [(String, HDF5Group.Dataset)] = []) {
            let name = uniqueName(base)
            layers.append(layer(className, common(name) + config))
            saved.append(Weighted(name: name, weights: weights))
        }

        let s = plan.inputShape
        let inputLayer = layer(
            "InputLayer",
            [
                ("batch_input_shape", .array([.null, .int(s.height), .int(s.width), .int(s.channels)])),
                ("dtype", .string("float32")), ("sparse", .bool(false)), ("ragged", .bool(false)), ("name", .string("input_1"))
            ])
        add("rescaling", "Rescaling", [("scale", .float(plan.normalization.scale)), ("offset", .float(plan.normalization.shift))])

        var flat = false
        var shape = plan.inputShape
        func ensureImage() {
            if flat {
                add("reshape", "Reshape", [("target_shape", .ints([1, 1, shape.channels]))])
                flat = false
            }
        }
        for step in plan.steps {
            switch step.operation {
            case .conv(let filters, let kernel, let stride, let padding, let inputChannels, let activation, let kernelWeights, let bias):
                ensureImage()
                var paddingMode = "valid"
                if padding > 0 {
                    if stride == 1 && kernel % 2 == 1 && padding == kernel / 2 {
                        paddingMode = "same"
                    } else {
                        add(
                            "zero_padding2d", "ZeroPadding2D",
                            [
                                ("padding", .array([.ints([padding, padding]), .ints([padding, padding])])),
                                ("data_format", .string("channels_last"))
                            ])
                    }
                }
                let name = "conv2d"
                let next = names[name, default: 0] == 0 ? name : "\(name)_\(names[name]!)"
                add(
                    name, "Conv2D",
                    [
                        ("filters", .int(filters)), ("kernel_size", .ints([kernel, kernel])), ("strides", .ints([stride, stride])),
                        ("padding", .string(paddingMode)), ("data_format", .string("channels_last")), ("dilation_rate", .ints([1, 1])),
                        ("groups", .int(1)), ("activation", .string(activation.rawValue)), ("use_bias", .bool(true))
                    ] + initializers,
                    weights: [
                        ("\(next)/kernel:0", HDF5Group.Dataset(shape: [kernel, kernel, inputChannels, filters], values: kernelWeights)),
                        ("\(next)/bias:0", HDF5Group.Dataset(shape: [filters], values: bias))
                    ])
            case .maxPool(let size, let stride):
                ensureImage()
                add(
                    "max_pooling2d", "MaxPooling2D",
                    [
                        ("pool_size", .ints([size, size])), ("padding", .string("valid")),
                        ("strides", .ints([stride, stride])), ("data_format", .string("channels_last"))
                    ])
            case .relu:
                add("activation", "Activation", [("activation", .string("relu"))])
            case .flatten:
                if !flat { add("flatten", "Flatten", [("data_format", .string("channels_last"))]) }
                flat = true
            case .dense(let inputs, let units, let activation, let kernelWeights, let bias):
                if !flat {
                    add("flatten", "Flatten", [("data_format", .string("channels_last"))])
                    flat = true
                }
                let name = "dense"
                let next = names[name, default: 0] == 0 ? name : "\(name)_\(names[name]!)"
                add(
                    name, "Dense",
                    [("units", .int(units)), ("activation", .string(activation.rawValue)), ("use_bias", .bool(true))]
                        + initializers,
                    weights: [
                        ("\(next)/kernel:0", HDF5Group.Dataset(shape: [inputs, units], values: kernelWeights)),
                        ("\(next)/bias:0", HDF5Group.Dataset(shape: [units], values: bias))
                    ])
            case .dropout(let rate):
                add("dropout", "Dropout", [("rate", .float(rate)), ("noise_shape", .null), ("seed", .null)])
            }
            shape = step.outputShape
        }
        if !flat { add("flatten", "Flatten", [("data_format", .string("channels_last"))]) }
        // Softmax: folded into a final linear Dense, else its own layer.
        if case .object(let last)? = layers.last, case .string("Dense")? = last.first(where: { $0.0 == "class_name" })?.1,
            case .object(let config)? = last.first(where: { $0.0 == "config" })?.1,
            config.contains(where: { $0.0 == "activation" && $0.1 == .string("linear") })
        {
            let updated = config.map { $0.0 == "activation" ? ("activation", JSONValue.string("softmax")) : $0 }
            layers[layers.count - 1] = layer("Dense", updated)
        } else {
            add("activation", "Activation", [("activation", .string("softmax"))])
        }

        let config = JSONValue.object([
            ("class_name", .string("Sequential")),
            ("config", .object([("name", .string(plan.name)), ("layers", .array([inputLayer] + layers))]))
        ])
        var root = HDF5Group()
        root.attributes = [
            ("keras_version", .string(kerasVersion)), ("backend", .string(backend)),
            ("model_config", .string(config.serialized())), ("digits_producer", .string(producer))
        ]
        var weightsGroup = HDF5Group()
        weightsGroup.attributes = [
            ("layer_names", .strings(saved.map(\.name))), ("backend", .string(backend)), ("keras_version", .string(kerasVersion))
        ]
        for w in saved {
            weightsGroup.withGroup(w.name) { g in
                g.attributes.append(("weight_names", .strings(w.weights.map(\.0))))
                for (path, data) in w.weights { g.addDataset(path, data) }
            }
        }
        root.groups.append(("model_weights", weightsGroup))
        return Export(config: config, root: root, layerNames: saved.map(\.name))
    }
}
