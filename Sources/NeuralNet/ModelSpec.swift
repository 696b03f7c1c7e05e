// The architecture as data: a Codable layer list (from TOML/JSON or a preset) that builds a
// `Sequential`. Presets mirror the Keras and PyTorch MNIST examples.
import TensorKit

public struct ModelSpecError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// One layer of a model spec. `type` is conv2d, maxpool2d, dense, relu, batchnorm, dropout or flatten.
public struct LayerSpec: Codable, Equatable, Sendable {
    public var type: String
    public var filters: Int?
    public var kernel: Int?
    public var stride: Int?
    /// "valid" (default) or "same" for conv2d.
    public var padding: String?
    public var units: Int?
    public var rate: Float?
    /// Pool window for maxpool2d (default 2).
    public var size: Int?
    /// "relu" adds a ReLU after conv2d/dense; "softmax" is allowed on the last layer only (the loss applies it).
    public var activation: String?
    /// "glorot_uniform" (default, as Keras) or "he_normal".
    public var initializer: String?

    public init(
        type: String, filters: Int? = nil, kernel: Int? = nil, stride: Int? = nil, padding: String? = nil,
        units: Int? = nil, rate: Float? = nil, size: Int? = nil, activation: String? = nil, initializer: String? = nil
    ) {
        self.type = type
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.units = units
        self.rate = rate
        self.size = size
        self.activation = activation
        self.initializer = initializer
    }

    public static func conv(_ filters: Int, kernel: Int = 3, activation: String? = "relu", padding: String? = nil) -> LayerSpec {
        LayerSpec(type: "conv2d", filters: filters, kernel: kernel, padding: padding, activation: activation)
    }
    public static func pool(_ size: Int = 2) -> LayerSpec { LayerSpec(type: "maxpool2d", size: size) }
    public static func dense(_ units: Int, activation: String? = nil) -> LayerSpec {
        LayerSpec(type: "dense", units: units, activation: activation)
    }
    public static func dropout(_ rate: Float) -> LayerSpec { LayerSpec(type: "dropout", rate: rate) }
    public static let flatten = LayerSpec(type: "flatten")
    public static let batchNorm = LayerSpec(type: "batchnorm")
}

public struct ModelSpec: Codable, Equatable, Sendable {
    public var name: String
    /// Input shape (height, width, channels).
    public var input: [Int]
    public var classes: Int
    public var layers: [LayerSpec]

    public init(name: String, input: [Int] = [28, 28, 1], classes: Int = 10, layers: [LayerSpec]) {
        self.name = name
        self.input = input
        self.classes = classes
        self.layers = layers
    }

    /// Keras "Simple MNIST convnet": 34,826 parameters.
    public static let kerasExample = ModelSpec(
        name: "keras-example",
        layers: [
            .conv(32), .pool(), .conv(64), .pool(), .flatten, .dropout(0.5), .dense(10, activation: "softmax")
        ])

    /// PyTorch examples/mnist network: 1,199,882 parameters.
    public static let pytorchExample = ModelSpec(
        name: "pytorch-example",
        layers: [
            .conv(32), .conv(64), .pool(), .dropout(0.25), .flatten, .dense(128, activation: "relu"), .dropout(0.5),
            .dense(10, activation: "softmax")
        ])

    /// A deeper net for 99.5%+: two conv pairs (32, 64 filters; each conv -> ReLU -> batch norm, so
    /// conv + ReLU [+ pool] still run fused), dense 256 with batch norm and dropout: 335,434 parameters.
    public static let cnnBN = ModelSpec(
        name: "cnn-bn",
        layers: [
            .conv(32), .batchNorm, .conv(32), .pool(), .batchNorm,
            .conv(64), .batchNorm, .conv(64), .pool(), .batchNorm,
            .flatten, .dense(256, activation: "relu"), .batchNorm, .dropout(0.4), .dense(10, activation: "softmax")
        ])

    /// keras-example with batch norm after each conv block and a dense 128 layer: fast to 99%.
    public static let smallBN = ModelSpec(
        name: "small-bn",
        layers: [
            .conv(32), .pool(), .batchNorm, .conv(64), .pool(), .batchNorm,
            .flatten, .dense(128, activation: "relu"), .dropout(0.3), .dense(10, activation: "softmax")
        ])

    public static let presets: [String: ModelSpec] = [
        kerasExample.name: kerasExample,
        pytorchExample.name: pytorchExample,
        cnnBN.name: cnnBN,
        smallBN.name: smallBN
    ]

    /// A copy for `n` classes when the last layer is a dense layer sized for the old count (presets); else self.
    public func adapted(toClasses n: Int) -> ModelSpec {
        guard n != classes, let last = layers.last, last.type == "dense", last.units == classes else { return self }
        var copy = self
        copy.classes = n
        copy.layers[copy.layers.count - 1].units = n
        return copy
    }

    /// A copy with every dropout rate replaced (sweeps); the name records the rate.
    public func withDropout(_ rate: Float) -> ModelSpec {
        var copy = self
        copy.layers = layers.map { l in
            guard l.type == "dropout" else { return l }
            var d = l
            d.rate = rate
            return d
        }
        copy.name = "\(name)-dropout\(rate)"
        return copy
    }
}

extension Sequential {
    /// Largest input side, channel count, filter count, unit count, kernel, stride or pool size a
    /// spec may ask for (MNIST models use 28 and at most a few hundred).
    public static let maxSpecDimension = 1 << 16
    /// Largest activation (height x width x channels) of any layer, and largest parameter count of
    /// the model: a spec is a user's file, and these bound what building it may allocate.
    public static let maxActivationCount = 1 << 28
    public static let maxParameterCount = 1 << 28

    /// Builds the layers of a spec, checking every field. Errors name the layer and the field.
    public convenience init(spec: ModelSpec) throws {
        func fail(_ i: Int, _ message: String) -> ModelSpecError {
            ModelSpecError(message: "model '\(spec.name)' layer \(i + 1) (\(spec.layers[i].type)): \(message)")
        }
        let maxSide = Self.maxSpecDimension
        /// The product of `factors`, or nil when it exceeds `limit` (or Int).
        func product(_ factors: [Int], limit: Int) -> Int? {
            var p = 1
            for f in factors {
                let (r, overflow) = p.multipliedReportingOverflow(by: f)
                guard !overflow, r <= limit else { return nil }
                p = r
            }
            return p
        }
        guard spec.input.count == 3, spec.input.allSatisfy({ $0 > 0 }) else {
            throw ModelSpecError(
                message: "model '\(spec.name)': input must be [height, width, channels] with positive values, found \(spec.input)")
        }
        guard spec.input.allSatisfy({ $0 <= maxSide }), product(spec.input, limit: Self.maxActivationCount) != nil else {
            throw ModelSpecError(
                message:
                    """
                    model '\(spec.name)': input \(spec.input) is too large (each value at most \(maxSide), at most \
                    \(Self.maxActivationCount) values in all)
                    """
            )
        }
        guard spec.classes >= 2 else {
            throw ModelSpecError(message: "model '\(spec.name)': classes must be at least 2, found \(spec.classes)")
        }
        var shape = Shape3(spec.input[0], spec.input[1], spec.input[2])
        var layers: [any Layer] = []
        var parameters = 0
        for (i, l) in spec.layers.enumerated() {
            let layersBefore = layers.count
            for (field, value) in [("filters", l.filters), ("kernel", l.kernel), ("stride", l.stride), ("units", l.units), ("size", l.size)]
            {
                if let value, value > maxSide { throw fail(i, "\(field) \(value) is too large (at most \(maxSide))") }
            }
            let initializer: WeightInit
            switch l.initializer {
            case nil: initializer = .glorotUniform
            case let name?:
                guard let w = WeightInit(rawValue: name) else {
                    throw fail(i, "unknown initializer '\(name)' (expected glorot_uniform or he_normal)")
                }
                initializer = w
            }
            var activation = l.activation
            if activation == "linear" { activation = nil }
            if activation == "softmax" {
                guard i == spec.layers.count - 1 else { throw fail(i, "softmax is only allowed on the last layer (the loss applies it)") }
                activation = nil
            }
            if let a = activation, a != "relu" { throw fail(i, "unknown activation '\(a)' (expected relu, linear or softmax)") }
            switch l.type {
            case "conv2d":
                guard let filters = l.filters, filters > 0 else { throw fail(i, "needs filters > 0") }
                let kernel = l.kernel ?? 3
                let stride = l.stride ?? 1
                guard kernel > 0, stride > 0 else { throw fail(i, "kernel and stride must be positive") }
                let padding: Int
                switch l.padding ?? "valid" {
                case "valid": padding = 0
                case "same":
                    guard stride == 1, kernel % 2 == 1 else { throw fail(i, "padding 'same' needs stride 1 and an odd kernel") }
                    padding = kernel / 2
                case let p: throw fail(i, "padding must be 'valid' or 'same', found '\(p)'")
                }
                guard shape.height + 2 * padding >= kernel, shape.width + 2 * padding >= kernel else {
                    throw fail(i, "kernel \(kernel) does not fit input \(shape)")
                }
                let outHeight = (shape.height + 2 * padding - kernel) / stride + 1
                let outWidth = (shape.width + 2 * padding - kernel) / stride + 1
                guard product([outHeight, outWidth, filters], limit: Self.maxActivationCount) != nil else {
                    throw fail(i, "output \(outHeight)x\(outWidth)x\(filters) is too large (at most \(Self.maxActivationCount) values)")
                }
                guard product([kernel, kernel, shape.channels, filters], limit: Self.maxParameterCount) != nil else {
                    throw fail(
                        i, "\(kernel)x\(kernel)x\(shape.channels)x\(filters) weights are too many (at most \(Self.maxParameterCount))")
                }
                let conv = Conv2D(input: shape, filters: filters, kernel: kernel, stride: stride, padding: padding, weightInit: initializer)
                layers.append(conv)
                shape = conv.outputShape
            case "maxpool2d":
                let size = l.size ?? 2
                guard size > 0, shape.height >= size, shape.width >= size else {
                    throw fail(i, "pool size \(size) does not fit input \(shape)")
                }
                let poolStride = l.stride ?? size
                guard poolStride > 0 else { throw fail(i, "stride must be positive, found \(poolStride)") }
                let pool = MaxPool2D(input: shape, size: size, stride: poolStride)
                layers.append(pool)
                shape = pool.outputShape
            case "dense":
                guard let units = l.units, units > 0 else { throw fail(i, "needs units > 0") }
                guard product([shape.count, units], limit: Self.maxParameterCount) != nil else {
                    throw fail(i, "\(shape.count)x\(units) weights are too many (at most \(Self.maxParameterCount))")
                }
                if shape.height != 1 || shape.width != 1 {
                    layers.append(Flatten(input: shape))
                    shape = Shape3(1, 1, shape.count)
                }
                let dense = Dense(input: shape, units: units, weightInit: initializer)
                layers.append(dense)
                shape = dense.outputShape
            case "relu":
                layers.append(ReLU(input: shape))
            case "dropout":
                guard let rate = l.rate, rate >= 0, rate < 1 else { throw fail(i, "needs rate in [0, 1)") }
                layers.append(Dropout(input: shape, rate: rate))
            case "batchnorm":
                layers.append(BatchNorm(input: shape))
            case "flatten":
                layers.append(Flatten(input: shape))
                shape = Shape3(1, 1, shape.count)
            default:
                throw fail(i, "unknown layer type (expected conv2d, maxpool2d, dense, relu, batchnorm, dropout or flatten)")
            }
            if activation == "relu" {
                guard l.type == "conv2d" || l.type == "dense" else { throw fail(i, "activation is only allowed on conv2d and dense") }
                layers.append(ReLU(input: shape))
            }
            let added = layers[layersBefore...].reduce(0) { $0 + $1.parameterCount }
            let (total, overflow) = parameters.addingReportingOverflow(added)
            guard !overflow, total <= Self.maxParameterCount else {
                throw fail(i, "the model would have more than \(Self.maxParameterCount) parameters")
            }
            parameters = total
        }
        guard shape == Shape3(1, 1, spec.classes) else {
            throw ModelSpecError(message: "model '\(spec.name)': the last layer must output \(spec.classes) classes, it outputs \(shape)")
        }
        self.init(spec: spec, layers: layers)
    }
}
