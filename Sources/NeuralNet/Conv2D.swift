// 2-D convolution over NHWC activations as im2col + SGEMM.
// Forward: col (B*OH*OW, KH*KW*C) x W (KH*KW*C, F) + b. Backward reuses the col buffer.
import TensorKit

public final class Conv2D: Layer {
    public let inputShape: Shape3
    public let outputShape: Shape3
    public let filters: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weightInit: WeightInit

    /// K: the im2col row length, KH*KW*C.
    var k: Int { kernel * kernel * inputShape.channels }

    public init(input: Shape3, filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0, weightInit: WeightInit = .glorotUniform) {
        precondition(filters > 0 && kernel > 0 && stride > 0 && padding >= 0)
        self.inputShape = input
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.weightInit = weightInit
        let oh = (input.height + 2 * padding - kernel) / stride + 1
        let ow = (input.width + 2 * padding - kernel) / stride + 1
        self.outputShape = Shape3(oh, ow, filters)
    }

    public var parameterCount: Int { k * filters + filters }
    public var parameterViews: [ParameterView] {
        [ParameterView(name: "kernel", shape: [kernel, kernel, inputShape.channels, filters], offset: 0),
         ParameterView(name: "bias", shape: [filters], offset: k * filters)]
    }

    /// The im2col matrix, kept from forward to backward (and reused for dCol).
    public func scratchCount(batch: Int) -> Int { batch * outputShape.height * outputShape.width * k }

    public func initialize(_ parameters: UnsafeMutablePointer<Float>, rng: CounterRNG, layerIndex: Int) {
        weightInit.fill(parameters, count: k * filters, fanIn: k, fanOut: kernel * kernel * filters,
                        rng: rng, layerIndex: layerIndex)
        (parameters + k * filters).update(repeating: 0, count: filters)
    }

    // x: (B, H, W, C)   y: (B, OH, OW, F)   col: (B*OH*OW, K)
    public func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, context: LayerContext) {
        let rows = context.batch * outputShape.height * outputShape.width
        im2col(x, batch: context.batch, col: scratch)
        let bias = parameters + k * filters
        for r in 0..<rows { (y + r * filters).update(from: bias, count: filters) }
        BLAS.sgemm(m: rows, n: filters, k: k, a: scratch, b: parameters, beta: 1, c: y)
    }

    public func backward(x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                         dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
                         dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         context: LayerContext) {
        let rows = context.batch * outputShape.height * outputShape.width
        // dW (K, F) += col^T (K, rows) x dY (rows, F)
        BLAS.sgemm(transA: true, m: k, n: filters, k: rows, a: scratch, b: dY, beta: 1, c: dParameters)
        // db (F) += column sums of dY
        let dBias = dParameters + k * filters
        for r in 0..<rows {
            let row = dY + r * filters
            for f in 0..<filters { dBias[f] += row[f] }
        }
        guard let dX else { return }
        // dCol (rows, K) = dY (rows, F) x W^T (F, K), written over col (no longer needed).
        BLAS.sgemm(transB: true, m: rows, n: k, k: filters, a: dY, b: parameters, c: scratch)
        col2im(scratch, batch: context.batch, dX: dX)
    }

    /// Gathers every receptive field into one row; zero where the window overlaps padding.
    func im2col(_ x: UnsafePointer<Float>, batch: Int, col: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
        let kc = kernel * c
        var row = col
        for n in 0..<batch {
            let image = x + n * h * w * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<kernel {
                        let iy = oy * stride - padding + ky
                        let dst = row + ky * kc
                        if iy < 0 || iy >= h { dst.update(repeating: 0, count: kc); continue }
                        let ix0 = ox * stride - padding
                        if ix0 >= 0 && ix0 + kernel <= w {
                            dst.update(from: image + (iy * w + ix0) * c, count: kc)
                        } else {
                            for kx in 0..<kernel {
                                let ix = ix0 + kx
                                if ix < 0 || ix >= w {
                                    (dst + kx * c).update(repeating: 0, count: c)
                                } else {
                                    (dst + kx * c).update(from: image + (iy * w + ix) * c, count: c)
                                }
                            }
                        }
                    }
                    row += k
                }
            }
        }
    }

    /// Scatters dCol rows back onto the input gradient (overwrites dX).
    func col2im(_ dCol: UnsafePointer<Float>, batch: Int, dX: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (inputShape.height, inputShape.width, inputShape.channels)
        let (oh, ow) = (outputShape.height, outputShape.width)
        dX.update(repeating: 0, count: batch * h * w * c)
        var row = dCol
        for n in 0..<batch {
            let image = dX + n * h * w * c
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ky in 0..<kernel {
                        let iy = oy * stride - padding + ky
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kernel {
                            let ix = ox * stride - padding + kx
                            if ix < 0 || ix >= w { continue }
                            let src = row + (ky * kernel + kx) * c
                            let dst = image + (iy * w + ix) * c
                            for ch in 0..<c { dst[ch] += src[ch] }
                        }
                    }
                    row += k
                }
            }
        }
    }
}
