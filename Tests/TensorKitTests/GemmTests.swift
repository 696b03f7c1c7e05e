import TensorKit
import XCTest

/// Gemm's contract: every element of C is the scalar FMA chain over p ascending (Gemm.reference), bit
/// for bit, whatever the shape (vector tiles of 16 and 8, row tiles of 1 to 6, scalar tails, k slices).
final class GemmTests: XCTestCase {
    /// Deterministic values in [-1, 1) with varied exponents, so that summation order shows in the bits.
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        let rng = CounterRNG(seed: seed)
        return (0..<n).map { i in
            let w = rng.block(.sampling, UInt32(i))
            return (CounterRNG.unitFloat(w[0]) * 2 - 1) * Float(1 << (w[1] % 6))
        }
    }

    func check(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, accumulate: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let a = Self.values(m * k, seed: UInt64(m * 1000 + k))
        let b = Self.values(k * n, seed: UInt64(n * 1000 + k + 7))
        let c0 = Self.values(m * n, seed: 99)
        var expected = c0
        var actual = c0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                Gemm.reference(
                    transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!,
                    accumulate: accumulate, c: &expected)
                Gemm.multiply(
                    transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!,
                    accumulate: accumulate, c: &actual)
            }
        }
        for i in 0..<m * n where expected[i].bitPattern != actual[i].bitPattern {
            XCTFail(
                "transA \(transA) transB \(transB) m \(m) n \(n) k \(k) accumulate \(accumulate): element (\(i / n), \(i % n)) "
                    + "is \(actual[i]), the FMA chain gives \(expected[i])", file: file, line: line)
            return
        }
    }

    func testEveryFormEqualsTheScalarChainBitForBit() {
        // Shapes cover full and partial vector tiles (n % 16, n % 8; 9 to 15 columns as two overlapping vectors, and
        // narrower than 8), row tails (m % 6), k across a slice, and the short-k transposed-B path (k <= 32) and
        // the other (k > 32); m = 256 makes A stored transposed a multiple of 1 KB per row (copied in blocks).
        let shapes = [
            (1, 1, 1), (3, 10, 7), (6, 16, 5), (7, 17, 33), (13, 24, 9), (16, 128, 40), (17, 9, 600), (5, 33, 1030),
            (9, 5, 700), (8, 23, 32), (20, 41, 17), (16, 10, 1600), (12, 7, 3), (256, 20, 16)
        ]
        for (m, n, k) in shapes {
            for accumulate in [false, true] {
                check(transA: false, transB: false, m: m, n: n, k: k, accumulate: accumulate)
                check(transA: true, transB: false, m: m, n: n, k: k, accumulate: accumulate)
                check(transA: false, transB: true, m: m, n: n, k: k, accumulate: accumulate)
            }
        }
    }

    func testLeadingDimensionsAreHonoured() {
        // A 4 x 5 block of a 4 x 9 matrix times a 5 x 3 block of a 5 x 11 matrix into a 4 x 3 block of a 4 x 8 C.
        let a = Self.values(4 * 9, seed: 1)
        let b = Self.values(5 * 11, seed: 2)
        var expected = [Float](repeating: 0.5, count: 4 * 8)
        var actual = expected
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                Gemm.reference(
                    m: 4, n: 3, k: 5, a: ap.baseAddress!, lda: 9, b: bp.baseAddress!, ldb: 11, accumulate: true, c: &expected, ldc: 8)
                Gemm.multiply(
                    m: 4, n: 3, k: 5, a: ap.baseAddress!, lda: 9, b: bp.baseAddress!, ldb: 11, accumulate: true, c: &actual, ldc: 8)
            }
        }
        XCTAssertEqual(expected.map(\.bitPattern), actual.map(\.bitPattern))
        XCTAssertEqual(actual[3], 0.5, "columns outside the block are untouched")
    }

    func testMatchesADoubleReference() {
        let (m, n, k) = (9, 20, 300)
        let a = Self.values(m * k, seed: 5)
        let b = Self.values(k * n, seed: 6)
        var c = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in Gemm.multiply(m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!, c: &c) }
        }
        for i in 0..<m {
            for j in 0..<n {
                var exact = 0.0
                var scale = 0.0
                for p in 0..<k {
                    exact += Double(a[i * k + p]) * Double(b[p * n + j])
                    scale += abs(Double(a[i * k + p]) * Double(b[p * n + j]))
                }
                XCTAssertEqual(Double(c[i * n + j]), exact, accuracy: scale * 1e-6, "(\(i), \(j))")
            }
        }
    }
}
