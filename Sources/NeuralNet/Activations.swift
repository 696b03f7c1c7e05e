// Parameter-free element-wise layers: ReLU, Flatten (NHWC order, as Keras), Dropout (inverted,
// masks a pure function of seed, epoch, sample and element).
import TensorKit

public final class ReLU: Layer {
    public let inputShape: Shape3
    public var outputShape: Shape3 { inputShape }
    public init(input: Shape3) { inputShape = input }

    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, context: LayerContext) {
        for i in 0..<(context.batch * inputShape.count) { y[i] = x[i] > 0 ? x[i] : 0 }
    }

    public func backward(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
                         dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         context: LayerContext) {
        guard let dX else { return }
        for i in 0..<(context.batch * inputShape.count) { dX[i] = y[i] > 0 ? dY[i] : 0 }
    }
}

public final class Flatten: Layer {
    public let inputShape: Shape3
    public var outputShape: Shape3 { Shape3(1, 1, inputShape.count) }
    public init(input: Shape3) { inputShape = input }

    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, context: LayerContext) {
        y.update(from: x, count: context.batch * inputShape.count)
    }

    public func backward(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
                         dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         context: LayerContext) {
        dX?.update(from: dY, count: context.batch * inputShape.count)
    }
}

public final class Dropout: Layer {
    public let inputShape: Shape3
    public var outputShape: Shape3 { inputShape }
    /// Probability of zeroing an element during training.
    public let rate: Float

    public init(input: Shape3, rate: Float) {
        precondition(rate >= 0 && rate < 1)
        inputShape = input
        self.rate = rate
    }

    /// The mask (0 or 1/(1-rate) per element), kept for backward.
    public func scratchCount(batch: Int) -> Int { batch * inputShape.count }

    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, context: LayerContext) {
        let n = inputShape.count
        guard context.training, rate > 0 else {
            y.update(from: x, count: context.batch * n)
            return
        }
        let keep = 1 / (1 - rate)
        let threshold = UInt32(min(Double(rate) * 4_294_967_296.0, 4_294_967_295.0))
        let stream = UInt32(truncatingIfNeeded: context.epoch &* 256 &+ context.layerIndex)
        for s in 0..<context.batch {
            let sample = context.sampleIDs.map { UInt32(bitPattern: $0[s]) } ?? UInt32(s)
            let mask = scratch + s * n
            var i = 0
            while i < n {
                let words = context.rng.block(.dropout, sample, stream, UInt32(i / 4))
                for j in 0..<Swift.min(4, n - i) { mask[i + j] = words[j] >= threshold ? keep : 0 }
                i += 4
            }
        }
        for i in 0..<(context.batch * n) { y[i] = x[i] * scratch[i] }
    }

    public func backward(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
                         dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         context: LayerContext) {
        guard let dX else { return }
        let count = context.batch * inputShape.count
        if context.training && rate > 0 {
            for i in 0..<count { dX[i] = dY[i] * scratch[i] }
        } else {
            dX.update(from: dY, count: count)
        }
    }
}
