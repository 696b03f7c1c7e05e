import XCTest

@testable import TensorKit

final class PhiloxSIMDTests: XCTestCase {
    /// Eight (sixteen) blocks at once are the same words as scalar blocks, including a counter wrap-around.
    func testBlocks8MatchesScalarBlocks() {
        for seed in [UInt64(0), 1, 0xDEAD_BEEF_0123_4567, .max] {
            let rng = CounterRNG(seed: seed)
            for (a, b, c) in [(UInt32(0), UInt32(0), UInt32(0)), (17, 300, 4096), (.max, 5, .max - 3)] {
                let w = rng.blocks8(.dropout, a, b, c)
                let v = rng.blocks16(.dropout, a, b, c)
                for j in 0..<16 {
                    let s = rng.block(.dropout, a, b, c &+ UInt32(j))
                    if j < 8 { XCTAssertEqual(SIMD4(w.0[j], w.1[j], w.2[j], w.3[j]), s, "seed \(seed) counter \(a) \(b) \(c)+\(j)") }
                    XCTAssertEqual(SIMD4(v.0[j], v.1[j], v.2[j], v.3[j]), s, "seed \(seed) counter \(a) \(b) \(c)+\(j) (16)")
                }
            }
        }
    }
}

final class ConvGeometryTests: XCTestCase {
    func testOutputSizesAndPadding() {
        let g = ConvGeometry(height: 5, width: 6, channels: 3, kernel: 3, stride: 2, padding: 1, filters: 16)
        XCTAssertEqual(g.outHeight, 3)
        XCTAssertEqual(g.outWidth, 3)
        XCTAssertEqual(g.k, 27)
        XCTAssertEqual(g.paddedImage, 7 * 8 * 3)
        let x = (0..<(2 * 5 * 6 * 3)).map(Float.init)
        var padded = [Float](repeating: .nan, count: 2 * g.paddedImage)
        var back = [Float](repeating: 0, count: x.count)
        ConvKernels.pad(x, g, batch: 2, into: &padded)
        XCTAssertEqual(padded[0], 0)
        XCTAssertEqual(padded[(1 * 8 + 1) * 3], x[0])
        XCTAssertEqual(padded.filter { $0 != 0 }.count, x.count - 1)  // x[0] is 0
        ConvKernels.unpad(padded, g, batch: 2, into: &back)
        XCTAssertEqual(back, x)
    }
}
