// What every exporter needs from a built `Sequential` and its flat weights: the layers as a list of
// inference operations with their weights cut out of the flat vector (Keras layouts: conv kernel
// (KH, KW, Cin, Cout), dense kernel (in, out), NHWC flatten order), a ReLU that follows a conv or
// dense folded into it, dropout kept (identity at inference). A layer type no exporter knows is an
// error naming the layer, never a silently different model.
import NeuralNet
import TensorKit

public struct ExportError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct ExportPlan: Sendable {
    public enum Activation: String, Sendable { case linear, relu }

    public enum Operation: Sendable, Equatable {
        /// kernel: (kernel, kernel, inputChannels, filters), bias: (filters).
        case conv(
            filters: Int, kernel: Int, stride: Int, padding: Int, inputChannels: Int, activation: Activation,
            kernelWeights: [Float], bias: [Float])
        case maxPool(size: Int, stride: Int)
        case relu
        /// NHWC order (channels fastest), as Keras' channels_last Flatten.
        case flatten
        /// kernel: (inputs, units), bias: (units).
        case dense(inputs: Int, units: Int, activation: Activation, kernelWeights: [Float], bias: [Float])
        case dropout(rate: Float)
    }

    public struct Step: Sendable, Equatable {
        /// Index of the first `Sequential` layer this step covers (for messages).
        public var layerIndex: Int
        public var operation: Operation
        /// Shape (height, width, channels) after this step.
        public var outputShape: Shape3
    }

    public let name: String
    public let inputShape: Shape3
    public let classes: Int
    public let normalization: Normalization
    public let steps: [Step]

    /// Supported layer types, for messages.
    public static let supportedLayers = "Conv2D, MaxPool2D, Dense, ReLU, Flatten and Dropout"

    public init(model: Sequential, weights: [Float], normalization: Normalization, format: String) throws {
        guard weights.count == model.parameterCount else {
            throw ExportError("model '\(model.spec.name)' has \(model.parameterCount) parameters but \(weights.count) weights were given")
        }
        name = model.spec.name
        inputShape = model.inputShape
        classes = model.classes
        self.normalization = normalization
        var steps: [Step] = []
        let layers = model.layers
        var i = 0
        while i < layers.count {
            let layer = layers[i]
            let base = model.offsets[i]
            let followedByReLU = i + 1 < layers.count && layers[i + 1] is ReLU
            var consumed = 1
            let operation: Operation
            if let conv = layer as? Conv2D {
                let k = conv.kernel * conv.kernel * conv.inputShape.channels * conv.filters
                operation = .conv(
                    filters: conv.filters, kernel: conv.kernel, stride: conv.stride, padding: conv.padding,
                    inputChannels: conv.inputShape.channels, activation: followedByReLU ? .relu : .linear,
                    kernelWeights: Array(weights[base..<(base + k)]),
                    bias: Array(weights[(base + k)..<(base + k + conv.filters)]))
                if followedByReLU { consumed = 2 }
            } else if let dense = layer as? Dense {
                let inputs = dense.inputShape.count
                let k = inputs * dense.units
                if dense.inputShape.height != 1 || dense.inputShape.width != 1 {
                    // Sequential always flattens before a dense layer; never export a dense layer over a 3-D input.
                    throw ExportError(
                        "model '\(name)' layer \(i + 1) (Dense) reads a \(dense.inputShape) input without a Flatten before it")
                }
                operation = .dense(
                    inputs: inputs, units: dense.units, activation: followedByReLU ? .relu : .linear,
                    kernelWeights: Array(weights[base..<(base + k)]),
                    bias: Array(weights[(base + k)..<(base + k + dense.units)]))
                if followedByReLU { consumed = 2 }
            } else if let pool = layer as? MaxPool2D {
                operation = .maxPool(size: pool.size, stride: pool.stride)
            } else if layer is ReLU {
                operation = .relu
            } else if layer is Flatten {
                operation = .flatten
            } else if let dropout = layer as? Dropout {
                operation = .dropout(rate: dropout.rate)
            } else {
                let type = String(describing: Swift.type(of: layer))
                throw ExportError(
                    """
                    model '\(name)' layer \(i + 1) (\(type)) cannot be exported to \(format): the exporter supports \
                    \(Self.supportedLayers)
                    """
                )
            }
            guard layer.parameterCount == 0 || layer is Conv2D || layer is Dense else {
                throw ExportError("model '\(name)' layer \(i + 1) has parameters the \(format) exporter does not know")
            }
            steps.append(Step(layerIndex: i, operation: operation, outputShape: layers[i + consumed - 1].outputShape))
            i += consumed
        }
        self.steps = steps
        guard (steps.last?.outputShape ?? inputShape) == Shape3(1, 1, classes) else {
            throw ExportError("model '\(name)' ends in shape \(steps.last?.outputShape ?? inputShape), expected 1x1x\(classes)")
        }
    }
}
