// One training step, split into fixed micro-batches computed in parallel across threads. Each
// micro-batch gradient is added to an exact fixed-point sum, so the step's mean gradient is the
// same bits for any thread count (and, in the cluster, any worker count).
import Foundation
import MNISTData
import NeuralNet
import TensorKit

/// Computes the gradient of one micro-batch (the unit of compute) into its workspace.
public final class MicroBatchComputer: @unchecked Sendable {
    public let model: Sequential
    public let workspace: Workspace
    public let normalization: Normalization
    public let labelSmoothing: Float
    /// Per-sample augmentation (nil when off): a pure function of (seed, epoch, sample index).
    public let augmenter: Augmenter?
    let augmentScratch: UnsafeMutablePointer<Float>

    public init(model: Sequential, capacity: Int, normalization: Normalization, labelSmoothing: Float, augmenter: Augmenter? = nil) {
        self.model = model
        self.workspace = Workspace(model: model, capacity: capacity)
        self.normalization = normalization
        self.labelSmoothing = labelSmoothing
        self.augmenter = augmenter?.settings.isActive == true ? augmenter : nil
        let n = max(self.augmenter?.scratchCount ?? 1, 1)
        augmentScratch = .allocate(capacity: n)
        augmentScratch.initialize(repeating: 0, count: n)
    }

    deinit { augmentScratch.deallocate() }

    /// Gradient of the summed loss over `samples` (dataset indices) into `workspace.gradients`.
    public func compute(
        samples: UnsafeBufferPointer<Int>, dataset: Dataset, epoch: Int, rng: CounterRNG,
        parameters: UnsafePointer<Float>
    ) -> (loss: Double, correct: Int) {
        let size = dataset.imageSize
        let ws = workspace
        dataset.images.withUnsafeBufferPointer { images in
            for (s, i) in samples.enumerated() {
                if let augmenter {
                    let out = ws.input + s * size
                    augmenter.apply(images.baseAddress! + i * size, to: out, epoch: epoch, sample: i, scratch: augmentScratch)
                    let scale = 1 / (255 * normalization.std)
                    let shift = -normalization.mean / normalization.std
                    for j in 0..<size { out[j] = out[j] * scale + shift }
                } else {
                    normalization.apply(images.baseAddress! + i * size, to: ws.input + s * size, count: size)
                }
                ws.labels[s] = dataset.labels[i]
                ws.sampleIDs[s] = Int32(truncatingIfNeeded: i)
            }
        }
        return model.trainMicroBatch(
            ws, batch: samples.count, rng: rng, epoch: epoch, parameters: parameters,
            labelSmoothing: labelSmoothing)
    }
}

public struct NonFiniteGradientError: Error, CustomStringConvertible {
    public let epoch: Int
    public let step: Int
    public let microBatch: Int
    public var description: String {
        "training diverged: non-finite gradient in epoch \(epoch + 1), step \(step + 1), micro-batch \(microBatch); lower the learning rate"
    }
}

public final class StepRunner {
    public let model: Sequential
    public let threads: Int
    let computers: [MicroBatchComputer]
    var sums: [GradientSum]
    var losses: [Double]
    var corrects: [Int]
    var failed: [Int]
    public private(set) var meanGradient: [Float]

    public init(
        model: Sequential, microBatch: Int, batchSize: Int, threads: Int, normalization: Normalization, labelSmoothing: Float,
        augmenter: Augmenter? = nil
    ) {
        self.model = model
        self.threads = max(1, threads)
        computers = (0..<self.threads).map { _ in
            MicroBatchComputer(
                model: model, capacity: microBatch, normalization: normalization, labelSmoothing: labelSmoothing,
                augmenter: augmenter)
        }
        sums = (0..<self.threads).map { _ in GradientSum(count: model.parameterCount) }
        let maxMicro = (batchSize + microBatch - 1) / microBatch
        losses = [Double](repeating: 0, count: maxMicro)
        corrects = [Int](repeating: 0, count: maxMicro)
        failed = [Int](repeating: -1, count: self.threads)
        meanGradient = [Float](repeating: 0, count: model.parameterCount)
    }

    /// Runs the micro-batches of one step; afterwards `meanGradient` holds the exact mean gradient.
    /// Returns the summed loss (added in micro-batch order) and the correct count.
    public func run(
        order: [Int], microBatches: [Range<Int>], dataset: Dataset, epoch: Int, step: Int, rng: CounterRNG,
        parameters: [Float]
    ) throws -> (loss: Double, correct: Int, samples: Int) {
        for t in 0..<threads {
            sums[t].reset()
            failed[t] = -1
        }
        let m = microBatches.count
        order.withUnsafeBufferPointer { orderBuf in
            parameters.withUnsafeBufferPointer { params in
                sums.withUnsafeMutableBufferPointer { sumsBuf in
                    losses.withUnsafeMutableBufferPointer { lossBuf in
                        corrects.withUnsafeMutableBufferPointer { correctBuf in
                            failed.withUnsafeMutableBufferPointer { failedInout in
                                let (sumsBuf, lossBuf, correctBuf, failedBuf) = (sumsBuf, lossBuf, correctBuf, failedInout)
                                let work: (Int) -> Void = { t in
                                    let computer = self.computers[t]
                                    for k in stride(from: t, to: m, by: self.threads) {
                                        let r = microBatches[k]
                                        let samples = UnsafeBufferPointer(rebasing: orderBuf[r])
                                        let (loss, correct) = computer.compute(
                                            samples: samples, dataset: dataset, epoch: epoch,
                                            rng: rng, parameters: params.baseAddress!)
                                        lossBuf[k] = loss
                                        correctBuf[k] = correct
                                        let grad = UnsafeBufferPointer(
                                            start: computer.workspace.gradients, count: self.model.parameterCount)
                                        if !sumsBuf[t].add(grad, samples: r.count), failedBuf[t] < 0 { failedBuf[t] = k }
                                    }
                                }
                                if threads == 1 {
                                    work(0)
                                } else {
                                    DispatchQueue.concurrentPerform(iterations: min(threads, m), execute: work)
                                }
                            }
                        }
                    }
                }
            }
        }
        if let bad = failed.first(where: { $0 >= 0 }) {
            throw NonFiniteGradientError(epoch: epoch, step: step, microBatch: bad)
        }
        var total = sums[0]
        for t in 1..<threads { total.add(sums[t]) }
        meanGradient.withUnsafeMutableBufferPointer { total.mean(into: $0) }
        var loss = 0.0
        var correct = 0
        for k in 0..<m {
            loss += losses[k]
            correct += corrects[k]
        }
        return (loss, correct, total.sampleCount)
    }
}
