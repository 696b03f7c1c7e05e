import XCTest

@testable import TensorKit

final class CounterRNGTests: XCTestCase {
    /// Known-answer tests from the Random123 distribution (kat_vectors, philox4x32 10 rounds).
    func testPhiloxKnownAnswers() {
        XCTAssertEqual(
            CounterRNG.philox(counter: SIMD4(0, 0, 0, 0), key: SIMD2(0, 0)),
            SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8))
        XCTAssertEqual(
            CounterRNG.philox(counter: SIMD4(0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff), key: SIMD2(0xffff_ffff, 0xffff_ffff)),
            SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd))
        XCTAssertEqual(
            CounterRNG.philox(counter: SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: SIMD2(0xa409_3822, 0x299f_31d0)),
            SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1))
    }

    func testPermutationIsAPermutationAndDependsOnStream() {
        let rng = CounterRNG(seed: 42)
        let p = rng.permutation(count: 1000, purpose: .shuffle, stream: 1)
        XCTAssertEqual(p.sorted(), Array(0..<1000))
        XCTAssertEqual(p, rng.permutation(count: 1000, purpose: .shuffle, stream: 1))
        XCTAssertNotEqual(p, rng.permutation(count: 1000, purpose: .shuffle, stream: 2))
        XCTAssertNotEqual(p, CounterRNG(seed: 43).permutation(count: 1000, purpose: .shuffle, stream: 1))
    }

    func testUniformAndNormalMoments() {
        let rng = CounterRNG(seed: 1)
        let n = 20000
        let u = (0..<n).map { Double(CounterRNG.unitFloat(rng.block(.sampling, 0, UInt32($0))[0])) }
        XCTAssertEqual(u.reduce(0, +) / Double(n), 0.5, accuracy: 0.01)
        let g = (0..<n).map { rng.normal(.sampling, 1, UInt32($0)) }
        let mean = g.reduce(0, +) / Double(n)
        let variance = g.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        let idx = (0..<n).map { rng.index(below: 10, .sampling, 2, UInt32($0)) }
        XCTAssertTrue(idx.allSatisfy { (0..<10).contains($0) })
        for k in 0..<10 { XCTAssertEqual(Double(idx.filter { $0 == k }.count) / Double(n), 0.1, accuracy: 0.015) }
    }
}
