// Register-blocked GEMM micro-kernels in plain Swift SIMD (AVX2 + FMA when built for x86-64-v3), used by
// the Winograd convolution's batched GEMMs (`rowTile`, `outerTile`) and by `Gemm` (`rowTileAt`, `outerTileAt`).
// Each keeps an mr x (8 * nv) tile of C in registers (mr <= 6, nv <= 2) and sums in a fixed order, so results
// are bitwise reproducible.

/// Register-blocked micro-kernels: an mr x (8 * nv) tile of C, mr <= 6, nv <= 2.
enum GemmKernels {
    typealias Ptr6 = (
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>
    )

    /// Sixteen zeros, an `initial` row for tiles that start from 0.
    nonisolated(unsafe) static let zeros: UnsafePointer<Float> = {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        p.initialize(repeating: 0, count: 16)
        return UnsafePointer(p)
    }()

    @inline(__always)
    static func rowTile(
        nv: Int, mr: Int, a: Ptr6, b: UnsafePointer<Float>, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, initial: UnsafePointer<Float>?
    ) {
        if nv == 2 {
            switch mr {
            case 6: rowKernel(nv: 2, mr: 6, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 5: rowKernel(nv: 2, mr: 5, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 4: rowKernel(nv: 2, mr: 4, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 3: rowKernel(nv: 2, mr: 3, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 2: rowKernel(nv: 2, mr: 2, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            default: rowKernel(nv: 2, mr: 1, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            }
        } else {
            switch mr {
            case 6: rowKernel(nv: 1, mr: 6, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 5: rowKernel(nv: 1, mr: 5, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 4: rowKernel(nv: 1, mr: 4, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 3: rowKernel(nv: 1, mr: 3, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            case 2: rowKernel(nv: 1, mr: 2, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            default: rowKernel(nv: 1, mr: 1, a: a, b: b, ldb: ldb, count: count, c: c, ldc: ldc, initial: initial)
            }
        }
    }

    /// C row i = (initial, or C row i if nil) + sum over t < count of a_i[t] * B row t.
    @inline(__always)
    static func rowKernel(
        nv: Int, mr: Int, a: Ptr6, b: UnsafePointer<Float>, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, initial: UnsafePointer<Float>?
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
        if let initial {
            let ia = load8(initial)
            let ib = nv > 1 ? load8(initial + 8) : z
            c0a = ia
            c1a = ia
            c2a = ia
            c3a = ia
            c4a = ia
            c5a = ia
            c0b = ib
            c1b = ib
            c2b = ib
            c3b = ib
            c4b = ib
            c5b = ib
        } else {
            c0a = load8(c)
            if nv > 1 { c0b = load8(c + 8) }
            if mr > 1 {
                c1a = load8(c + ldc)
                if nv > 1 { c1b = load8(c + ldc + 8) }
            }
            if mr > 2 {
                c2a = load8(c + 2 &* ldc)
                if nv > 1 { c2b = load8(c + 2 &* ldc + 8) }
            }
            if mr > 3 {
                c3a = load8(c + 3 &* ldc)
                if nv > 1 { c3b = load8(c + 3 &* ldc + 8) }
            }
            if mr > 4 {
                c4a = load8(c + 4 &* ldc)
                if nv > 1 { c4b = load8(c + 4 &* ldc + 8) }
            }
            if mr > 5 {
                c5a = load8(c + 5 &* ldc)
                if nv > 1 { c5b = load8(c + 5 &* ldc + 8) }
            }
        }
        var bp = b
        for t in 0..<count {
            let ba = load8(bp)
            let bb = nv > 1 ? load8(bp + 8) : z
            var s = SIMD8<Float>(repeating: a.0[t])
            c0a = c0a.addingProduct(s, ba)
            if nv > 1 { c0b = c0b.addingProduct(s, bb) }
            if mr > 1 {
                s = SIMD8(repeating: a.1[t])
                c1a = c1a.addingProduct(s, ba)
                if nv > 1 { c1b = c1b.addingProduct(s, bb) }
            }
            if mr > 2 {
                s = SIMD8(repeating: a.2[t])
                c2a = c2a.addingProduct(s, ba)
                if nv > 1 { c2b = c2b.addingProduct(s, bb) }
            }
            if mr > 3 {
                s = SIMD8(repeating: a.3[t])
                c3a = c3a.addingProduct(s, ba)
                if nv > 1 { c3b = c3b.addingProduct(s, bb) }
            }
            if mr > 4 {
                s = SIMD8(repeating: a.4[t])
                c4a = c4a.addingProduct(s, ba)
                if nv > 1 { c4b = c4b.addingProduct(s, bb) }
            }
            if mr > 5 {
                s = SIMD8(repeating: a.5[t])
                c5a = c5a.addingProduct(s, ba)
                if nv > 1 { c5b = c5b.addingProduct(s, bb) }
            }
            bp += ldb
        }
        store8(c0a, c)
        if nv > 1 { store8(c0b, c + 8) }
        if mr > 1 {
            store8(c1a, c + ldc)
            if nv > 1 { store8(c1b, c + ldc + 8) }
        }
        if mr > 2 {
            store8(c2a, c + 2 &* ldc)
            if nv > 1 { store8(c2b, c + 2 &* ldc + 8) }
        }
        if mr > 3 {
            store8(c3a, c + 3 &* ldc)
            if nv > 1 { store8(c3b, c + 3 &* ldc + 8) }
        }
        if mr > 4 {
            store8(c4a, c + 4 &* ldc)
            if nv > 1 { store8(c4b, c + 4 &* ldc + 8) }
        }
        if mr > 5 {
            store8(c5a, c + 5 &* ldc)
            if nv > 1 { store8(c5b, c + 5 &* ldc + 8) }
        }
    }

    @inline(__always)
    static func outerTile(
        nv: Int, mr: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if nv == 2 {
            switch mr {
            case 6: outerKernel(nv: 2, mr: 6, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 5: outerKernel(nv: 2, mr: 5, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 4: outerKernel(nv: 2, mr: 4, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 3: outerKernel(nv: 2, mr: 3, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 2: outerKernel(nv: 2, mr: 2, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            default: outerKernel(nv: 2, mr: 1, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            }
        } else {
            switch mr {
            case 6: outerKernel(nv: 1, mr: 6, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 5: outerKernel(nv: 1, mr: 5, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 4: outerKernel(nv: 1, mr: 4, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 3: outerKernel(nv: 1, mr: 3, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            case 2: outerKernel(nv: 1, mr: 2, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            default: outerKernel(nv: 1, mr: 1, a: a, lda: lda, b: b, ldb: ldb, count: count, c: c, ldc: ldc)
            }
        }
    }

    /// C row i += sum over t < count of a[t * lda + i] * B row t (t ascending).
    @inline(__always)
    static func outerKernel(
        nv: Int, mr: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let z = SIMD8<Float>(repeating: 0)
        var c0a = load8(c)
        var c0b = nv > 1 ? load8(c + 8) : z
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
            c1a = load8(c + ldc)
            if nv > 1 { c1b = load8(c + ldc + 8) }
        }
        if mr > 2 {
            c2a = load8(c + 2 &* ldc)
            if nv > 1 { c2b = load8(c + 2 &* ldc + 8) }
        }
        if mr > 3 {
            c3a = load8(c + 3 &* ldc)
            if nv > 1 { c3b = load8(c + 3 &* ldc + 8) }
        }
        if mr > 4 {
            c4a = load8(c + 4 &* ldc)
            if nv > 1 { c4b = load8(c + 4 &* ldc + 8) }
        }
        if mr > 5 {
            c5a = load8(c + 5 &* ldc)
            if nv > 1 { c5b = load8(c + 5 &* ldc + 8) }
        }
        var p = a
        var bp = b
        for _ in 0..<count {
            let ba = load8(bp)
            let bb = nv > 1 ? load8(bp + 8) : z
            var s = SIMD8<Float>(repeating: p[0])
            c0a = c0a.addingProduct(s, ba)
            if nv > 1 { c0b = c0b.addingProduct(s, bb) }
            if mr > 1 {
                s = SIMD8(repeating: p[1])
                c1a = c1a.addingProduct(s, ba)
                if nv > 1 { c1b = c1b.addingProduct(s, bb) }
            }
            if mr > 2 {
                s = SIMD8(repeating: p[2])
                c2a = c2a.addingProduct(s, ba)
                if nv > 1 { c2b = c2b.addingProduct(s, bb) }
            }
            if mr > 3 {
                s = SIMD8(repeating: p[3])
                c3a = c3a.addingProduct(s, ba)
                if nv > 1 { c3b = c3b.addingProduct(s, bb) }
            }
            if mr > 4 {
                s = SIMD8(repeating: p[4])
                c4a = c4a.addingProduct(s, ba)
                if nv > 1 { c4b = c4b.addingProduct(s, bb) }
            }
            if mr > 5 {
                s = SIMD8(repeating: p[5])
                c5a = c5a.addingProduct(s, ba)
                if nv > 1 { c5b = c5b.addingProduct(s, bb) }
            }
            p += lda
            bp += ldb
        }
        store8(c0a, c)
        if nv > 1 { store8(c0b, c + 8) }
        if mr > 1 {
            store8(c1a, c + ldc)
            if nv > 1 { store8(c1b, c + ldc + 8) }
        }
        if mr > 2 {
            store8(c2a, c + 2 &* ldc)
            if nv > 1 { store8(c2b, c + 2 &* ldc + 8) }
        }
        if mr > 3 {
            store8(c3a, c + 3 &* ldc)
            if nv > 1 { store8(c3b, c + 3 &* ldc + 8) }
        }
        if mr > 4 {
            store8(c4a, c + 4 &* ldc)
            if nv > 1 { store8(c4b, c + 4 &* ldc + 8) }
        }
        if mr > 5 {
            store8(c5a, c + 5 &* ldc)
            if nv > 1 { store8(c5b, c + 5 &* ldc + 8) }
        }
    }

    // MARK: - Gemm's kernels: the second vector of a tile at any offset

    // `Gemm` covers a column tail of 9 to 15 with two 8-wide vectors that overlap (offset `w - 8` < 8): the
    // columns both compute are the same chain (same operands, same order) and get the same bits, stored twice.
    // Both vectors load C before either stores, so an accumulated C is never read after it was written.
    // These are separate from `rowTile`/`outerTile` so that the Winograd kernels' code is what it was. Each is one
    // function (not inlined) whose switch inlines a kernel specialised for every (nv, mr): called through
    // `rowTile` from `Gemm`, the compiler had kept one generic `rowKernel` testing nv and mr inside its loop and
    // spilling accumulators to the stack (the transposed-B product ran at about 60% of OpenBLAS's speed).

    /// `rowKernel` with the second vector of B at b + b2 and of C at c + c2 (8 and 8 for a plain 16-wide tile).
    @inline(never)
    static func rowTileAt(
        nv: Int, mr: Int, a: Ptr6, b: UnsafePointer<Float>, b2: Int, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, c2: Int, ldc: Int, initial: UnsafePointer<Float>?
    ) {
        if nv == 2 {
            switch mr {
            case 6: rowKernelAt(nv: 2, mr: 6, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 5: rowKernelAt(nv: 2, mr: 5, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 4: rowKernelAt(nv: 2, mr: 4, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 3: rowKernelAt(nv: 2, mr: 3, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 2: rowKernelAt(nv: 2, mr: 2, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            default: rowKernelAt(nv: 2, mr: 1, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            }
        } else {
            switch mr {
            case 6: rowKernelAt(nv: 1, mr: 6, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 5: rowKernelAt(nv: 1, mr: 5, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 4: rowKernelAt(nv: 1, mr: 4, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 3: rowKernelAt(nv: 1, mr: 3, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            case 2: rowKernelAt(nv: 1, mr: 2, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            default: rowKernelAt(nv: 1, mr: 1, a: a, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, initial: initial)
            }
        }
    }

    /// C row i = (initial, or C row i if nil) + sum over t < count of a_i[t] * B row t; vector 2 at b + b2, c + c2.
    @inline(__always)
    static func rowKernelAt(
        nv: Int, mr: Int, a: Ptr6, b: UnsafePointer<Float>, b2: Int, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, c2: Int, ldc: Int, initial: UnsafePointer<Float>?
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
        let d = c + c2
        if let initial {
            let ia = load8(initial)
            let ib = nv > 1 ? load8(initial + 8) : z
            c0a = ia
            c1a = ia
            c2a = ia
            c3a = ia
            c4a = ia
            c5a = ia
            c0b = ib
            c1b = ib
            c2b = ib
            c3b = ib
            c4b = ib
            c5b = ib
        } else {
            c0a = load8(c)
            if nv > 1 { c0b = load8(d) }
            if mr > 1 {
                c1a = load8(c + ldc)
                if nv > 1 { c1b = load8(d + ldc) }
            }
            if mr > 2 {
                c2a = load8(c + 2 &* ldc)
                if nv > 1 { c2b = load8(d + 2 &* ldc) }
            }
            if mr > 3 {
                c3a = load8(c + 3 &* ldc)
                if nv > 1 { c3b = load8(d + 3 &* ldc) }
            }
            if mr > 4 {
                c4a = load8(c + 4 &* ldc)
                if nv > 1 { c4b = load8(d + 4 &* ldc) }
            }
            if mr > 5 {
                c5a = load8(c + 5 &* ldc)
                if nv > 1 { c5b = load8(d + 5 &* ldc) }
            }
        }
        var bp = b
        for t in 0..<count {
            let ba = load8(bp)
            let bb = nv > 1 ? load8(bp + b2) : z
            var s = SIMD8<Float>(repeating: a.0[t])
            c0a = c0a.addingProduct(s, ba)
            if nv > 1 { c0b = c0b.addingProduct(s, bb) }
            if mr > 1 {
                s = SIMD8(repeating: a.1[t])
                c1a = c1a.addingProduct(s, ba)
                if nv > 1 { c1b = c1b.addingProduct(s, bb) }
            }
            if mr > 2 {
                s = SIMD8(repeating: a.2[t])
                c2a = c2a.addingProduct(s, ba)
                if nv > 1 { c2b = c2b.addingProduct(s, bb) }
            }
            if mr > 3 {
                s = SIMD8(repeating: a.3[t])
                c3a = c3a.addingProduct(s, ba)
                if nv > 1 { c3b = c3b.addingProduct(s, bb) }
            }
            if mr > 4 {
                s = SIMD8(repeating: a.4[t])
                c4a = c4a.addingProduct(s, ba)
                if nv > 1 { c4b = c4b.addingProduct(s, bb) }
            }
            if mr > 5 {
                s = SIMD8(repeating: a.5[t])
                c5a = c5a.addingProduct(s, ba)
                if nv > 1 { c5b = c5b.addingProduct(s, bb) }
            }
            bp += ldb
        }
        store8(c0a, c)
        if nv > 1 { store8(c0b, d) }
        if mr > 1 {
            store8(c1a, c + ldc)
            if nv > 1 { store8(c1b, d + ldc) }
        }
        if mr > 2 {
            store8(c2a, c + 2 &* ldc)
            if nv > 1 { store8(c2b, d + 2 &* ldc) }
        }
        if mr > 3 {
            store8(c3a, c + 3 &* ldc)
            if nv > 1 { store8(c3b, d + 3 &* ldc) }
        }
        if mr > 4 {
            store8(c4a, c + 4 &* ldc)
            if nv > 1 { store8(c4b, d + 4 &* ldc) }
        }
        if mr > 5 {
            store8(c5a, c + 5 &* ldc)
            if nv > 1 { store8(c5b, d + 5 &* ldc) }
        }
    }

    /// `outerKernel` with the second vector of B at b + b2 and of C at c + c2.
    @inline(never)
    static func outerTileAt(
        nv: Int, mr: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, b2: Int, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, c2: Int, ldc: Int, fresh: Bool
    ) {
        if nv == 2 {
            switch mr {
            case 6: outerKernelAt(nv: 2, mr: 6, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 5: outerKernelAt(nv: 2, mr: 5, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 4: outerKernelAt(nv: 2, mr: 4, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 3: outerKernelAt(nv: 2, mr: 3, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 2: outerKernelAt(nv: 2, mr: 2, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            default: outerKernelAt(nv: 2, mr: 1, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            }
        } else {
            switch mr {
            case 6: outerKernelAt(nv: 1, mr: 6, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 5: outerKernelAt(nv: 1, mr: 5, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 4: outerKernelAt(nv: 1, mr: 4, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 3: outerKernelAt(nv: 1, mr: 3, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            case 2: outerKernelAt(nv: 1, mr: 2, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            default: outerKernelAt(nv: 1, mr: 1, a: a, lda: lda, b: b, b2: b2, ldb: ldb, count: count, c: c, c2: c2, ldc: ldc, fresh: fresh)
            }
        }
    }

    /// C row i = (0 if `fresh`, else C row i) + sum over t < count of a[t * lda + i] * B row t (t ascending);
    /// vector 2 at b + b2, c + c2. A fresh tile never reads C.
    @inline(__always)
    static func outerKernelAt(
        nv: Int, mr: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, b2: Int, ldb: Int, count: Int,
        c: UnsafeMutablePointer<Float>, c2: Int, ldc: Int, fresh: Bool
    ) {
        let z = SIMD8<Float>(repeating: 0)
        let d = c + c2
        var c0a = z
        var c0b = z
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
        if !fresh {
            c0a = load8(c)
            if nv > 1 { c0b = load8(d) }
            if mr > 1 {
                c1a = load8(c + ldc)
                if nv > 1 { c1b = load8(d + ldc) }
            }
            if mr > 2 {
                c2a = load8(c + 2 &* ldc)
                if nv > 1 { c2b = load8(d + 2 &* ldc) }
            }
            if mr > 3 {
                c3a = load8(c + 3 &* ldc)
                if nv > 1 { c3b = load8(d + 3 &* ldc) }
            }
            if mr > 4 {
                c4a = load8(c + 4 &* ldc)
                if nv > 1 { c4b = load8(d + 4 &* ldc) }
            }
            if mr > 5 {
                c5a = load8(c + 5 &* ldc)
                if nv > 1 { c5b = load8(d + 5 &* ldc) }
            }
        }
        var p = a
        var bp = b
        for _ in 0..<count {
            let ba = load8(bp)
            let bb = nv > 1 ? load8(bp + b2) : z
            var s = SIMD8<Float>(repeating: p[0])
            c0a = c0a.addingProduct(s, ba)
            if nv > 1 { c0b = c0b.addingProduct(s, bb) }
            if mr > 1 {
                s = SIMD8(repeating: p[1])
                c1a = c1a.addingProduct(s, ba)
                if nv > 1 { c1b = c1b.addingProduct(s, bb) }
            }
            if mr > 2 {
                s = SIMD8(repeating: p[2])
                c2a = c2a.addingProduct(s, ba)
                if nv > 1 { c2b = c2b.addingProduct(s, bb) }
            }
            if mr > 3 {
                s = SIMD8(repeating: p[3])
                c3a = c3a.addingProduct(s, ba)
                if nv > 1 { c3b = c3b.addingProduct(s, bb) }
            }
            if mr > 4 {
                s = SIMD8(repeating: p[4])
                c4a = c4a.addingProduct(s, ba)
                if nv > 1 { c4b = c4b.addingProduct(s, bb) }
            }
            if mr > 5 {
                s = SIMD8(repeating: p[5])
                c5a = c5a.addingProduct(s, ba)
                if nv > 1 { c5b = c5b.addingProduct(s, bb) }
            }
            p += lda
            bp += ldb
        }
        store8(c0a, c)
        if nv > 1 { store8(c0b, d) }
        if mr > 1 {
            store8(c1a, c + ldc)
            if nv > 1 { store8(c1b, d + ldc) }
        }
        if mr > 2 {
            store8(c2a, c + 2 &* ldc)
            if nv > 1 { store8(c2b, d + 2 &* ldc) }
        }
        if mr > 3 {
            store8(c3a, c + 3 &* ldc)
            if nv > 1 { store8(c3b, d + 3 &* ldc) }
        }
        if mr > 4 {
            store8(c4a, c + 4 &* ldc)
            if nv > 1 { store8(c4b, d + 4 &* ldc) }
        }
        if mr > 5 {
            store8(c5a, c + 5 &* ldc)
            if nv > 1 { store8(c5b, d + 5 &* ldc) }
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
