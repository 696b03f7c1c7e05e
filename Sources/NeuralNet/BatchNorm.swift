// Batch normalisation (Ioffe & Szegedy 2015) over the channels of NHWC activations.
//
// Training normalises with the statistics of the call's batch, which in training is always one fixed
// micro-batch of the plan (the unit of compute), so the result never depends on threads or workers.
// Inference uses the population statistics stored in the parameter vector (moving_mean,
// moving_variance). Those two tensors get a zero gradient and are not read in training; the trainer
// recomputes them from a fixed set of training samples before every evaluation
// (`Sequential.batchNormStatistics`), a pure function of the trainable weights.
import TensorKit

public final class BatchNorm: Layer {
    public let inputShape: Shape3
    public var outputShape: Shape3 { inputShape }
    public let channels: Int
    public let epsilon: Float

    public init(input: Shape3, epsilon: Float = 1e-3) {
        inputShape = input
        channels = input.channels
        self.epsilon = epsilon
    }

    public var parameterCount: Int { 4 * channels }
    public var parameterViews: [ParameterView] {
        [
            ParameterView(name: "gamma", shape: [channels], offset: 0),
            ParameterView(name: "beta", shape: [channels], offset: channels),
            ParameterView(name: "moving_mean", shape: [channels], offset: 2 * channels),
            ParameterView(name: "moving_variance", shape: [channels], offset: 3 * channels)
        ]
    }

    /// x-hat for the batch, then per channel: mean, biased variance, 1/sqrt(var + eps).
    public func scratchCount(batch: Int) -> Int { batch * inputShape.count + 3 * channels }

    /// Offsets into scratch of the batch mean and (biased) variance written by a training forward.
    public func statisticsOffset(batch: Int) -> (mean: Int, variance: Int) {
        (batch * inputShape.count, batch * inputShape.count + channels)
    }

    public func initialize(_ parameters: UnsafeMutablePointer<Float>, rng: CounterRNG, layerIndex: Int) {
        let c = channels
        for i in 0..<c {
            parameters[i] = 1
            parameters[c + i] = 0
            parameters[2 * c + i] = 0
            parameters[3 * c + i] = 1
        }
    }

    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        let c = channels
        let positions = context.batch * inputShape.height * inputShape.width
        let gamma = parameters
        let beta = parameters + c
        if !context.training {
            let mean = parameters + 2 * c
            let variance = parameters + 3 * c
            for p in 0..<positions {
                let base = p * c
                for j in 0..<c {
                    let inv = 1 / (variance[j] + epsilon).squareRoot()
                    y[base + j] = gamma[j] * (x[base + j] - mean[j]) * inv + beta[j]
                }
            }
            return
        }
        let xhat = scratch
        let (mo, vo) = statisticsOffset(batch: context.batch)
        let mean = scratch + mo
        let variance = scratch + vo
        let invStd = scratch + vo + c
        // Same arithmetic and order as a plain loop; raw pointers only avoid bounds checks.
        let sum = UnsafeMutablePointer<Double>.allocate(capacity: c)
        defer { sum.deallocate() }
        sum.initialize(repeating: 0, count: c)
        for p in 0..<positions {
            let row = x + p * c
            for j in 0..<c { sum[j] += Double(row[j]) }
        }
        for j in 0..<c { mean[j] = Float(sum[j] / Double(positions)) }
        for j in 0..<c { sum[j] = 0 }
        for p in 0..<positions {
            let row = x + p * c
            for j in 0..<c {
                let d = Double(row[j] - mean[j])
                sum[j] += d * d
            }
        }
        for j in 0..<c {
            variance[j] = Float(sum[j] / Double(positions))
            invStd[j] = 1 / (variance[j] + epsilon).squareRoot()
        }
        for p in 0..<positions {
            let base = p * c
            for j in 0..<c {
                let h = (x[base + j] - mean[j]) * invStd[j]
                xhat[base + j] = h
                y[base + j] = gamma[j] * h + beta[j]
            }
        }
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        let c = channels
        let positions = context.batch * inputShape.height * inputShape.width
        let xhat = scratch
        let invStd = scratch + statisticsOffset(batch: context.batch).variance + c
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c)
        defer { sums.deallocate() }
        sums.initialize(repeating: 0, count: 2 * c)
        let sumDY = sums
        let sumDYX = sums + c
        for p in 0..<positions {
            let g0 = dY + p * c
            let h0 = xhat + p * c
            for j in 0..<c {
                let g = Double(g0[j])
                sumDY[j] += g
                sumDYX[j] += g * Double(h0[j])
            }
        }
        for j in 0..<c {
            dParameters[j] += Float(sumDYX[j])
            dParameters[c + j] += Float(sumDY[j])
        }
        guard let dX else { return }
        let n = Float(positions)
        let means = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
        defer { means.deallocate() }
        let meanDY = means
        let meanDYX = means + c
        for j in 0..<c {
            meanDY[j] = Float(sumDY[j]) / n
            meanDYX[j] = Float(sumDYX[j]) / n
        }
        let gamma = parameters
        for p in 0..<positions {
            let base = p * c
            for j in 0..<c {
                dX[base + j] = gamma[j] * invStd[j] * (dY[base + j] - meanDY[j] - xhat[base + j] * meanDYX[j])
            }
        }
    }
}

extension Sequential {
    /// Indices of the batch-normalisation layers.
    public var batchNormLayers: [Int] { layers.indices.filter { layers[$0] is BatchNorm } }

    /// Population statistics of every BatchNorm layer, written into `parameters` (moving_mean,
    /// moving_variance): the mean over `batches` of each batch's mean and unbiased variance, where
    /// each batch is normalised with its own statistics as in training (dropout off). `fill(k, ws)`
    /// puts batch k's inputs into the workspace and returns its size. Batches are added in order in
    /// Double, so the result is a pure function of the weights and the batches.
    public func batchNormStatistics(
        parameters: inout [Float], batches: Int, workspace ws: Workspace,
        fill: (Int, Workspace) -> Int
    ) {
        let bn = batchNormLayers
        guard !bn.isEmpty, batches > 0 else { return }
        var means = bn.map { [Double](repeating: 0, count: (layers[$0] as! BatchNorm).channels) }
        var variances = means
        var count = 0
        for k in 0..<batches {
            let batch = fill(k, ws)
            guard batch > 0 else { continue }
            parameters.withUnsafeBufferPointer { pb in
                for (i, layer) in layers.enumerated() {
                    let ctx = LayerContext(
                        batch: batch, training: layer is BatchNorm, rng: CounterRNG(seed: 0), epoch: 0,
                        sampleIDs: UnsafePointer(ws.sampleIDs), layerIndex: i)
                    layer.forward(
                        x: ws.activations[i], y: ws.activations[i + 1], parameters: pb.baseAddress! + offsets[i],
                        scratch: ws.scratch[i], context: ctx)
                }
            }
            let correction = batch > 1 ? Double(batch) / Double(batch - 1) : 1
            for (b, i) in bn.enumerated() {
                let layer = layers[i] as! BatchNorm
                let positions = layer.inputShape.height * layer.inputShape.width * batch
                let unbiased = positions > 1 ? Double(positions) / Double(positions - 1) : correction
                let (mo, vo) = layer.statisticsOffset(batch: batch)
                for j in 0..<layer.channels {
                    means[b][j] += Double(ws.scratch[i][mo + j])
                    variances[b][j] += Double(ws.scratch[i][vo + j]) * unbiased
                }
            }
            count += 1
        }
        guard count > 0 else { return }
        for (b, i) in bn.enumerated() {
            let layer = layers[i] as! BatchNorm
            let c = layer.channels
            let base = offsets[i]
            for j in 0..<c {
                parameters[base + 2 * c + j] = Float(means[b][j] / Double(count))
                parameters[base + 3 * c + j] = Float(variances[b][j] / Double(count))
            }
        }
    }
}
