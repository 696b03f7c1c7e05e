// Inference for the server: the model loaded once, MNIST-style preprocessing, class
// probabilities. Thread-safe: the network and weights are immutable and shared; every call
// allocates its own workspace (activations), so concurrent requests never share buffers.
import Foundation
import MNISTData
import NeuralNet
import Training

/// One image's answer.
public struct DigitPrediction: Equatable, Sendable {
    public var digit: Int
    public var confidence: Float
    public var probabilities: [Float]
    /// The 28x28 image the model saw (after preprocessing), row-major bytes, light ink on dark.
    public var input: [UInt8]
}

public final class Predictor: Sendable {
    public let model: Sequential
    public let weights: [Float]
    public let normalization: Normalization
    public let name: String
    public let weightsSHA256: String

    public init(file: ModelFile, model: Sequential) throws {
        guard model.inputShape.count == DigitPreprocessor.side * DigitPreprocessor.side else {
            throw ServeError(status: 500, "the model expects \(model.inputShape.count) input values, the server prepares 28x28 = 784")
        }
        self.model = model
        self.weights = file.weights
        self.normalization = file.header.normalization
        self.name = file.header.spec.name
        self.weightsSHA256 = file.header.weightsSHA256
    }

    /// Loads `path` (a model.digits file) once.
    public convenience init(path: String) throws {
        let (file, model) = try ModelFile.read(path: path)
        try self.init(file: file, model: model)
    }

    /// Preprocesses each image the way MNIST was made and classifies them in one batch.
    public func predict(_ images: [GrayImage]) -> [DigitPrediction] {
        let inputs = images.map(DigitPreprocessor.prepare)
        let probabilities = Evaluator.probabilities(model: model, parameters: weights, images: inputs, normalization: normalization)
        return zip(inputs, probabilities).map { input, p in
            var best = 0
            for k in p.indices where p[k] > p[best] { best = k }
            return DigitPrediction(digit: best, confidence: p[best], probabilities: p, input: input)
        }
    }
}
