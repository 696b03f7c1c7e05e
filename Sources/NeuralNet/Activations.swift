// Parameter-free element-wise layers: ReLU, Flatten (NHWC order, as Keras), Dropout (inverted,
// masks a pure function of seed, epoch, sample and element).
import TensorKit

public final class ReLU: Layer {
    public let inputShape: Shape3
    public var outputShape: Shape3 { inputShape }
    public init(input: Shape3) { inputShape = input }

    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        Elementwise.relu(x, y, count: context.batch * inputShape.count)
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        guard let dX else { return }
        Elementwise.reluBackward(y: y, dY: dY, dX: dX, count: context.batch * inputShape.count)
    }
}

public final class Flatten: Layer {
    public let inputShape: Shape3
    public var outputShape: Shape3 { Shape3(1, 1, inputShape.count) }
    public init(input: Shape3) { inputShape = input }

    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        y.update(from: x, count: context.batch * inputShape.count)
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
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

    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
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
            Self.mask(
                rng: context.rng, sample: sample, stream: stream, threshold: threshold, keep: keep,
                x: x + s * n, y: y + s * n, mask: scratch + s * n, count: n)
        }
    }

    /// Element i keeps (x * keep) when word i % 4 of block (dropout, sample, stream, i / 4) is at least
    /// `threshold`; writes the mask (keep or 0) and y = x * mask. Sixteen blocks (64 elements) per round.
    static func mask(
        rng: CounterRNG, sample: UInt32, stream: UInt32, threshold: UInt32, keep: Float,
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, count n: Int
    ) {
        let t = SIMD16<UInt32>(repeating: threshold)
        let one = SIMD16<Float>(repeating: keep)
        let zero = SIMD16<Float>(repeating: 0)
        var tile = (zero, zero, zero, zero)
        var i = 0
        while i < n {
            let w = rng.blocks16(.dropout, sample, stream, UInt32(truncatingIfNeeded: i / 4))
            let m0 = zero.replacing(with: one, where: w.0 .>= t)
            let m1 = zero.replacing(with: one, where: w.1 .>= t)
            let m2 = zero.replacing(with: one, where: w.2 .>= t)
            let m3 = zero.replacing(with: one, where: w.3 .>= t)
            let count = Swift.min(64, n - i)
            withUnsafeMutableBytes(of: &tile) { raw in
                let m = raw.bindMemory(to: Float.self)
                for j in 0..<16 {
                    m[4 * j] = m0[j]
                    m[4 * j + 1] = m1[j]
                    m[4 * j + 2] = m2[j]
                    m[4 * j + 3] = m3[j]
                }
                if count == 64 {
                    for v in 0..<8 {
                        let mv = Elementwise.load(UnsafePointer(m.baseAddress! + 8 * v))
                        Elementwise.store(mv, mask + i + 8 * v)
                        Elementwise.store(Elementwise.load(x + i + 8 * v) * mv, y + i + 8 * v)
                    }
                } else {
                    for e in 0..<count {
                        mask[i + e] = m[e]
                        y[i + e] = x[i + e] * m[e]
                    }
                }
            }
            i += 64
        }
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        guard let dX else { return }
        let count = context.batch * inputShape.count
        if context.training && rate > 0 {
            Elementwise.multiply(dY, scratch, into: dX, count: count)
        } else {
            dX.update(from: dY, count: count)
        }
    }
}

/// SIMD element-wise loops (eight lanes, then a scalar tail with the same semantics).
enum Elementwise {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// y = x > 0 ? x : 0.
    static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let zero = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let v = load(x + i)
            store(zero.replacing(with: v, where: v .> 0), y + i)
            i += 8
        }
        while i < count {
            y[i] = x[i] > 0 ? x[i] : 0
            i += 1
        }
    }

    /// dX = y > 0 ? dY : 0.
    static func reluBackward(y: UnsafePointer<Float>, dY: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, count: Int) {
        let zero = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            store(zero.replacing(with: load(dY + i), where: load(y + i) .> 0), dX + i)
            i += 8
        }
        while i < count {
            dX[i] = y[i] > 0 ? dY[i] : 0
            i += 1
        }
    }

    /// c = a * b.
    static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            store(load(a + i) * load(b + i), c + i)
            i += 8
        }
        while i < count {
            c[i] = a[i] * b[i]
            i += 1
        }
    }
}
