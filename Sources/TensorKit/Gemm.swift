// Row-major SGEMM whose bits never depend on the CPU: every element of C is one fused multiply-add
// chain over p = 0, 1, ..., k-1, started from C (accumulate) or 0. Tiling, vector width and loop
// order only decide which chains run side by side, never the order inside one, so the result equals
// the naive scalar loop bit for bit on any machine with IEEE FMA (see docs/NUMERICS.md).

/// Deterministic matrix products for the training path (dense layers, im2col convolution).
/// OpenBLAS picks kernels per CPU at run time, and its sums differ between them; these do not.
public enum Gemm {
    /// k is walked in slices of this many so that a B panel stays in L1 across the row tiles; each
    /// slice continues the chains stored in C, which keeps the per-element order.
    static let kSlice = 512
    /// Floats of the buffer that short-k products (A stored transposed) copy blocks of A into.
    static let packedFloats = 2048

    /// C (m, n) = [C if `accumulate`, else 0] + op(A) (m, k) x op(B) (k, n), row-major.
    /// - `transA`: A is stored (k, m). `transB`: B is stored (n, k); C is then computed as B op(A)^T tile by tile
    ///   (A's rows packed transposed, 16 at a time, on the stack) and stored transposed.
    /// - `lda`, `ldb`, `ldc` default to the packed row lengths.
    public static func multiply(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>, ldb: Int? = nil,
        accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0)
        precondition(!(transA && transB), "Gemm: transA and transB together are not used on the training path")
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        if transB {
            transposedProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        } else if transA {
            outerProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        } else {
            rowProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        }
    }

    /// The definition, one scalar chain per element (tests compare every path with it bit for bit).
    public static func reference(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>, ldb: Int? = nil,
        accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k {
                    let x = transA ? a[p * lda + i] : a[i * lda + p]
                    let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                    acc = acc.addingProduct(x, y)
                }
                c[i * ldc + j] = acc
            }
        }
    }

    // MARK: - A (m, k) x B (k, n): vectors across the columns of C

    static func rowProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard n >= 8 else {
            return narrowRowProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        }
        // k slices outermost: a slice of A (m x kSlice) stays in cache across every column panel, B is read once.
        var p0 = 0
        while p0 < k {
            let count = min(kSlice, k - p0)
            let initial: UnsafePointer<Float>? = (p0 == 0 && !accumulate) ? GemmKernels.zeros : nil
            if n >= 16 { touch(b + p0 * ldb, rows: count, columns: n, ld: ldb) }
            var j = 0
            while j < n {
                let w = panelWidth(n - j)
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    GemmKernels.rowTileAt(
                        nv: w > 8 ? 2 : 1, mr: mr, a: rows(a + i * lda + p0, lda, mr), b: b + p0 * ldb + j, b2: w - 8,
                        ldb: ldb, count: count, c: c + i * ldc + j, c2: w - 8, ldc: ldc, initial: initial)
                    i += mr
                }
                j += w
            }
            p0 += count
        }
    }

    /// n < 8: B's columns copied into a zero-padded 8-wide panel, C's into an 8-wide tile (the padding lanes
    /// compute zeros that are never stored).
    static func narrowRowProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let width = n
        withScratch { panel, tile, _ in
            var p0 = 0
            while p0 < k {
                let count = min(kSlice, k - p0)
                pack(b + p0 * ldb, ld: ldb, rows: count, width: width, into: panel)
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    let fresh = p0 == 0 && !accumulate
                    if !fresh { gather(c + i * ldc, ldc: ldc, rows: mr, width: width, transposed: false, into: tile) }
                    GemmKernels.rowTileAt(
                        nv: 1, mr: mr, a: rows(a + i * lda + p0, lda, mr), b: panel, b2: 8, ldb: 8, count: count,
                        c: tile, c2: 8, ldc: 8, initial: fresh ? GemmKernels.zeros : nil)
                    scatter(tile, to: c + i * ldc, ldc: ldc, rows: mr, width: width, transposed: false)
                    i += mr
                }
                p0 += count
            }
        }
    }

    // MARK: - A stored (k, m): C row i += sum_p A[p, i] B row p

    static func outerProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard n >= 8 else {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return narrowOuterProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        }
        // k is never sliced here, so a product that does not accumulate starts its chains from 0 in registers
        // and never reads C (a dense layer's dW is written once instead of zeroed, read and written).
        // Row tiles outermost: each row of C is finished across all its columns while its lines are in cache.
        // For a short k and an lda that is a multiple of 256 floats, blocks of A's columns are first copied into a small
        // contiguous buffer: read in place, the k rows of a tile sit lda apart, and with lda a multiple of 1024 floats
        // they share one L1 set. Other strides are read in place (the copy cost keras-example's 1600 x 10 dW a fifth).
        let block = lda % 256 == 0 ? min(96, packedFloats / max(k, 1) / 6 * 6) : 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: packedFloats) { buffer in
            var i0 = 0
            while i0 < m {
                let width = block >= 6 ? min(block, m - i0) : m - i0
                var source = a + i0
                var ld = lda
                if block >= 6 {
                    for p in 0..<k { (buffer.baseAddress! + p * width).update(from: a + p * lda + i0, count: width) }
                    (source, ld) = (UnsafePointer(buffer.baseAddress!), width)
                }
                var i = 0
                while i < width {
                    let mr = min(6, width - i)
                    var j = 0
                    while j < n {
                        let w = panelWidth(n - j)
                        GemmKernels.outerTileAt(
                            nv: w > 8 ? 2 : 1, mr: mr, a: source + i, lda: ld, b: b + j, b2: w - 8, ldb: ldb, count: k,
                            c: c + (i0 + i) * ldc + j, c2: w - 8, ldc: ldc, fresh: !accumulate)
                        j += w
                    }
                    i += mr
                }
                i0 += width
            }
        }
    }

    /// n < 8: B's columns in a zero-padded 8-wide panel, C's gathered into an 8-wide tile.
    static func narrowOuterProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let width = n
        withScratch { panel, tile, _ in
            var p0 = 0
            while p0 < k {
                let count = min(kSlice, k - p0)
                pack(b + p0 * ldb, ld: ldb, rows: count, width: width, into: panel)
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    gather(c + i * ldc, ldc: ldc, rows: mr, width: width, transposed: false, into: tile)
                    GemmKernels.outerTileAt(
                        nv: 1, mr: mr, a: a + p0 * lda + i, lda: lda, b: panel, b2: 8, ldb: 8, count: count,
                        c: tile, c2: 8, ldc: 8, fresh: false)
                    scatter(tile, to: c + i * ldc, ldc: ldc, rows: mr, width: width, transposed: false)
                    i += mr
                }
                p0 += count
            }
        }
    }

    // MARK: - B stored (n, k): C^T (n, m) = B x A^T, stored transposed

    /// Rows of A packed per k slice (panel of kSlice x 8 floats viewed as rows of 16).
    static let transposedSlice = kSlice * 8 / 16

    static func transposedProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if n >= 8 && k <= shortK {
            return shortTransposedProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        }
        withScratch { panel, tile, strip in
            var i = 0  // columns of C^T (rows of C)
            while i < m {
                // 16 or 8 rows of A at a time, packed transposed (k slice x 16, zero-padded past the last row).
                let width = m - i >= 16 ? 16 : (m - i >= 8 ? 8 : m - i)
                let nv = width == 16 ? 2 : 1
                var p0 = 0
                while p0 < k {
                    let count = min(transposedSlice, k - p0)
                    for p in 0..<count {
                        let dst = panel + p * 16
                        for q in 0..<16 { dst[q] = q < width ? a[(i + q) * lda + p0 + p] : 0 }
                    }
                    let fresh = p0 == 0 && !accumulate
                    // Columns of C in strips of `stripColumns`: tiles land in a small row-major strip, whose rows are
                    // then written to C whole (C's rows sit ldc apart, often in one L1 set: scattered writes thrash).
                    var j0 = 0
                    while j0 < n {
                        let columns = min(stripColumns, n - j0)
                        if !fresh { for q in 0..<width { (strip + q * stripColumns).update(from: c + (i + q) * ldc + j0, count: columns) } }
                        var j = j0  // rows of C^T (columns of C)
                        while j < j0 + columns {
                            let mr = min(6, j0 + columns - j)
                            let at0 = strip + (j - j0)
                            if !fresh { gather(at0, ldc: stripColumns, rows: mr, width: width, transposed: true, into: tile) }
                            GemmKernels.rowTileAt(
                                nv: nv, mr: mr, a: rows(b + j * ldb + p0, ldb, mr), b: panel, b2: 8, ldb: 16, count: count,
                                c: tile, c2: 8, ldc: 16, initial: fresh ? GemmKernels.zeros : nil)
                            scatter(tile, to: at0, ldc: stripColumns, rows: mr, width: width, transposed: true)
                            j += mr
                        }
                        for q in 0..<width { (c + (i + q) * ldc + j0).update(from: strip + q * stripColumns, count: columns) }
                        j0 += columns
                    }
                    p0 += count
                }
                i += width
            }
        }
    }

    /// Products with B stored (n, k) whose k is at most this take `shortTransposedProduct`.
    static let shortK = 32

    /// B stored (n, k) with a short k: B's rows packed transposed, one column panel of C (16, 8 or 9-15 wide) at a time,
    /// and C computed row-major like `rowProduct` (no transposed stores). Packing costs n k copies, the transposed
    /// stores it avoids m n: the better choice when k is small against m.
    static func shortTransposedProduct(
        m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        withScratch { panel, _, _ in
            let initial: UnsafePointer<Float>? = accumulate ? nil : GemmKernels.zeros
            var j = 0
            while j < n {
                let w = panelWidth(n - j)
                // panel[p * 16 + q] = B[j + q, p] for q < 8, and B[j + w - 8 + q - 8, p] for q >= 8 (the second vector).
                for q in 0..<(w > 8 ? 16 : 8) {
                    let src = b + (q < 8 ? j + q : j + w - 16 + q) * ldb
                    for p in 0..<k { panel[p &* 16 &+ q] = src[p] }
                }
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    GemmKernels.rowTileAt(
                        nv: w > 8 ? 2 : 1, mr: mr, a: rows(a + i * lda, lda, mr), b: panel, b2: 8, ldb: 16, count: k,
                        c: c + i * ldc + j, c2: w - 8, ldc: ldc, initial: initial)
                    i += mr
                }
                j += w
            }
        }
    }

    /// The width of the next column panel when `remaining` >= 8 columns are left: 16 or 8 (two or one vectors), or
    /// 9 to 15 (two vectors overlapping), never leaving fewer than 8 columns for the last panel.
    @inline(__always)
    static func panelWidth(_ remaining: Int) -> Int {
        remaining >= 24 || remaining == 16 ? 16 : (remaining > 16 ? 8 : remaining)
    }

    // MARK: - Helpers

    /// Reads one float per cache line of a rows x columns block in memory order, so that a B slice arrives in
    /// cache by sequential (prefetch-friendly) reads before the column panels walk it with a large stride:
    /// a dense layer's 4.7 MB weight matrix, cold, took 2.1 ms (16 x 9216 x 128) without this and 1.5 ms with it.
    @inline(never)
    static func touch(_ p: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int) {
        var s: Float = 0
        for r in 0..<rows {
            let row = p + r * ld
            var q = 0
            while q < columns {
                s += row[q]
                q += 16
            }
        }
        consume(s)
    }

    /// Keeps `touch`'s loads from being optimised away.
    @_optimize(none)
    static func consume(_ value: Float) {}

    /// Row pointers r, r + ld, ... for an mr-row tile (unused entries repeat the first row).
    @inline(__always)
    static func rows(_ r: UnsafePointer<Float>, _ ld: Int, _ mr: Int) -> GemmKernels.Ptr6 {
        (
            r, r + (mr > 1 ? ld : 0), r + (mr > 2 ? 2 * ld : 0), r + (mr > 3 ? 3 * ld : 0), r + (mr > 4 ? 4 * ld : 0),
            r + (mr > 5 ? 5 * ld : 0)
        )
    }

    /// Columns of C per strip in the transposed-B product.
    static let stripColumns = 96

    /// A panel of kSlice x 8 floats, a tile of 6 x 16 and a strip of 16 x stripColumns, on the stack.
    @inline(__always)
    static func withScratch(_ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: kSlice * 8 + 96 + 16 * stripColumns) { buffer in
            body(buffer.baseAddress!, buffer.baseAddress! + kSlice * 8, buffer.baseAddress! + kSlice * 8 + 96)
        }
    }

    /// `rows` x `width` (< 8) values at src (row stride `ld`) into an 8-wide panel, zero-padded.
    @inline(__always)
    static func pack(_ src: UnsafePointer<Float>, ld: Int, rows: Int, width: Int, into panel: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let dst = panel + r * 8
            for q in 0..<8 { dst[q] = q < width ? src[r * ld + q] : 0 }
        }
    }

    /// A tile (`rows` x `width`, row stride 16 when transposed, else 8) from C: C[r, q] or, transposed, C[q, r].
    @inline(__always)
    static func gather(_ c: UnsafePointer<Float>, ldc: Int, rows: Int, width: Int, transposed: Bool, into tile: UnsafeMutablePointer<Float>)
    {
        let stride = transposed ? 16 : 8
        for r in 0..<rows {
            for q in 0..<stride { tile[r * stride + q] = q < width ? (transposed ? c[q * ldc + r] : c[r * ldc + q]) : 0 }
        }
    }

    /// The inverse of `gather` for the `width` valid columns.
    @inline(__always)
    static func scatter(_ tile: UnsafePointer<Float>, to c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, width: Int, transposed: Bool)
    {
        let stride = transposed ? 16 : 8
        for r in 0..<rows {
            for q in 0..<width {
                if transposed { c[q * ldc + r] = tile[r * stride + q] } else { c[r * ldc + q] = tile[r * stride + q] }
            }
        }
    }
}
