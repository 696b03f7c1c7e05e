// Direct (implicit-GEMM) 2-D convolution kernels over NHWC activations, in plain Swift SIMD.
//
// No im2col buffer: for output pixel p and kernel row ky, the KW*C inputs the kernel row sees are
// contiguous in an NHWC image (stride 1 along the row), so the pixel's input row itself is the GEMM's
// A operand (K' = KW*C per kernel row). Micro-kernels keep an MR x 16 (or MR x 8) tile of outputs
// in registers (MR <= 6 pixels, 16 filters = two AVX2 registers) and use FMA.
//
// Determinism: every output element is one accumulator fed in a fixed order (bias or old value first,
// then kernel rows, then the K' inputs of each row, or the pixels in raster order for dW); tiling
// depends only on the shape. The same inputs give the same bits on any thread, every time.
//
// Packed weight layouts (built per call by `packWeights` / `packTransposedWeights`, K = KH*KW*C):
//   forward:  for each filter strip [f0, f0 + width) (width 16, or 8 for the last strip when F % 16 == 8):
//             `width`-wide rows for k = 0..<K, at offset f0 * K.
//   backward: for each kernel tap t = ky*KW + kx and channel chunk [c0, c0 + width) (width 16 or 8):
//             `width`-wide rows for f = 0..<F, at offset (t*C + c0) * F.

/// Shape facts of one convolution, independent of the batch size.
public struct ConvGeometry: Sendable, Equatable {
    public let height: Int, width: Int, channels: Int
    public let kernel: Int, stride: Int, padding: Int
    public let outHeight: Int, outWidth: Int, filters: Int
    public var paddedHeight: Int { height + 2 * padding }
    public var paddedWidth: Int { width + 2 * padding }
    /// Floats of one padded input image.
    public var paddedImage: Int { paddedHeight * paddedWidth * channels }
    public var outPixels: Int { outHeight * outWidth }
    /// The GEMM reduction length, KH*KW*C.
    public var k: Int { kernel * kernel * channels }
    /// Inputs one kernel row sees: KW*C, contiguous in NHWC.
    public var rowLength: Int { kernel * channels }
    /// Distance between two input rows of the padded image.
    public var rowStride: Int { paddedWidth * channels }

    public init(height: Int, width: Int, channels: Int, kernel: Int, stride: Int, padding: Int, filters: Int) {
        self.height = height
        self.width = width
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.filters = filters
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
    }

    /// Width (16 or 8) of the strip or chunk starting at `start` of a dimension of `count` (count % 8 == 0).
    @inline(__always)
    static func chunkWidth(_ start: Int, _ count: Int) -> Int { count - start >= 16 ? 16 : 8 }
}

public enum ConvKernels {
    /// The forward and dW kernels vectorise over filters: they need F % 8 == 0.
    public static func supportsFilters(_ g: ConvGeometry) -> Bool { g.filters % 8 == 0 }
    /// The dX kernel vectorises over input channels: it needs C % 8 == 0.
    public static func supportsInputGradient(_ g: ConvGeometry) -> Bool { g.channels % 8 == 0 }

    // MARK: - Packing and padding

    /// Packs W (K, F) row-major into filter strips (see the file header). `packed` holds K*F floats.
    public static func packWeights(_ w: UnsafePointer<Float>, _ g: ConvGeometry, into packed: UnsafeMutablePointer<Float>) {
        let (k, f) = (g.k, g.filters)
        var f0 = 0
        while f0 < f {
            let width = ConvGeometry.chunkWidth(f0, f)
            let strip = packed + f0 * k
            for r in 0..<k { (strip + r * width).update(from: w + r * f + f0, count: width) }
            f0 += width
        }
    }

    /// Packs W^T (F, K) into channel chunks per kernel tap (see the file header). `packed` holds K*F floats.
    public static func packTransposedWeights(_ w: UnsafePointer<Float>, _ g: ConvGeometry, into packed: UnsafeMutablePointer<Float>) {
        let (c, f) = (g.channels, g.filters)
        for t in 0..<(g.kernel * g.kernel) {
            var c0 = 0
            while c0 < c {
                let width = ConvGeometry.chunkWidth(c0, c)
                let chunk = packed + (t * c + c0) * f
                for j in 0..<f {
                    let dst = chunk + j * width
                    let src = w + (t * c + c0) * f + j
                    for i in 0..<width { dst[i] = src[i * f] }
                }
                c0 += width
            }
        }
    }

    /// Copies `batch` images (H, W, C) into zero-padded images (H + 2p, W + 2p, C).
    public static func pad(_ x: UnsafePointer<Float>, _ g: ConvGeometry, batch: Int, into xp: UnsafeMutablePointer<Float>) {
        let (h, w, c, p) = (g.height, g.width, g.channels, g.padding)
        xp.update(repeating: 0, count: batch * g.paddedImage)
        for n in 0..<batch {
            for y in 0..<h {
                (xp + n * g.paddedImage + ((y + p) * g.paddedWidth + p) * c).update(from: x + (n * h + y) * w * c, count: w * c)
            }
        }
    }

    /// The interior of zero-padded images back into (H, W, C) images (overwrites `x`).
    public static func unpad(_ xp: UnsafePointer<Float>, _ g: ConvGeometry, batch: Int, into x: UnsafeMutablePointer<Float>) {
        let (h, w, c, p) = (g.height, g.width, g.channels, g.padding)
        for n in 0..<batch {
            for y in 0..<h {
                (x + (n * h + y) * w * c).update(from: xp + n * g.paddedImage + ((y + p) * g.paddedWidth + p) * c, count: w * c)
            }
        }
    }

    // MARK: - Forward

    /// One image: the output pixels (oy, ox), oy < rows, ox < cols (a top-left region of the output),
    /// written compactly (pixel (oy, ox) at (oy * cols + ox) * F) into `y` (conv + bias) and/or `relu`
    /// (max(conv + bias, 0)). `image` is the (padded) input image, `packed` from `packWeights`.
    public static func forward(
        _ g: ConvGeometry, image: UnsafePointer<Float>, rows: Int, cols: Int,
        packed: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>?, relu: UnsafeMutablePointer<Float>?
    ) {
        precondition(supportsFilters(g) && rows <= g.outHeight && cols <= g.outWidth)
        let (k, f) = (g.k, g.filters)
        let total = rows * cols
        let step = g.stride * g.channels
        let rowStep = g.stride * g.rowStride
        var f0 = 0
        while f0 < f {
            let width = ConvGeometry.chunkWidth(f0, f)
            let strip = packed + f0 * k
            var p = 0
            var oy = 0
            var ox = 0
            while p < total {
                let mr = Swift.min(6, total - p)
                var a = (image, image, image, image, image, image)
                withUnsafeMutableBytes(of: &a) { raw in
                    let ptrs = raw.bindMemory(to: UnsafePointer<Float>.self)
                    for i in 0..<mr {
                        ptrs[i] = image + oy * rowStep + ox * step
                        ox += 1
                        if ox == cols {
                            ox = 0
                            oy += 1
                        }
                    }
                }
                forwardTile(
                    nv: width / 8, mr: mr, a: a, g: g, w: strip, bias: bias + f0,
                    y: y.map { $0 + p * f + f0 }, relu: relu.map { $0 + p * f + f0 }, ldy: f)
                p += mr
            }
            f0 += width
        }
    }

    typealias Ptr6 = (
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>
    )

    @inline(__always)
    static func forwardTile(
        nv: Int, mr: Int, a: Ptr6, g: ConvGeometry, w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?,
        relu: UnsafeMutablePointer<Float>?, ldy: Int
    ) {
        if nv == 2 {
            switch mr {
            case 6: forwardKernel(nv: 2, mr: 6, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 5: forwardKernel(nv: 2, mr: 5, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 4: forwardKernel(nv: 2, mr: 4, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 3: forwardKernel(nv: 2, mr: 3, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 2: forwardKernel(nv: 2, mr: 2, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            default: forwardKernel(nv: 2, mr: 1, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            }
        } else {
            switch mr {
            case 6: forwardKernel(nv: 1, mr: 6, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 5: forwardKernel(nv: 1, mr: 5, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 4: forwardKernel(nv: 1, mr: 4, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 3: forwardKernel(nv: 1, mr: 3, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            case 2: forwardKernel(nv: 1, mr: 2, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            default: forwardKernel(nv: 1, mr: 1, a: a, g: g, w: w, bias: bias, y: y, relu: relu, ldy: ldy)
            }
        }
    }

    /// mr output pixels x one filter strip of 8*nv: acc_i = bias + sum over (ky, t) of a_i[ky*rowStride + t] * w[ky*K' + t].
    @inline(__always)
    static func forwardKernel(
        nv: Int, mr: Int, a: Ptr6, g: ConvGeometry, w: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?,
        relu: UnsafeMutablePointer<Float>?, ldy: Int
    ) {
        let ba = load8(bias)
        let bb = nv > 1 ? load8(bias + 8) : ba
        var c0a = ba
        var c1a = ba
        var c2a = ba
        var c3a = ba
        var c4a = ba
        var c5a = ba
        var c0b = bb
        var c1b = bb
        var c2b = bb
        var c3b = bb
        var c4b = bb
        var c5b = bb
        let kw = g.rowLength
        let rs = g.rowStride
        let width = 8 &* nv
        var wp = w
        for ky in 0..<g.kernel {
            let o = ky &* rs
            let p0 = a.0 + o
            let p1 = a.1 + o
            let p2 = a.2 + o
            let p3 = a.3 + o
            let p4 = a.4 + o
            let p5 = a.5 + o
            for t in 0..<kw {
                let wa = load8(wp + t &* width)
                let wb = nv > 1 ? load8(wp + t &* width + 8) : wa
                var s = SIMD8<Float>(repeating: p0[t])
                c0a = c0a.addingProduct(s, wa)
                if nv > 1 { c0b = c0b.addingProduct(s, wb) }
                if mr > 1 {
                    s = SIMD8(repeating: p1[t])
                    c1a = c1a.addingProduct(s, wa)
                    if nv > 1 { c1b = c1b.addingProduct(s, wb) }
                }
                if mr > 2 {
                    s = SIMD8(repeating: p2[t])
                    c2a = c2a.addingProduct(s, wa)
                    if nv > 1 { c2b = c2b.addingProduct(s, wb) }
                }
                if mr > 3 {
                    s = SIMD8(repeating: p3[t])
                    c3a = c3a.addingProduct(s, wa)
                    if nv > 1 { c3b = c3b.addingProduct(s, wb) }
                }
                if mr > 4 {
                    s = SIMD8(repeating: p4[t])
                    c4a = c4a.addingProduct(s, wa)
                    if nv > 1 { c4b = c4b.addingProduct(s, wb) }
                }
                if mr > 5 {
                    s = SIMD8(repeating: p5[t])
                    c5a = c5a.addingProduct(s, wa)
                    if nv > 1 { c5b = c5b.addingProduct(s, wb) }
                }
            }
            wp += kw &* width
        }
        @inline(__always) func put(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ i: Int) {
            let o = i &* ldy
            if let y {
                store8(a, y + o)
                if nv > 1 { store8(b, y + o + 8) }
            }
            if let relu {
                store8(a.replacing(with: 0, where: a .<= 0), relu + o)
                if nv > 1 { store8(b.replacing(with: 0, where: b .<= 0), relu + o + 8) }
            }
        }
        put(c0a, c0b, 0)
        if mr > 1 { put(c1a, c1b, 1) }
        if mr > 2 { put(c2a, c2b, 2) }
        if mr > 3 { put(c3a, c3b, 3) }
        if mr > 4 { put(c4a, c4b, 4) }
        if mr > 5 { put(c5a, c5b, 5) }
    }

    // MARK: - Backward: weights

    /// Pixels per band of the dW kernel (see `backwardWeights`); part of the summation order, so a constant.
    static let weightBandPixels = 48

    /// One image: dW (K, F) += sum over the output pixels (oy, ox), oy < rows, ox < cols, of the pixel's
    /// input window (K) outer its dY row (F), pixels in raster order; dBias (F) += the sum of the dY rows.
    /// `dY` holds the region compactly ((oy * cols + ox) * F).
    public static func backwardWeights(
        _ g: ConvGeometry, image: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        rows: Int, cols: Int, dW: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>
    ) {
        precondition(supportsFilters(g) && rows <= g.outHeight && cols <= g.outWidth)
        let (f, kw) = (g.filters, g.rowLength)
        // Output rows in bands of about `weightBandPixels` pixels, so that a band's dY and input rows stay
        // in L1 while every dW tile passes over them.
        let band = Swift.max(1, Swift.min(rows, weightBandPixels / Swift.max(cols, 1)))
        var r0 = 0
        while r0 < rows {
            let bandRows = Swift.min(band, rows - r0)
            let bandImage = image + r0 * g.stride * g.rowStride
            let bandDY = dY + r0 * cols * f
            for ky in 0..<g.kernel {
                let rowA = bandImage + ky * g.rowStride
                var t0 = 0
                while t0 < kw {
                    let mr = Swift.min(6, kw - t0)
                    let dWRow = dW + (ky * kw + t0) * f
                    var f0 = 0
                    while f0 < f {
                        let width = ConvGeometry.chunkWidth(f0, f)
                        weightTile(nv: width / 8, mr: mr, a: rowA + t0, g: g, rows: bandRows, cols: cols, dY: bandDY + f0, dW: dWRow + f0)
                        f0 += width
                    }
                    t0 += mr
                }
            }
            r0 += bandRows
        }
        biasGradient(dY, rows: rows * cols, f: f, dBias: dBias)
    }

    /// dBias (F) += column sums of dY (rows, F), rows in order.
    public static func biasGradient(_ dY: UnsafePointer<Float>, rows: Int, f: Int, dBias: UnsafeMutablePointer<Float>) {
        var f0 = 0
        while f0 + 32 <= f {
            var s0 = load8(dBias + f0)
            var s1 = load8(dBias + f0 + 8)
            var s2 = load8(dBias + f0 + 16)
            var s3 = load8(dBias + f0 + 24)
            var row = dY + f0
            for _ in 0..<rows {
                s0 += load8(row)
                s1 += load8(row + 8)
                s2 += load8(row + 16)
                s3 += load8(row + 24)
                row += f
            }
            store8(s0, dBias + f0)
            store8(s1, dBias + f0 + 8)
            store8(s2, dBias + f0 + 16)
            store8(s3, dBias + f0 + 24)
            f0 += 32
        }
        while f0 + 8 <= f {
            var s = load8(dBias + f0)
            var row = dY + f0
            for _ in 0..<rows {
                s += load8(row)
                row += f
            }
            store8(s, dBias + f0)
            f0 += 8
        }
        while f0 < f {
            var s = dBias[f0]
            for r in 0..<rows { s += dY[r * f + f0] }
            dBias[f0] = s
            f0 += 1
        }
    }

    @inline(__always)
    static func weightTile(
        nv: Int, mr: Int, a: UnsafePointer<Float>, g: ConvGeometry, rows: Int, cols: Int,
        dY: UnsafePointer<Float>, dW: UnsafeMutablePointer<Float>
    ) {
        if nv == 2 {
            switch mr {
            case 6: weightKernel(nv: 2, mr: 6, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 5: weightKernel(nv: 2, mr: 5, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 4: weightKernel(nv: 2, mr: 4, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 3: weightKernel(nv: 2, mr: 3, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 2: weightKernel(nv: 2, mr: 2, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            default: weightKernel(nv: 2, mr: 1, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            }
        } else {
            switch mr {
            case 6: weightKernel(nv: 1, mr: 6, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 5: weightKernel(nv: 1, mr: 5, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 4: weightKernel(nv: 1, mr: 4, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 3: weightKernel(nv: 1, mr: 3, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            case 2: weightKernel(nv: 1, mr: 2, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            default: weightKernel(nv: 1, mr: 1, a: a, g: g, rows: rows, cols: cols, dY: dY, dW: dW)
            }
        }
    }

    /// mr consecutive rows of dW (inputs a[0..<mr] of every window) x one filter strip of 8*nv, summed
    /// over one image's output pixels in raster order, starting from the old dW.
    @inline(__always)
    static func weightKernel(
        nv: Int, mr: Int, a: UnsafePointer<Float>, g: ConvGeometry, rows: Int, cols: Int,
        dY: UnsafePointer<Float>, dW: UnsafeMutablePointer<Float>
    ) {
        let f = g.filters
        let z = SIMD8<Float>(repeating: 0)
        var c0a = load8(dW)
        var c0b = nv > 1 ? load8(dW + 8) : z
        var c1a = z
        var c1b = z
        var c2a = z
        var c2b = z
        var c3a = z
        var c3b = z
        var c4a = z
        var c4b = z
        var c5a = z
        var c5b = z
        if mr > 1 {
            c1a = load8(dW + f)
            if nv > 1 { c1b = load8(dW + f + 8) }
        }
        if mr > 2 {
            c2a = load8(dW + 2 &* f)
            if nv > 1 { c2b = load8(dW + 2 &* f + 8) }
        }
        if mr > 3 {
            c3a = load8(dW + 3 &* f)
            if nv > 1 { c3b = load8(dW + 3 &* f + 8) }
        }
        if mr > 4 {
            c4a = load8(dW + 4 &* f)
            if nv > 1 { c4b = load8(dW + 4 &* f + 8) }
        }
        if mr > 5 {
            c5a = load8(dW + 5 &* f)
            if nv > 1 { c5b = load8(dW + 5 &* f + 8) }
        }
        let step = g.stride &* g.channels
        let rowStep = g.stride &* g.rowStride
        var d = dY
        var row = a
        for _ in 0..<rows {
            var p = row
            for _ in 0..<cols {
                let da = load8(d)
                let db = nv > 1 ? load8(d + 8) : da
                var s = SIMD8<Float>(repeating: p[0])
                c0a = c0a.addingProduct(s, da)
                if nv > 1 { c0b = c0b.addingProduct(s, db) }
                if mr > 1 {
                    s = SIMD8(repeating: p[1])
                    c1a = c1a.addingProduct(s, da)
                    if nv > 1 { c1b = c1b.addingProduct(s, db) }
                }
                if mr > 2 {
                    s = SIMD8(repeating: p[2])
                    c2a = c2a.addingProduct(s, da)
                    if nv > 1 { c2b = c2b.addingProduct(s, db) }
                }
                if mr > 3 {
                    s = SIMD8(repeating: p[3])
                    c3a = c3a.addingProduct(s, da)
                    if nv > 1 { c3b = c3b.addingProduct(s, db) }
                }
                if mr > 4 {
                    s = SIMD8(repeating: p[4])
                    c4a = c4a.addingProduct(s, da)
                    if nv > 1 { c4b = c4b.addingProduct(s, db) }
                }
                if mr > 5 {
                    s = SIMD8(repeating: p[5])
                    c5a = c5a.addingProduct(s, da)
                    if nv > 1 { c5b = c5b.addingProduct(s, db) }
                }
                p += step
                d += f
            }
            row += rowStep
        }
        store8(c0a, dW)
        if nv > 1 { store8(c0b, dW + 8) }
        if mr > 1 {
            store8(c1a, dW + f)
            if nv > 1 { store8(c1b, dW + f + 8) }
        }
        if mr > 2 {
            store8(c2a, dW + 2 &* f)
            if nv > 1 { store8(c2b, dW + 2 &* f + 8) }
        }
        if mr > 3 {
            store8(c3a, dW + 3 &* f)
            if nv > 1 { store8(c3b, dW + 3 &* f + 8) }
        }
        if mr > 4 {
            store8(c4a, dW + 4 &* f)
            if nv > 1 { store8(c4b, dW + 4 &* f + 8) }
        }
        if mr > 5 {
            store8(c5a, dW + 5 &* f)
            if nv > 1 { store8(c5b, dW + 5 &* f + 8) }
        }
    }

    // MARK: - Backward: input

    /// One image: dX (the padded input image) += the transposed convolution of dY with W: each output
    /// pixel (oy, ox), oy < rows, ox < cols, in raster order, adds its dY row times W^T onto its input
    /// window (kernel taps in order, then channel chunks). `dY` holds the region compactly; `packed`
    /// from `packTransposedWeights`. Zero `dX` first for an overwrite.
    public static func backwardInput(
        _ g: ConvGeometry, dY: UnsafePointer<Float>, rows: Int, cols: Int,
        packed: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>
    ) {
        precondition(supportsInputGradient(g) && rows <= g.outHeight && cols <= g.outWidth)
        let (c, f) = (g.channels, g.filters)
        let total = rows * cols
        let step = g.stride * c
        let rowStep = g.stride * g.rowStride
        var p = 0
        var oy = 0
        var ox = 0
        while p < total {
            let mr = Swift.min(6, total - p)
            var t: Int6 = (0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &t) { raw in
                let offs = raw.bindMemory(to: Int.self)
                for i in 0..<mr {
                    offs[i] = oy * rowStep + ox * step
                    ox += 1
                    if ox == cols {
                        ox = 0
                        oy += 1
                    }
                }
            }
            let d = dY + p * f
            for ky in 0..<g.kernel {
                for kx in 0..<g.kernel {
                    let tap = ky * g.kernel + kx
                    let base = dX + ky * g.rowStride + kx * c
                    var c0 = 0
                    while c0 < c {
                        let w = packed + (tap * c + c0) * f
                        let width = ConvGeometry.chunkWidth(c0, c)
                        inputTile(nv: width / 8, mr: mr, dY: d, f: f, w: w, dX: base + c0, t: t)
                        c0 += width
                    }
                }
            }
            p += mr
        }
    }

    typealias Int6 = (Int, Int, Int, Int, Int, Int)

    @inline(__always)
    static func inputTile(
        nv: Int, mr: Int, dY: UnsafePointer<Float>, f: Int, w: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>, t: Int6
    ) {
        if nv == 2 {
            switch mr {
            case 6: inputKernel(nv: 2, mr: 6, dY: dY, f: f, w: w, dX: dX, t: t)
            case 5: inputKernel(nv: 2, mr: 5, dY: dY, f: f, w: w, dX: dX, t: t)
            case 4: inputKernel(nv: 2, mr: 4, dY: dY, f: f, w: w, dX: dX, t: t)
            case 3: inputKernel(nv: 2, mr: 3, dY: dY, f: f, w: w, dX: dX, t: t)
            case 2: inputKernel(nv: 2, mr: 2, dY: dY, f: f, w: w, dX: dX, t: t)
            default: inputKernel(nv: 2, mr: 1, dY: dY, f: f, w: w, dX: dX, t: t)
            }
        } else {
            switch mr {
            case 6: inputKernel(nv: 1, mr: 6, dY: dY, f: f, w: w, dX: dX, t: t)
            case 5: inputKernel(nv: 1, mr: 5, dY: dY, f: f, w: w, dX: dX, t: t)
            case 4: inputKernel(nv: 1, mr: 4, dY: dY, f: f, w: w, dX: dX, t: t)
            case 3: inputKernel(nv: 1, mr: 3, dY: dY, f: f, w: w, dX: dX, t: t)
            case 2: inputKernel(nv: 1, mr: 2, dY: dY, f: f, w: w, dX: dX, t: t)
            default: inputKernel(nv: 1, mr: 1, dY: dY, f: f, w: w, dX: dX, t: t)
            }
        }
    }

    /// mr pixels' dY rows (F) times one (tap, channel chunk of 8*nv) column block of W^T, added onto dX at t_i.
    @inline(__always)
    static func inputKernel(
        nv: Int, mr: Int, dY: UnsafePointer<Float>, f: Int, w: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>, t: Int6
    ) {
        let z = SIMD8<Float>(repeating: 0)
        var c0a = z
        var c1a = z
        var c2a = z
        var c3a = z
        var c4a = z
        var c5a = z
        var c0b = z
        var c1b = z
        var c2b = z
        var c3b = z
        var c4b = z
        var c5b = z
        let width = 8 &* nv
        let d0 = dY
        let d1 = dY + f
        let d2 = dY + 2 &* f
        let d3 = dY + 3 &* f
        let d4 = dY + 4 &* f
        let d5 = dY + 5 &* f
        for j in 0..<f {
            let wa = load8(w + j &* width)
            let wb = nv > 1 ? load8(w + j &* width + 8) : wa
            var s = SIMD8<Float>(repeating: d0[j])
            c0a = c0a.addingProduct(s, wa)
            if nv > 1 { c0b = c0b.addingProduct(s, wb) }
            if mr > 1 {
                s = SIMD8(repeating: d1[j])
                c1a = c1a.addingProduct(s, wa)
                if nv > 1 { c1b = c1b.addingProduct(s, wb) }
            }
            if mr > 2 {
                s = SIMD8(repeating: d2[j])
                c2a = c2a.addingProduct(s, wa)
                if nv > 1 { c2b = c2b.addingProduct(s, wb) }
            }
            if mr > 3 {
                s = SIMD8(repeating: d3[j])
                c3a = c3a.addingProduct(s, wa)
                if nv > 1 { c3b = c3b.addingProduct(s, wb) }
            }
            if mr > 4 {
                s = SIMD8(repeating: d4[j])
                c4a = c4a.addingProduct(s, wa)
                if nv > 1 { c4b = c4b.addingProduct(s, wb) }
            }
            if mr > 5 {
                s = SIMD8(repeating: d5[j])
                c5a = c5a.addingProduct(s, wa)
                if nv > 1 { c5b = c5b.addingProduct(s, wb) }
            }
        }
        @inline(__always) func add(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
            store8(load8(p) + a, p)
            if nv > 1 { store8(load8(p + 8) + b, p + 8) }
        }
        add(c0a, c0b, dX + t.0)
        if mr > 1 { add(c1a, c1b, dX + t.1) }
        if mr > 2 { add(c2a, c2b, dX + t.2) }
        if mr > 3 { add(c3a, c3b, dX + t.3) }
        if mr > 4 { add(c4a, c4b, dX + t.4) }
        if mr > 5 { add(c5a, c5b, dX + t.5) }
    }

    // MARK: - Helpers

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
