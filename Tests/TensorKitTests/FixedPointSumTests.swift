import XCTest

@testable import TensorKit

final class FixedPointSumTests: XCTestCase {
    /// Random gradients with magnitudes spanning many decades.
    func gradients(_ count: Int, parts: Int, seed: UInt64) -> [[Float]] {
        let rng = CounterRNG(seed: seed)
        return (0..<parts).map { p in
            (0..<count).map { i in
                let w = rng.block(.sampling, UInt32(p), UInt32(i))
                let mag = powf(10, Float(Int(w[0] % 12)) - 9)  // 1e-9 ... 1e2
                return (CounterRNG.unitFloat(w[1]) - 0.5) * mag
            }
        }
    }

    func sum(_ parts: [[Float]], order: [Int], grouping: Int) -> [Int64] {
        var total = GradientSum(count: parts[0].count)
        var group = GradientSum(count: parts[0].count)
        for (k, p) in order.enumerated() {
            parts[p].withUnsafeBufferPointer { XCTAssertTrue(group.add($0, samples: 1)) }
            if (k + 1) % grouping == 0 {
                total.add(group)
                group.reset()
            }
        }
        total.add(group)
        return total.values
    }

    func testSumIsBitwiseIdenticalInAnyOrderAndGrouping() {
        let parts = gradients(1000, parts: 16, seed: 1)
        let reference = sum(parts, order: Array(0..<16), grouping: 1)
        for trial in 0..<10 {
            let order = CounterRNG(seed: 99).permutation(count: 16, purpose: .sampling, stream: UInt32(trial))
            XCTAssertEqual(sum(parts, order: order, grouping: trial % 5 + 1), reference)
        }
        // Float32 summation, by contrast, depends on the order for these values.
        let forward = (0..<1000).map { i in parts.reduce(Float(0)) { $0 + $1[i] } }
        let backward = (0..<1000).map { i in parts.reversed().reduce(Float(0)) { $0 + $1[i] } }
        XCTAssertNotEqual(forward, backward)
    }

    func testPrecisionAgainstFloat64ReferenceSum() {
        let parts = gradients(2000, parts: 8, seed: 2)
        var acc = GradientSum(count: 2000)
        for p in parts { p.withUnsafeBufferPointer { _ = acc.add($0, samples: 16) } }
        var mean = [Float](repeating: 0, count: 2000)
        mean.withUnsafeMutableBufferPointer { acc.mean(into: $0) }
        for i in 0..<2000 {
            let exact = parts.reduce(0.0) { $0 + Double($1[i]) } / 128
            // Error bound: 8 roundings of 2^-41 each over 128 samples, plus the Float32 rounding.
            let bound = 8 * 0x1p-41 / 128 + abs(exact) * 0x1p-24
            XCTAssertLessThanOrEqual(abs(Double(mean[i]) - exact), bound, "index \(i)")
        }
    }

    func testNonFiniteContributionsAreRejectedAndChangeNothing() {
        var acc = GradientSum(count: 3)
        [Float(1), 2, 3].withUnsafeBufferPointer { _ = acc.add($0, samples: 1) }
        let before = acc
        for bad: Float in [.nan, .infinity, -.infinity] {
            [Float(1), bad, 3].withUnsafeBufferPointer { XCTAssertFalse(acc.add($0, samples: 1)) }
            XCTAssertEqual(acc, before)
        }
    }

    func testQuantizeRoundsToNearestAndClamps() {
        XCTAssertEqual(FixedPoint.quantize(1), Int64(1) << 40)
        XCTAssertEqual(FixedPoint.quantize(-0.5), -(Int64(1) << 39))
        XCTAssertEqual(FixedPoint.quantize(0x1p-41), 0)  // half a quantum rounds to even (0)
        XCTAssertEqual(FixedPoint.quantize(0x1.8p-40), 2)  // 1.5 quanta round to even (2)
        XCTAssertEqual(FixedPoint.quantize(1e9), Int64(1) << 51)
        XCTAssertEqual(FixedPoint.quantize(-1e9), -(Int64(1) << 51))
    }

    func testAllFiniteFindsEveryNaNAndInfinity() {
        var values = [Float](repeating: 1, count: 37)
        XCTAssertTrue(FixedPoint.allFinite(values, count: values.count))
        values[36] = .greatestFiniteMagnitude
        values[0] = -.greatestFiniteMagnitude
        XCTAssertTrue(FixedPoint.allFinite(values, count: values.count))
        for bad: Float in [.nan, -.nan, .infinity, -.infinity, .signalingNaN] {
            for i in [0, 17, 36] {
                var v = values
                v[i] = bad
                XCTAssertFalse(FixedPoint.allFinite(v, count: v.count), "\(bad) at \(i)")
            }
        }
    }

    func testPlausibleSumBoundsEachValueByItsContributions() {
        let limit = Int64(1) << 51
        XCTAssertTrue(FixedPoint.plausibleSum([limit, -limit, 0], count: 3, contributions: 1))
        XCTAssertFalse(FixedPoint.plausibleSum([0, limit + 1], count: 2, contributions: 1))
        XCTAssertFalse(FixedPoint.plausibleSum([-limit - 1, 0], count: 2, contributions: 1))
        XCTAssertTrue(FixedPoint.plausibleSum([3 * limit, -3 * limit], count: 2, contributions: 3))
        XCTAssertFalse(FixedPoint.plausibleSum([.min], count: 1, contributions: 8))
        XCTAssertFalse(FixedPoint.plausibleSum([.max], count: 1, contributions: 8))
        XCTAssertTrue(FixedPoint.plausibleSum([.min], count: 1, contributions: 4096))  // could have wrapped: no bound
    }
}
