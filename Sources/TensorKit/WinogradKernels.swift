// Winograd F(2x2, 3x3) convolution (Lavin & Gray, 2015) for 3x3, stride 1, unpadded convolutions
// with C % 8 == 0 and F % 8 == 0, NHWC, vectorised over channels.
//
// Each 2x2 block ("tile") of outputs needs a 4x4 block of inputs d. With the 16 transformed positions
// xi = (r, s):
//   forward   Y  = A^T [ U (.) V ] A,       U = G g G^T (per c, f),  V = B^T d B (per tile, c)
//             M[xi] (tiles x F) = V[xi] (tiles x C) x U[xi] (C x F)          16 GEMMs
//   dX        dd = B [ dV ] B^T,            dV[xi] (tiles x C) = Yh[xi] (tiles x F) x U[xi]^T (F x C)
//             with Yh = A dY A^T; the 4x4 dd blocks of neighbouring tiles overlap and are added.
//   dW        dg = G^T [ dU ] G,            dU[xi] (C x F) += V[xi]^T (C x tiles) x Yh[xi] (tiles x F)
// 16 multiplications per 4 outputs instead of 36: 2.25x fewer FLOPs than direct convolution, at the
// cost of the (cheap, vectorised) transforms. Results differ from direct convolution by rounding only.
//
// Determinism: tiles are visited in raster order in fixed chunks; every sum has a fixed order that
// depends only on the shape.
//
// Buffers (floats, see `scratchCount`):
//   filters  16 x C x F: U packed per xi in filter strips ([C][16 or 8] at f0 * C), or for dX U^T
//            packed per xi in channel strips ([F][16 or 8] at c0 * F)
//   dU       16 x C x F: the dW accumulator (plain [xi][c][f])
//   work     V, Yh (or M) and dV for a chunk of tiles

public enum WinogradKernels {
    /// Whether a convolution can use these kernels.
    public static func supports(_ g: ConvGeometry) -> Bool {
        g.kernel == 3 && g.stride == 1 && g.padding == 0 && g.channels % 8 == 0 && g.filters % 8 == 0
    }

    /// Tiles per chunk: the chunk's transforms stay in L2 and the dW GEMMs reduce over this many tiles.
    static let chunk = 48

    /// Floats between the 16 transformed matrices of a chunk (padded by a cache line against 4 KiB aliasing).
    static func blockStride(_ n: Int) -> Int { chunk * n + 16 }

    /// Floats of the work area (for a chunk's V, Yh or M, and dV).
    public static func workCount(_ g: ConvGeometry) -> Int {
        16 * (2 * blockStride(g.channels) + blockStride(g.filters))
    }

    // MARK: - Filters

    /// U[xi] = G g G^T for every (c, f), packed in filter strips per xi (for the forward GEMMs).
    public static func transformFilters(_ w: UnsafePointer<Float>, _ g: ConvGeometry, into u: UnsafeMutablePointer<Float>) {
        let (c, f) = (g.channels, g.filters)
        for ci in 0..<c {
            var f0 = 0
            while f0 < f {
                let t = filterTransform(w, c: ci, f0: f0, g: g)
                let strip = f0 / 16 * 16
                let width = ConvGeometry.chunkWidth(strip, f)
                withUnsafeBytes(of: t) { raw in
                    let v = raw.bindMemory(to: SIMD8<Float>.self)
                    for xi in 0..<16 {
                        store8(v[xi], u + xi * c * f + strip * c + ci * width + (f0 - strip))
                    }
                }
                f0 += 8
            }
        }
    }

    /// U[xi]^T, packed in channel strips per xi (for the dX GEMMs).
    public static func transformFiltersTransposed(_ w: UnsafePointer<Float>, _ g: ConvGeometry, into ut: UnsafeMutablePointer<Float>) {
        let (c, f) = (g.channels, g.filters)
        for ci in 0..<c {
            let strip = ci / 16 * 16
            let width = ConvGeometry.chunkWidth(strip, c)
            var f0 = 0
            while f0 < f {
                let t = filterTransform(w, c: ci, f0: f0, g: g)
                withUnsafeBytes(of: t) { raw in
                    let v = raw.bindMemory(to: SIMD8<Float>.self)
                    for xi in 0..<16 {
                        let base = ut + xi * c * f + strip * f + (ci - strip)
                        for j in 0..<8 { base[(f0 + j) * width] = v[xi][j] }
                    }
                }
                f0 += 8
            }
        }
    }

    typealias Tile16 = (
        SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
        SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>
    )

    /// G g G^T for input channel c and filters f0..<f0+8 (W is (3, 3, C, F)).
    @inline(__always)
    static func filterTransform(_ w: UnsafePointer<Float>, c: Int, f0: Int, g: ConvGeometry) -> Tile16 {
        let (cs, f) = (g.channels, g.filters)
        @inline(__always) func at(_ ky: Int, _ kx: Int) -> SIMD8<Float> { load8(w + ((ky * 3 + kx) * cs + c) * f + f0) }
        let half = SIMD8<Float>(repeating: 0.5)
        // Rows: u0 = g0, u1 = (g0 + g1 + g2) / 2, u2 = (g0 - g1 + g2) / 2, u3 = g2 (per kernel column).
        var rows = (
            SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(),
            SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>()
        )
        withUnsafeMutableBytes(of: &rows) { raw in
            let m = raw.bindMemory(to: SIMD8<Float>.self)  // m[row * 3 + kx]
            for kx in 0..<3 {
                let g0 = at(0, kx)
                let g1 = at(1, kx)
                let g2 = at(2, kx)
                m[kx] = g0
                m[3 + kx] = (g0 + g1 + g2) * half
                m[6 + kx] = (g0 - g1 + g2) * half
                m[9 + kx] = g2
            }
        }
        var out = Tile16(
            SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(),
            SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8(), SIMD8())
        withUnsafeBytes(of: rows) { rraw in
            let m = rraw.bindMemory(to: SIMD8<Float>.self)
            withUnsafeMutableBytes(of: &out) { raw in
                let u = raw.bindMemory(to: SIMD8<Float>.self)
                for row in 0..<4 {
                    let g0 = m[row * 3]
                    let g1 = m[row * 3 + 1]
                    let g2 = m[row * 3 + 2]
                    u[row * 4] = g0
                    u[row * 4 + 1] = (g0 + g1 + g2) * half
                    u[row * 4 + 2] = (g0 - g1 + g2) * half
                    u[row * 4 + 3] = g2
                }
            }
        }
        return out
    }

    /// dW (3, 3, C, F) += G^T dU[xi] G for every (c, f).
    public static func finishWeights(_ du: UnsafePointer<Float>, _ g: ConvGeometry, dW: UnsafeMutablePointer<Float>) {
        let (c, f) = (g.channels, g.filters)
        let half = SIMD8<Float>(repeating: 0.5)
        for ci in 0..<c {
            var f0 = 0
            while f0 < f {
                @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { load8(du + (xi * c + ci) * f + f0) }
                // G^T = [[1, .5, .5, 0], [0, .5, -.5, 0], [0, .5, .5, 1]] on the rows, then on the columns.
                @inline(__always) func reduce(_ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>)
                    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
                {
                    (m0 + (m1 + m2) * half, (m1 - m2) * half, (m1 + m2) * half + m3)
                }
                let c0 = reduce(at(0), at(4), at(8), at(12))
                let c1 = reduce(at(1), at(5), at(9), at(13))
                let c2 = reduce(at(2), at(6), at(10), at(14))
                let c3 = reduce(at(3), at(7), at(11), at(15))
                @inline(__always) func add(_ ky: Int, _ kx: Int, _ d: SIMD8<Float>) {
                    let p = dW + ((ky * 3 + kx) * c + ci) * f + f0
                    store8(load8(p) + d, p)
                }
                let r0 = reduce(c0.0, c1.0, c2.0, c3.0)
                let r1 = reduce(c0.1, c1.1, c2.1, c3.1)
                let r2 = reduce(c0.2, c1.2, c2.2, c3.2)
                add(0, 0, r0.0)
                add(0, 1, r0.1)
                add(0, 2, r0.2)
                add(1, 0, r1.0)
                add(1, 1, r1.1)
                add(1, 2, r1.2)
                add(2, 0, r2.0)
                add(2, 1, r2.1)
                add(2, 2, r2.2)
                f0 += 8
            }
        }
    }

    // MARK: - Forward

    /// One image: the output region (oy < rows, ox < cols) written compactly into `y` (conv + bias) and/or
    /// `relu` (max(conv + bias, 0)). `u` from `transformFilters`; `work` holds `workCount` floats.
    public static func forward(
        _ g: ConvGeometry, image: UnsafePointer<Float>, rows: Int, cols: Int, u: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: UnsafeMutablePointer<Float>?,
        work: UnsafeMutablePointer<Float>
    ) {
        precondition(supports(g) && rows <= g.outHeight && cols <= g.outWidth)
        let (c, f) = (g.channels, g.filters)
        let tilesX = (cols + 1) / 2
        let tiles = (rows + 1) / 2 * tilesX
        let (sv, sm) = (blockStride(c), blockStride(f))
        let v = work
        let m = work + 16 * sv
        var t0 = 0
        while t0 < tiles {
            let nt = Swift.min(chunk, tiles - t0)
            inputTransform(g, image: image, t0: t0, count: nt, tilesX: tilesX, v: v)
            for xi in 0..<16 {
                let a0 = UnsafePointer(v + xi * sv)
                gemm(a: a0, lda: c, rows: nt, b: u + xi * c * f, k: c, n: f, c: m + xi * sm)
            }
            outputTransform(
                g, m: UnsafePointer(m), t0: t0, count: nt, tilesX: tilesX, rows: rows, cols: cols,
                bias: bias, y: y, relu: relu)
            t0 += nt
        }
    }

    /// c (rows x n) = a (rows x k, row stride lda) x b (k x n, packed in strips of 16 or 8).
    @inline(__always)
    static func gemm(
        a: UnsafePointer<Float>, lda: Int, rows: Int, b: UnsafePointer<Float>, k: Int, n: Int,
        c: UnsafeMutablePointer<Float>
    ) {
        var f0 = 0
        while f0 < n {
            let width = ConvGeometry.chunkWidth(f0, n)
            var r = 0
            while r < rows {
                let mr = Swift.min(6, rows - r)
                let p = a + r * lda
                let ptrs = (
                    p, p + (mr > 1 ? lda : 0), p + (mr > 2 ? 2 * lda : 0), p + (mr > 3 ? 3 * lda : 0),
                    p + (mr > 4 ? 4 * lda : 0), p + (mr > 5 ? 5 * lda : 0)
                )
                GemmKernels.rowTile(
                    nv: width / 8, mr: mr, a: ptrs, b: b + f0 * k, ldb: width, count: k,
                    c: c + r * n + f0, ldc: n, initial: GemmKernels.zeros)
                r += mr
            }
            f0 += width
        }
    }

    /// V = B^T d B for tiles t0..<t0+count: v[xi * blockStride(C) + t * C + c].
    static func inputTransform(
        _ g: ConvGeometry, image: UnsafePointer<Float>, t0: Int, count: Int, tilesX: Int,
        v: UnsafeMutablePointer<Float>
    ) {
        let (h, w, c) = (g.height, g.width, g.channels)
        let sv = blockStride(c)
        let zero = SIMD8<Float>(repeating: 0)
        for t in 0..<count {
            let ty = (t0 + t) / tilesX
            let tx = (t0 + t) - (t0 + t) / tilesX * tilesX
            let iy = 2 * ty
            let ix = 2 * tx
            let inside = iy + 3 < h && ix + 3 < w
            var c0 = 0
            while c0 < c {
                @inline(__always) func d(_ r: Int, _ s: Int) -> SIMD8<Float> {
                    if inside || (iy + r < h && ix + s < w) { return load8(image + ((iy + r) * w + ix + s) * c + c0) }
                    return zero
                }
                // Rows: t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3 (per column s).
                var tr = (zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero)
                withUnsafeMutableBytes(of: &tr) { raw in
                    let q = raw.bindMemory(to: SIMD8<Float>.self)
                    for s in 0..<4 {
                        let d0 = d(0, s)
                        let d1 = d(1, s)
                        let d2 = d(2, s)
                        let d3 = d(3, s)
                        q[s] = d0 - d2
                        q[4 + s] = d1 + d2
                        q[8 + s] = d2 - d1
                        q[12 + s] = d1 - d3
                    }
                    let out = v + t * c + c0
                    for r in 0..<4 {
                        let e0 = q[4 * r]
                        let e1 = q[4 * r + 1]
                        let e2 = q[4 * r + 2]
                        let e3 = q[4 * r + 3]
                        store8(e0 - e2, out + (4 * r) * sv)
                        store8(e1 + e2, out + (4 * r + 1) * sv)
                        store8(e2 - e1, out + (4 * r + 2) * sv)
                        store8(e1 - e3, out + (4 * r + 3) * sv)
                    }
                }
                c0 += 8
            }
        }
    }

    /// Y = A^T M A + bias for tiles t0..<t0+count, the region's outputs only.
    static func outputTransform(
        _ g: ConvGeometry, m: UnsafePointer<Float>, t0: Int, count: Int, tilesX: Int, rows: Int, cols: Int,
        bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: UnsafeMutablePointer<Float>?
    ) {
        let f = g.filters
        let sm = blockStride(f)
        let zero = SIMD8<Float>(repeating: 0)
        for t in 0..<count {
            let ty = (t0 + t) / tilesX
            let tx = (t0 + t) - (t0 + t) / tilesX * tilesX
            let oy = 2 * ty
            let ox = 2 * tx
            var f0 = 0
            while f0 < f {
                let src = m + t * f + f0
                @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { load8(src + xi * sm) }
                // Rows: a = m0 + m1 + m2, b = m1 - m2 - m3 (per column s); then the same on columns.
                let a0 = at(0) + at(4) + at(8)
                let a1 = at(1) + at(5) + at(9)
                let a2 = at(2) + at(6) + at(10)
                let a3 = at(3) + at(7) + at(11)
                let b0 = at(4) - at(8) - at(12)
                let b1 = at(5) - at(9) - at(13)
                let b2 = at(6) - at(10) - at(14)
                let b3 = at(7) - at(11) - at(15)
                let bv = load8(bias + f0)
                let out = (a0 + a1 + a2 + bv, a1 - a2 - a3 + bv, b0 + b1 + b2 + bv, b1 - b2 - b3 + bv)
                @inline(__always) func put(_ val: SIMD8<Float>, _ dy: Int, _ dx: Int) {
                    guard oy + dy < rows, ox + dx < cols else { return }
                    let o = ((oy + dy) * cols + ox + dx) * f + f0
                    if let y { store8(val, y + o) }
                    if let relu { store8(zero.replacing(with: val, where: val .> zero), relu + o) }
                }
                put(out.0, 0, 0)
                put(out.1, 0, 1)
                put(out.2, 1, 0)
                put(out.3, 1, 1)
                f0 += 8
            }
        }
    }

    // MARK: - Backward

    /// One image's share of the backward pass: dU += V^T Yh (the dW accumulator, see `finishWeights`) and,
    /// if `dX`, dX (the image, overwritten) from Yh and `ut` (from `transformFiltersTransposed`). `dY` is the
    /// output gradient restricted to the region (oy < rows, ox < cols), compact; outside it dY = 0.
    public static func backward(
        _ g: ConvGeometry, image: UnsafePointer<Float>, dY: UnsafePointer<Float>, rows: Int, cols: Int,
        du: UnsafeMutablePointer<Float>, ut: UnsafePointer<Float>?, dX: UnsafeMutablePointer<Float>?,
        work: UnsafeMutablePointer<Float>
    ) {
        precondition(supports(g) && rows <= g.outHeight && cols <= g.outWidth)
        let (c, f) = (g.channels, g.filters)
        let tilesX = (cols + 1) / 2
        let tiles = (rows + 1) / 2 * tilesX
        let (sv, sy) = (blockStride(c), blockStride(f))
        let v = work
        let yh = work + 16 * sv
        let dv = yh + 16 * sy
        if let dX { dX.update(repeating: 0, count: g.height * g.width * c) }
        var t0 = 0
        while t0 < tiles {
            let nt = Swift.min(chunk, tiles - t0)
            inputTransform(g, image: image, t0: t0, count: nt, tilesX: tilesX, v: v)
            gradientTransform(g, dY: dY, t0: t0, count: nt, tilesX: tilesX, rows: rows, cols: cols, yh: yh)
            for xi in 0..<16 {
                // dU[xi] (C x F) += V[xi]^T Yh[xi], tiles in order.
                let a = UnsafePointer(v + xi * sv)
                let b = UnsafePointer(yh + xi * sy)
                let out = du + xi * c * f
                var c0 = 0
                while c0 < c {
                    let mr = Swift.min(6, c - c0)
                    var f0 = 0
                    while f0 < f {
                        let width = ConvGeometry.chunkWidth(f0, f)
                        GemmKernels.outerTile(
                            nv: width / 8, mr: mr, a: a + c0, lda: c, b: b + f0, ldb: f, count: nt,
                            c: out + c0 * f + f0, ldc: f)
                        f0 += width
                    }
                    c0 += mr
                }
            }
            if let dX, let ut {
                for xi in 0..<16 {
                    gemm(a: UnsafePointer(yh + xi * sy), lda: f, rows: nt, b: ut + xi * c * f, k: f, n: c, c: dv + xi * sv)
                }
                inputGradientTransform(g, dv: UnsafePointer(dv), t0: t0, count: nt, tilesX: tilesX, dX: dX)
            }
            t0 += nt
        }
    }

    /// Yh = A dY A^T (4x4 from each 2x2 tile of dY, zero outside the region): yh[xi * blockStride(F) + t * F + f].
    static func gradientTransform(
        _ g: ConvGeometry, dY: UnsafePointer<Float>, t0: Int, count: Int, tilesX: Int, rows: Int, cols: Int,
        yh: UnsafeMutablePointer<Float>
    ) {
        let f = g.filters
        let sy = blockStride(f)
        let zero = SIMD8<Float>(repeating: 0)
        for t in 0..<count {
            let ty = (t0 + t) / tilesX
            let tx = (t0 + t) - (t0 + t) / tilesX * tilesX
            let oy = 2 * ty
            let ox = 2 * tx
            let right = ox + 1 < cols
            let below = oy + 1 < rows
            var f0 = 0
            while f0 < f {
                let p = dY + (oy * cols + ox) * f + f0
                let y00 = load8(p)
                let y01 = right ? load8(p + f) : zero
                let y10 = below ? load8(p + cols * f) : zero
                let y11 = right && below ? load8(p + cols * f + f) : zero
                // Rows of A dY: (y0), (y0 + y1), (y0 - y1), (-y1); then the same on columns.
                let r = ((y00, y01), (y00 + y10, y01 + y11), (y00 - y10, y01 - y11), (zero - y10, zero - y11))
                let out = yh + t * f + f0
                @inline(__always) func put(_ row: Int, _ e: (SIMD8<Float>, SIMD8<Float>)) {
                    store8(e.0, out + (4 * row) * sy)
                    store8(e.0 + e.1, out + (4 * row + 1) * sy)
                    store8(e.0 - e.1, out + (4 * row + 2) * sy)
                    store8(zero - e.1, out + (4 * row + 3) * sy)
                }
                put(0, r.0)
                put(1, r.1)
                put(2, r.2)
                put(3, r.3)
                f0 += 8
            }
        }
    }

    /// dX += B dV B^T for tiles t0..<t0+count (4x4 input blocks, overlapping, added in tile order).
    static func inputGradientTransform(
        _ g: ConvGeometry, dv: UnsafePointer<Float>, t0: Int, count: Int, tilesX: Int,
        dX: UnsafeMutablePointer<Float>
    ) {
        let (h, w, c) = (g.height, g.width, g.channels)
        let sv = blockStride(c)
        let zero = SIMD8<Float>(repeating: 0)
        for t in 0..<count {
            let ty = (t0 + t) / tilesX
            let tx = (t0 + t) - (t0 + t) / tilesX * tilesX
            let iy = 2 * ty
            let ix = 2 * tx
            var c0 = 0
            while c0 < c {
                let src = dv + t * c + c0
                @inline(__always) func at(_ xi: Int) -> SIMD8<Float> { load8(src + xi * sv) }
                // B = [[1, 0, 0, 0], [0, 1, -1, 1], [-1, 1, 1, 0], [0, 0, 0, -1]]: rows, then columns.
                var q = (zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero)
                withUnsafeMutableBytes(of: &q) { raw in
                    let e = raw.bindMemory(to: SIMD8<Float>.self)
                    for s in 0..<4 {
                        let m0 = at(s)
                        let m1 = at(4 + s)
                        let m2 = at(8 + s)
                        let m3 = at(12 + s)
                        e[s] = m0
                        e[4 + s] = m1 - m2 + m3
                        e[8 + s] = m1 + m2 - m0
                        e[12 + s] = zero - m3
                    }
                    for r in 0..<4 where iy + r < h {
                        let m0 = e[4 * r]
                        let m1 = e[4 * r + 1]
                        let m2 = e[4 * r + 2]
                        let m3 = e[4 * r + 3]
                        let row = (m0, m1 - m2 + m3, m1 + m2 - m0, zero - m3)
                        let base = dX + ((iy + r) * w + ix) * c + c0
                        store8(load8(base) + row.0, base)
                        if ix + 1 < w { store8(load8(base + c) + row.1, base + c) }
                        if ix + 2 < w { store8(load8(base + 2 * c) + row.2, base + 2 * c) }
                        if ix + 3 < w { store8(load8(base + 3 * c) + row.3, base + 3 * c) }
                    }
                }
                c0 += 8
            }
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
