// Inference over a dataset (or a subset of it) in parallel chunks: metrics, and optionally each
// sample's predicted class and confidence. Evaluation never changes training, so its batch size
// and thread count are free choices.
import Foundation
import MNISTData
import NeuralNet
import TensorKit

public struct Prediction: Codable, Equatable, Sendable {
    public var index: Int
    public var label: Int
    public var predicted: Int
    public var confidence: Float
}

public enum Evaluator {
    /// Evaluates `parameters` on `indices` of `dataset` (all samples if nil).
    public static func evaluate(
        model: Sequential, parameters: [Float], dataset: Dataset, indices: [Int]? = nil,
        normalization: Normalization, batch: Int = 64, threads: Int = 1,
        keepPredictions: Bool = false
    ) -> (metrics: ClassificationMetrics, predictions: [Prediction]) {
        let indices = indices ?? Array(0..<dataset.count)
        let chunks = stride(from: 0, to: indices.count, by: batch).map { $0..<min($0 + batch, indices.count) }
        let threads = max(1, min(threads, chunks.count))
        var partial = [ClassificationMetrics](repeating: ClassificationMetrics(classes: model.classes), count: threads)
        // Loss per chunk, summed in chunk order afterwards: the total (which early stopping reads)
        // is then the same bits for any thread count.
        var chunkLoss = [Double](repeating: 0, count: chunks.count)
        var predictions = [Prediction](
            repeating: Prediction(index: 0, label: 0, predicted: 0, confidence: 0),
            count: keepPredictions ? indices.count : 0)
        let imageSize = dataset.imageSize
        parameters.withUnsafeBufferPointer { params in
            dataset.images.withUnsafeBufferPointer { images in
                partial.withUnsafeMutableBufferPointer { partialBuf in
                    chunkLoss.withUnsafeMutableBufferPointer { lossBuf in
                        predictions.withUnsafeMutableBufferPointer { predBuf in
                            let partialBase = partialBuf.baseAddress!
                            let lossBase = lossBuf.baseAddress!
                            let predBase = keepPredictions ? predBuf.baseAddress : nil  // an empty array still has a base address
                            DispatchQueue.concurrentPerform(iterations: threads) { t in
                                let ws = Workspace(model: model, capacity: batch)
                                var metrics = ClassificationMetrics(classes: model.classes)
                                for c in stride(from: t, to: chunks.count, by: threads) {
                                    let chunk = chunks[c]
                                    for (s, position) in chunk.enumerated() {
                                        let i = indices[position]
                                        normalization.apply(
                                            images.baseAddress! + i * imageSize, to: ws.input + s * imageSize, count: imageSize)
                                        ws.labels[s] = dataset.labels[i]
                                    }
                                    let (loss, _) = model.evaluate(
                                        ws, batch: chunk.count, parameters: params.baseAddress!, withLabels: true)
                                    lossBase[c] = loss
                                    for (s, position) in chunk.enumerated() {
                                        let p = ws.probabilities + s * model.classes
                                        var best = 0
                                        for k in 1..<model.classes where p[k] > p[best] { best = k }
                                        let label = Int(ws.labels[s])
                                        metrics.record(label: label, predicted: best)
                                        if let predBase {
                                            predBase[position] = Prediction(
                                                index: indices[position], label: label, predicted: best, confidence: p[best])
                                        }
                                    }
                                }
                                partialBase[t] = metrics
                            }
                        }
                    }
                }
            }
        }
        var total = ClassificationMetrics(classes: model.classes)
        for p in partial { total.merge(p) }
        total.loss = chunkLoss.reduce(0, +)
        return (total, predictions)
    }

    /// Class probabilities for raw 28x28 byte images.
    public static func probabilities(model: Sequential, parameters: [Float], images: [[UInt8]], normalization: Normalization) -> [[Float]] {
        guard !images.isEmpty else { return [] }
        let ws = Workspace(model: model, capacity: images.count)
        let size = model.inputShape.count
        for (s, image) in images.enumerated() {
            precondition(image.count == size)
            image.withUnsafeBufferPointer { normalization.apply($0.baseAddress!, to: ws.input + s * size, count: size) }
        }
        parameters.withUnsafeBufferPointer { _ = model.evaluate(ws, batch: images.count, parameters: $0.baseAddress!, withLabels: false) }
        return (0..<images.count).map { s in Array(UnsafeBufferPointer(start: ws.probabilities + s * model.classes, count: model.classes)) }
    }
}
