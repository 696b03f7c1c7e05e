// Max pooling over NHWC activations. Forward records, per output element, which window position
// held the first maximum; backward routes each output gradient there.
import TensorKit

public final class MaxPool2D: Layer {
    public let inputShape: Shape3
    public let outputShape: Shape3
    public let size: Int
    public let stride: Int

    public init(input: Shape3, size: Int = 2, stride: Int? = nil) {
        precondition(size > 0)
        self.inputShape = input
        self.size = size
        self.stride = stride ?? size
        self.outputShape = Shape3((input.height - size) / self.stride + 1, (input.width - size) / self.stride + 1, input.channels)
    }

    /// Window position (ky * size + kx, stored as Float) of each output's maximum.
    public func scratchCount(batch: Int) -> Int { batch * outputShape.count }

    // x: (B, H, W, C)   y: (B, OH, OW, C)   argmax: (B, OH, OW, C)
    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
        if c % 8 == 0 {
            forwardSIMD(x: x, y: y, argmax: scratch, batch: context.batch)
            return
        }
        for n in 0..<context.batch {
            let image = x + n * h * w * c
            let out = y + n * oh * ow * c
            let arg = scratch + n * oh * ow * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let dst = out + (oy * ow + ox) * c
                    let idx = arg + (oy * ow + ox) * c
                    dst.update(from: image + (oy * stride * w + ox * stride) * c, count: c)
                    idx.update(repeating: 0, count: c)
                    for ky in 0..<size {
                        for kx in 0..<size where ky != 0 || kx != 0 {
                            let src = image + ((oy * stride + ky) * w + ox * stride + kx) * c
                            let position = Float(ky * size + kx)
                            for ch in 0..<c {
                                let better = src[ch] > dst[ch]
                                dst[ch] = better ? src[ch] : dst[ch]
                                idx[ch] = better ? position : idx[ch]
                            }
                        }
                    }
                }
            }
        }
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        guard let dX else { return }
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
        if c % 8 == 0 && size == stride {
            backwardTiled(dY: dY, argmax: scratch, dX: dX, batch: context.batch)
            return
        }
        dX.update(repeating: 0, count: context.batch * h * w * c)
        for n in 0..<context.batch {
            let dImage = dX + n * h * w * c
            let dOut = dY + n * oh * ow * c
            let arg = scratch + n * oh * ow * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let o = (oy * ow + ox) * c
                    for ch in 0..<c {
                        let k = Int(arg[o + ch])
                        let ky = k / size
                        let kx = k - ky * size
                        dImage[((oy * stride + ky) * w + ox * stride + kx) * c + ch] += dOut[o + ch]
                    }
                }
            }
        }
    }

    /// Forward over eight channels at a time (C % 8 == 0); same first-maximum rule as the scalar loop.
    func forwardSIMD(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Float>, batch: Int) {
        let (input, output) = (inputShape.count, outputShape.count)
        for n in 0..<batch {
            poolImage(x + n * input, width: inputShape.width, y: y + n * output, argmax: argmax + n * output)
        }
    }

    /// Pools one image whose rows hold `width` pixels of C channels (C % 8 == 0) into the
    /// (OH, OW, C) output and its argmax.
    func poolImage(_ image: UnsafePointer<Float>, width w: Int, y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Float>) {
        let c = inputShape.channels
        let (oh, ow) = (outputShape.height, outputShape.width)
        let zero = SIMD8<Float>(repeating: 0)
        let one = SIMD8<Float>(repeating: 1)
        var out = y
        var arg = argmax
        for oy in 0..<oh {
            for ox in 0..<ow {
                let window = image + (oy * stride * w + ox * stride) * c
                var c0 = 0
                while c0 < c {
                    var best = Elementwise.load(window + c0)
                    var index = zero
                    var position = zero
                    for ky in 0..<size {
                        for kx in 0..<size {
                            if ky != 0 || kx != 0 {
                                let v = Elementwise.load(window + (ky * w + kx) * c + c0)
                                let better = v .> best
                                best.replace(with: v, where: better)
                                index.replace(with: position, where: better)
                            }
                            position += one
                        }
                    }
                    Elementwise.store(best, out + c0)
                    Elementwise.store(index, arg + c0)
                    c0 += 8
                }
                out += c
                arg += c
            }
        }
    }

    /// Backward for non-overlapping windows (size == stride, C % 8 == 0): every input element is written
    /// once (the gradient at the recorded maximum, else 0), with no zeroing pass and no scatter.
    func backwardTiled(dY: UnsafePointer<Float>, argmax: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, batch: Int) {
        let (input, output) = (inputShape.count, outputShape.count)
        for n in 0..<batch {
            unpoolImage(
                dY + n * output, argmax: argmax + n * output, reluOutput: nil,
                dX: dX + n * input, height: inputShape.height, width: inputShape.width)
        }
    }

    /// One image of the tiled backward into a (height, width, C) gradient image, height >= OH * size,
    /// width >= OW * size (elements outside every window get 0). With `reluOutput` (this layer's output
    /// when its input came from a ReLU), a gradient passes only where that output is > 0: the result is
    /// then the gradient with respect to the ReLU's input.
    func unpoolImage(
        _ dY: UnsafePointer<Float>, argmax: UnsafePointer<Float>, reluOutput: UnsafePointer<Float>?,
        dX: UnsafeMutablePointer<Float>, height h: Int, width w: Int
    ) {
        precondition(size == stride && inputShape.channels % 8 == 0)
        let c = inputShape.channels
        let (oh, ow) = (outputShape.height, outputShape.width)
        let zero = SIMD8<Float>(repeating: 0)
        let one = SIMD8<Float>(repeating: 1)
        var g = dY
        var arg = argmax
        var pooled = reluOutput
        for oy in 0..<oh {
            for ox in 0..<ow {
                let window = dX + (oy * size * w + ox * size) * c
                var c0 = 0
                while c0 < c {
                    var gv = Elementwise.load(g + c0)
                    if let p = pooled { gv = zero.replacing(with: gv, where: Elementwise.load(p + c0) .> zero) }
                    let a = Elementwise.load(arg + c0)
                    var position = zero
                    for ky in 0..<size {
                        for kx in 0..<size {
                            Elementwise.store(zero.replacing(with: gv, where: a .== position), window + (ky * w + kx) * c + c0)
                            position += one
                        }
                    }
                    c0 += 8
                }
                g += c
                arg += c
                pooled = pooled.map { $0 + c }
            }
            // Columns right of the last window.
            if ow * size < w {
                for ky in 0..<size {
                    (dX + ((oy * size + ky) * w + ow * size) * c).update(repeating: 0, count: (w - ow * size) * c)
                }
            }
        }
        // Rows below the last window.
        if oh * size < h {
            (dX + oh * size * w * c).update(repeating: 0, count: (h - oh * size) * w * c)
        }
    }
}
