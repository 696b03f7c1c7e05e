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
    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, context: LayerContext) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
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

    public func backward(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
                         dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         context: LayerContext) {
        guard let dX else { return }
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
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
                        let ky = k / size, kx = k - ky * size
                        dImage[((oy * stride + ky) * w + ox * stride + kx) * c + ch] += dOut[o + ch]
                    }
                }
            }
        }
    }
}
