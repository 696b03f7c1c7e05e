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
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            outerProduct(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
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

    static func rowProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                           accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        // k slices outermost: a slice of A (m x kSlice) stays in cache across every column panel, B is read once.
        let vectorColumns = n / 8 * 8
        var p0 = 0
        while p0 < k {
            let count = min(kSlice, k - p0)
            let initial: UnsafePointer<Float>? = (p0 == 0 && !accumulate) ? GemmKernels.zeros : nil
            if vectorColumns >= 16 { touch(b + p0 * ldb, rows: count, columns: n, ld: ldb) }
            var j = 0
            while j < vectorColumns {
                let nv = j + 16 <= n ? 2 : 1
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    GemmKernels.rowTile(nv: nv, mr: mr, a: rows(a + i * lda + p0, lda, mr), b: b + p0 * ldb + j, ldb: ldb,
                                        count: count, c: c + i * ldc + j, ldc: ldc, initial: initial)
                    i += mr
                }
                j += 8 * nv
            }
            p0 += count
        }
        let j = vectorColumns
        guard j < n else { return }
        // The last n % 8 columns: B's columns copied into a zero-padded 8-wide panel, C's into an 8-wide tile
        // (the padding lanes compute zeros that are never stored).
        let width = n - j
        withScratch { panel, tile, _ in
            var p0 = 0
            while p0 < k {
                let count = min(kSlice, k - p0)
                pack(b + p0 * ldb + j, ld: ldb, rows: count, width: width, into: panel)
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    let fresh = p0 == 0 && !accumulate
                    if !fresh { gather(c + i * ldc + j, ldc: ldc, rows: mr, width: width, transposed: false, into: tile) }
                    GemmKernels.rowTile(nv: 1, mr: mr, a: rows(a + i * lda + p0, lda, mr), b: panel, ldb: 8, count: count,
                                        c: tile, ldc: 8, initial: fresh ? GemmKernels.zeros : nil)
                    scatter(tile, to: c + i * ldc + j, ldc: ldc, rows: mr, width: width, transposed: false)
                    i += mr
                }
                p0 += count
            }
        }
    }

    // MARK: - A stored (k, m): C row i += sum_p A[p, i] B row p

    static func outerProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        // Row tiles outermost: each row of C is finished across all its columns while its lines are in cache.
        // For a short k, blocks of A's columns are first copied into a small contiguous buffer: read in place,
        // the k rows of a tile sit lda apart, and with lda a multiple of 1024 floats they share one L1 set.
        let vectorColumns = n / 8 * 8
        let block = min(96, packedFloats / max(k, 1) / 6 * 6)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: packedFloats) { buffer in
            var i0 = 0
            while i0 < m {
                let width = block >= 6 ? min(block, m - i0) : m - i0
                var source = a + i0, ld = lda
                if block >= 6 {
                    for p in 0..<k { (buffer.baseAddress! + p * width).update(from: a + p * lda + i0, count: width) }
                    (source, ld) = (UnsafePointer(buffer.baseAddress!), width)
                }
                var i = 0
                while i < width {
                    let mr = min(6, width - i)
                    var j = 0
                    while j < vectorColumns {
                        let nv = j + 16 <= n ? 2 : 1
                        GemmKernels.outerTile(nv: nv, mr: mr, a: source + i, lda: ld, b: b + j, ldb: ldb, count: k,
                                              c: c + (i0 + i) * ldc + j, ldc: ldc)
                        j += 8 * nv
                    }
                    i += mr
                }
                i0 += width
            }
        }
        let j = vectorColumns
        guard j < n else { return }
        let width = n - j
        withScratch { panel, tile, _ in
            var p0 = 0
            while p0 < k {
                let count = min(kSlice, k - p0)
                pack(b + p0 * ldb + j, ld: ldb, rows: count, width: width, into: panel)
                var i = 0
                while i < m {
                    let mr = min(6, m - i)
                    gather(c + i * ldc + j, ldc: ldc, rows: mr, width: width, transposed: false, into: tile)
                    GemmKernels.outerTile(nv: 1, mr: mr, a: a + p0 * lda + i, lda: lda, b: panel, ldb: 8, count: count, c: tile, ldc: 8)
                    scatter(tile, to: c + i * ldc + j, ldc: ldc, rows: mr, width: width, transposed: false)
                    i += mr
                }
                p0 += count
            }
        }
    }

    // MARK: - B stored (n, k): C^T (n, m) = B x A^T, stored transposed

    /// Rows of A packed per k slice (panel of kSlice x 8 floats viewed as rows of 16).
    static let transposedSlice = kSlice * 8 / 16

    static func transposedProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                  accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
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
                            GemmKernels.rowTile(nv: nv, mr: mr, a: rows(b + j * ldb + p0, ldb, mr), b: panel, ldb: 16, count: count,
                                                c: tile, ldc: 16, initial: fresh ? GemmKernels.zeros : nil)
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
            while q < columns { s += row[q]; q += 16 }
        }
        consume(s)
    }

    /// Keeps `touch`'s loads from being optimised away.
    @_optimize(none)
    static func consume(_ value: Float) {}

    /// Row pointers r, r + ld, ... for an mr-row tile (unused entries repeat the first row).
    @inline(__always)
    static func rows(_ r: UnsafePointer<Float>, _ ld: Int, _ mr: Int) -> GemmKernels.Ptr6 {
        (r, r + (mr > 1 ? ld : 0), r + (mr > 2 ? 2 * ld : 0), r + (mr > 3 ? 3 * ld : 0), r + (mr > 4 ? 4 * ld : 0), r + (mr > 5 ? 5 * ld : 0))
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
    static func gather(_ c: UnsafePointer<Float>, ldc: Int, rows: Int, width: Int, transposed: Bool, into tile: UnsafeMutablePointer<Float>) {
        let stride = transposed ? 16 : 8
        for r in 0..<rows {
            for q in 0..<stride { tile[r * stride + q] = q < width ? (transposed ? c[q * ldc + r] : c[r * ldc + q]) : 0 }
        }
    }

    /// The inverse of `gather` for the `width` valid columns.
    @inline(__always)
    static func scatter(_ tile: UnsafePointer<Float>, to c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, width: Int, transposed: Bool) {
        let stride = transposed ? 16 : 8
        for r in 0..<rows {
            for q in 0..<width {
                if transposed { c[q * ldc + r] = tile[r * stride + q] } else { c[r * ldc + q] = tile[r * stride + q] }
            }
        }
    }
}
