// 2-D convolution over NHWC activations.
// Three algorithms, chosen by shape only (never by timing), so a given model always runs the same code:
// - winograd: F(2x2, 3x3) (TensorKit `WinogradKernels`) for 3x3, stride 1, unpadded, C and F % 8 == 0,
//   at least 8 output pixels per image: 2.25x fewer multiplications.
// - direct: implicit-GEMM SIMD kernels (TensorKit `ConvKernels`), no im2col buffer; needs F % 8 == 0
//   and at least 8 output pixels per image. dX uses the direct kernel when C % 8 == 0, else
//   dY x W^T (`Gemm`) + col2im.
// - im2col: col (B*OH*OW, KH*KW*C) x W (KH*KW*C, F) + b with `Gemm`; backward reuses the col buffer.
// Every path is Digits' own code with a fixed operation order: the same bits on every x86-64-v3 CPU.
// winograd and direct work image by image (see `forwardImage` / `backwardImage`), which is how fused
// conv blocks (ConvBlock) drive them.
import TensorKit

public final class Conv2D: Layer {
    public let inputShape: Shape3
    public let outputShape: Shape3
    public let filters: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weightInit: WeightInit

    enum Algorithm: Sendable { case winograd, direct, im2col }
    let algorithm: Algorithm
    let geometry: ConvGeometry

    /// K: the im2col row length, KH*KW*C.
    var k: Int { kernel * kernel * inputShape.channels }

    public convenience init(
        input: Shape3, filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0, weightInit: WeightInit = .glorotUniform
    ) {
        self.init(input: input, filters: filters, kernel: kernel, stride: stride, padding: padding, weightInit: weightInit, algorithm: nil)
    }

    /// `algorithm` nil picks by shape; tests force one to compare them.
    init(
        input: Shape3, filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0, weightInit: WeightInit = .glorotUniform,
        algorithm: Algorithm?
    ) {
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
        let g = ConvGeometry(
            height: input.height, width: input.width, channels: input.channels, kernel: kernel,
            stride: stride, padding: padding, filters: filters)
        self.geometry = g
        let chosen = algorithm ?? Self.algorithm(for: g)
        precondition(chosen != .direct || ConvKernels.supportsFilters(g), "direct conv needs filters % 8 == 0")
        precondition(chosen != .winograd || WinogradKernels.supports(g), "winograd needs 3x3, stride 1, no padding, C and F % 8 == 0")
        self.algorithm = chosen
    }

    /// The algorithm for a shape (never timing-dependent). The SIMD kernels need enough output pixels per
    /// image to fill their tiles (they work and accumulate dW image by image); im2col + SGEMM takes the rest
    /// (e.g. filters not a multiple of 8, dense-like convolutions with a 1x1 output).
    static func algorithm(for g: ConvGeometry) -> Algorithm {
        guard g.outPixels >= 8 else { return .im2col }
        if WinogradKernels.supports(g) { return .winograd }
        return ConvKernels.supportsFilters(g) ? .direct : .im2col
    }

    public var parameterCount: Int { k * filters + filters }
    public var parameterViews: [ParameterView] {
        [
            ParameterView(name: "kernel", shape: [kernel, kernel, inputShape.channels, filters], offset: 0),
            ParameterView(name: "bias", shape: [filters], offset: k * filters)
        ]
    }

    /// im2col: the col matrix, kept from forward to backward (and reused for dCol).
    /// direct: packed weights (64-byte aligned), then the padded input (kept for dW, then reused for the
    /// padded dX) when padding > 0, then dCol (rows, K) when dX cannot use the direct kernel.
    /// winograd: transformed filters (64-byte aligned), the dW accumulator, the work area.
    public func scratchCount(batch: Int) -> Int {
        let rows = batch * outputShape.height * outputShape.width
        switch algorithm {
        case .im2col: return rows * k
        case .direct:
            var n = packedCount
            if padding > 0 { n += batch * geometry.paddedImage }
            if !ConvKernels.supportsInputGradient(geometry) { n += rows * k }
            return n
        case .winograd:
            return packedCount + transformedCount + WinogradKernels.workCount(geometry)
        }
    }

    /// Floats of the transformed filters (16 x C x F), a multiple of 16.
    var transformedCount: Int { 16 * inputShape.channels * filters }

    /// Floats reserved at the start of the scratch for packed (direct) or transformed (winograd) weights,
    /// with room to align them to 64 bytes.
    var packedCount: Int {
        (algorithm == .winograd ? transformedCount : (k * filters + 15) / 16 * 16) + 16
    }

    /// The 64-byte aligned packed-weight area at the start of the scratch.
    func packedWeights(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let address = UInt(bitPattern: scratch)
        return scratch + Int(((address + 63) & ~UInt(63)) - address) / MemoryLayout<Float>.stride
    }

    /// winograd: the dW accumulator and the work area after the transformed filters.
    func winogradAccumulator(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> { scratch + packedCount }
    func winogradWork(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> { scratch + packedCount + transformedCount }

    public func initialize(_ parameters: UnsafeMutablePointer<Float>, rng: CounterRNG, layerIndex: Int) {
        weightInit.fill(
            parameters, count: k * filters, fanIn: k, fanOut: kernel * kernel * filters,
            rng: rng, layerIndex: layerIndex)
        (parameters + k * filters).update(repeating: 0, count: filters)
    }

    // x: (B, H, W, C)   y: (B, OH, OW, F)   col: (B*OH*OW, K)
    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        if algorithm != .im2col {
            let input = prepareForward(x: x, parameters: parameters, scratch: scratch, batch: context.batch)
            let out = outputShape.count
            for n in 0..<context.batch {
                forwardImage(
                    n, input: input, rows: outputShape.height, cols: outputShape.width, parameters: parameters,
                    scratch: scratch, y: y + n * out, relu: nil)
            }
            return
        }
        let rows = context.batch * outputShape.height * outputShape.width
        im2col(x, batch: context.batch, col: scratch)
        let bias = parameters + k * filters
        for r in 0..<rows { (y + r * filters).update(from: bias, count: filters) }
        Gemm.multiply(m: rows, n: filters, k: k, a: scratch, b: parameters, accumulate: true, c: y)
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        if algorithm != .im2col {
            let batch = context.batch
            let imageDX = algorithm == .winograd || ConvKernels.supportsInputGradient(geometry)
            prepareBackward(parameters: parameters, scratch: scratch, inputGradient: dX != nil && imageDX)
            let out = outputShape.count
            for n in 0..<batch {
                backwardImage(
                    n, x: x, dY: dY + n * out, rows: outputShape.height, cols: outputShape.width,
                    dX: imageDX ? dX : nil, dParameters: dParameters, scratch: scratch)
            }
            finishBackward(dParameters: dParameters, scratch: scratch)
            if let dX, !imageDX {
                let rows = batch * outputShape.height * outputShape.width
                let dCol = scratch + packedCount + (padding > 0 ? batch * imageStride : 0)
                Gemm.multiply(transB: true, m: rows, n: k, k: filters, a: dY, b: parameters, c: dCol)
                col2im(dCol, batch: batch, dX: dX)
            }
            return
        }
        let rows = context.batch * outputShape.height * outputShape.width
        // dW (K, F) += col^T (K, rows) x dY (rows, F)
        Gemm.multiply(transA: true, m: k, n: filters, k: rows, a: scratch, b: dY, accumulate: true, c: dParameters)
        // db (F) += column sums of dY
        let dBias = dParameters + k * filters
        for r in 0..<rows {
            let row = dY + r * filters
            for f in 0..<filters { dBias[f] += row[f] }
        }
        guard let dX else { return }
        // dCol (rows, K) = dY (rows, F) x W^T (F, K), written over col (no longer needed).
        Gemm.multiply(transB: true, m: rows, n: k, k: filters, a: dY, b: parameters, c: scratch)
        col2im(scratch, batch: context.batch, dX: dX)
    }

    // MARK: - Image by image (winograd and direct)

    /// Floats between two (padded) input images as the image kernels read them.
    var imageStride: Int { geometry.paddedImage }

    /// Packs (direct) or transforms (winograd) the weights and pads the input if needed; returns the
    /// (padded) input for `forwardImage` and `backwardImage`.
    func prepareForward(
        x: UnsafePointer<Float>, parameters: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        batch: Int
    ) -> UnsafePointer<Float> {
        precondition(algorithm != .im2col)
        if algorithm == .winograd {
            WinogradKernels.transformFilters(parameters, geometry, into: packedWeights(scratch))
            return x
        }
        ConvKernels.packWeights(parameters, geometry, into: packedWeights(scratch))
        guard padding > 0 else { return x }
        let xp = scratch + packedCount
        ConvKernels.pad(x, geometry, batch: batch, into: xp)
        return UnsafePointer(xp)
    }

    /// Image `n`: the output region (oy < rows, ox < cols), compact, into `y` (conv + bias) and/or `relu`
    /// (max(y, 0)). `input` from `prepareForward`.
    func forwardImage(
        _ n: Int, input: UnsafePointer<Float>, rows: Int, cols: Int, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: UnsafeMutablePointer<Float>?
    ) {
        let image = input + n * imageStride
        let bias = parameters + k * filters
        if algorithm == .winograd {
            WinogradKernels.forward(
                geometry, image: image, rows: rows, cols: cols, u: packedWeights(scratch), bias: bias,
                y: y, relu: relu, work: winogradWork(scratch))
        } else {
            ConvKernels.forward(
                geometry, image: image, rows: rows, cols: cols, packed: packedWeights(scratch), bias: bias,
                y: y, relu: relu)
        }
    }

    /// Before `backwardImage`: W^T packed (direct) or transformed (winograd) for dX if `inputGradient`
    /// (over the forward weights, no longer needed), and the winograd dW accumulator cleared.
    func prepareBackward(parameters: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, inputGradient: Bool) {
        switch algorithm {
        case .winograd:
            winogradAccumulator(scratch).update(repeating: 0, count: transformedCount)
            if inputGradient { WinogradKernels.transformFiltersTransposed(parameters, geometry, into: packedWeights(scratch)) }
        case .direct:
            if inputGradient && ConvKernels.supportsInputGradient(geometry) {
                ConvKernels.packTransposedWeights(parameters, geometry, into: packedWeights(scratch))
            }
        case .im2col:
            preconditionFailure("im2col runs on the whole batch")
        }
    }

    /// Image `n`: dW and db (accumulated; winograd: dW into its accumulator until `finishBackward`) and, if
    /// `dX`, that image's dX (overwritten; direct needs C % 8 == 0). `dY` is the image's output gradient
    /// restricted to the top-left rows x cols region (compact); the rest of the output has dY = 0.
    func backwardImage(
        _ n: Int, x: UnsafePointer<Float>, dY: UnsafePointer<Float>, rows: Int, cols: Int,
        dX: UnsafeMutablePointer<Float>?, dParameters: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let dBias = dParameters + k * filters
        if algorithm == .winograd {
            WinogradKernels.backward(
                geometry, image: x + n * imageStride, dY: dY, rows: rows, cols: cols,
                du: winogradAccumulator(scratch), ut: dX == nil ? nil : packedWeights(scratch),
                dX: dX.map { $0 + n * inputShape.count }, work: winogradWork(scratch))
            ConvKernels.biasGradient(dY, rows: rows * cols, f: filters, dBias: dBias)
            return
        }
        let xp = scratch + packedCount
        let image = padding > 0 ? UnsafePointer(xp + n * imageStride) : x + n * imageStride
        ConvKernels.backwardWeights(geometry, image: image, dY: dY, rows: rows, cols: cols, dW: dParameters, dBias: dBias)
        guard let dX else { return }
        precondition(ConvKernels.supportsInputGradient(geometry))
        // With padding, the image's padded input (no longer needed) becomes its padded dX.
        let target = padding > 0 ? xp + n * imageStride : dX + n * inputShape.count
        target.update(repeating: 0, count: imageStride)
        ConvKernels.backwardInput(geometry, dY: dY, rows: rows, cols: cols, packed: packedWeights(scratch), dX: target)
        if padding > 0 { ConvKernels.unpad(target, geometry, batch: 1, into: dX + n * inputShape.count) }
    }

    /// After the last `backwardImage`: winograd adds its accumulated dW.
    func finishBackward(dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        if algorithm == .winograd { WinogradKernels.finishWeights(winogradAccumulator(scratch), geometry, dW: dParameters) }
    }

    // MARK: - im2col

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
                        if iy < 0 || iy >= h {
                            dst.update(repeating: 0, count: kc)
                            continue
                        }
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
