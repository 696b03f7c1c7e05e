// Row-major SGEMM over OpenBLAS, pinned to one BLAS thread per call site.
// Parallelism in Digits is across micro-batches (threads or processes), never inside a GEMM,
// so that every micro-batch gradient is computed by the same sequential kernel.
import COpenBLAS

public enum BLAS {
    /// Forces OpenBLAS to one thread. Call once at process start (idempotent).
    public static func useSingleThread() {
        openblas_set_num_threads(1)
    }

    /// The kernel family OpenBLAS picked for this CPU at run time (e.g. "Haswell", "SkylakeX").
    /// Bitwise reproducibility across machines needs the same core name on each.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS build configuration string.
    public static var config: String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }

    /// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
    /// `lda`, `ldb`, `ldc` default to the packed row lengths.
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }
}
