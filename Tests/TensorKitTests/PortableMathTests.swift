import XCTest

@testable import TensorKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// PortableMath against the C library (accuracy), on special values, and against recorded output bits (the same bits
/// on every machine). Inputs come from a SplitMix64 stream and integer/IEEE arithmetic only, so they are identical
/// everywhere too.
final class PortableMathTests: XCTestCase {
    // MARK: - Inputs

    struct SplitMix64 {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// Uniform in [a, b).
        mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * (Double(next() >> 11) * 0x1p-53) }

        /// Uniform over the bit patterns in [lo, hi]: for positive numbers, roughly log-uniform.
        mutating func bits(_ lo: UInt64, _ hi: UInt64) -> UInt64 { lo + next() % (hi - lo + 1) }
    }

    static func uniform(_ count: Int, _ a: Double, _ b: Double, seed: UInt64) -> [Double] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in rng.uniform(a, b) }
    }

    /// Doubles whose bit patterns are uniform between those of a and b (0 <= a < b).
    static func spread(_ count: Int, _ a: Double, _ b: Double, seed: UInt64) -> [Double] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in Double(bitPattern: rng.bits(a.bitPattern, b.bitPattern)) }
    }

    /// Floats whose bit patterns are uniform between those of a and b (0 <= a < b).
    static func spread(_ count: Int, _ a: Float, _ b: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in Float(bitPattern: UInt32(rng.bits(UInt64(a.bitPattern), UInt64(b.bitPattern)))) }
    }

    static let specialDoubles: [Double] = [
        .nan, .infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, 0.5, 2, 1e-300, 1e-20, 1e-8, 0.1, 0.7853981633974483,
        1.5707963267948966, 3.141592653589793, 4.71238898038469, 6.283185307179586, 709.782712893384, 709.79,
        -708.3964185322641, -745.1332191019411, -745.14, 1e5, 1647099.3291652855, 1647099.3291652858, 1e6, 1e22,
        1e300, worstCaseForReduction
    ]

    /// 6381956970095103 * 2^797, the double closest to a multiple of pi/2 (cos is -4.7e-19). Written as bits because
    /// Swift on x86 rounds the decimal literal 5.319372648326541e255 through Float80 to the neighbouring double.
    static let worstCaseForReduction = Double(bitPattern: 0x7506_AC5B_262C_A1FF)

    static let specialFloats: [Float] = [
        .nan, .infinity, -.infinity, 0, -0.0, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
        -.greatestFiniteMagnitude, 1, -1, 0.5, 2, 1e-30, 1e-7, 88.72283, 88.72284, 89, -87.33654, -103.97207, -103.97208,
        -104, -150
    ]

    // MARK: - ULP distance

    /// Distance between a and b counted in representable Doubles; 0 for equal values (and two NaNs), `.max` when only
    /// one is NaN or infinite.
    static func ulps(_ a: Double, _ b: Double) -> UInt64 {
        if a == b || (a.isNaN && b.isNaN) { return 0 }
        if !a.isFinite || !b.isFinite { return .max }
        let ma = a.magnitude.bitPattern
        let mb = b.magnitude.bitPattern
        return a.sign == b.sign ? (ma > mb ? ma - mb : mb - ma) : ma + mb
    }

    static func ulps(_ a: Float, _ b: Float) -> UInt64 {
        if a == b || (a.isNaN && b.isNaN) { return 0 }
        if !a.isFinite || !b.isFinite { return .max }
        let ma = UInt64(a.magnitude.bitPattern)
        let mb = UInt64(b.magnitude.bitPattern)
        return a.sign == b.sign ? (ma > mb ? ma - mb : mb - ma) : ma + mb
    }

    /// x in (0.5, 1): uniform, or 1 - d with d log-uniform in [2^-24, 1/2) (bases like Adam's beta).
    static func base(_ rng: inout SplitMix64, nearOne: Bool) -> Double {
        nearOne ? 1 - Double(bitPattern: rng.bits(0x1p-24.bitPattern, 0.5.bitPattern - 1)) : rng.uniform(0.5, 1)
    }

    /// Log-uniform integer in 1...max.
    static func exponent(_ rng: inout SplitMix64, max: Double) -> Int {
        Int(Double(bitPattern: rng.bits(1.0.bitPattern, max.bitPattern)))
    }

    /// Asserts that `ours` is within `bound` ULPs of `reference` on every input, reporting the worst one.
    func assertClose<T: BinaryFloatingPoint>(
        _ name: String, _ inputs: [T], bound: UInt64, _ ours: (T) -> T, _ reference: (T) -> T, distance: (T, T) -> UInt64,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var worst: (ulps: UInt64, x: T, ours: T, reference: T)?
        for x in inputs {
            let a = ours(x)
            let b = reference(x)
            let d = distance(a, b)
            if d > (worst?.ulps ?? 0) { worst = (d, x, a, b) }
        }
        guard let worst else { return }
        XCTAssertLessThanOrEqual(
            worst.ulps, bound,
            "\(name): \(worst.ulps) ULP at x = \(worst.x): ours \(worst.ours), libm \(worst.reference)",
            file: file, line: line)
    }

    // MARK: - Accuracy against the C library

    func testFloatExpAndLogMatchLibm() {
        let expInputs = Self.uniform(3000, -87, 88, seed: 1).map { Float($0) }
        assertClose("exp(Float)", expInputs, bound: 1, { PortableMath.exp($0) }, { expf($0) }, distance: Self.ulps)
        let logInputs =
            Self.spread(2500, Float.leastNonzeroMagnitude, 1e30, seed: 2)
            + Self.spread(200, Float.leastNonzeroMagnitude, Float.leastNormalMagnitude, seed: 3)
            + Self.uniform(300, 0.5, 2, seed: 4).map { Float($0) }
        assertClose("log(Float)", logInputs, bound: 1, { PortableMath.log($0) }, { logf($0) }, distance: Self.ulps)
    }

    func testDoubleExpAndLogMatchLibm() {
        let expInputs = Self.uniform(3000, -700, 700, seed: 5)
        assertClose("exp(Double)", expInputs, bound: 2, { PortableMath.exp($0) }, { exp($0) }, distance: Self.ulps)
        let logInputs =
            Self.spread(2500, Double.leastNonzeroMagnitude, 1e300, seed: 6)
            + Self.spread(200, Double.leastNonzeroMagnitude, Double.leastNormalMagnitude, seed: 7)
            + Self.uniform(300, 0.5, 2, seed: 8)
        assertClose("log(Double)", logInputs, bound: 2, { PortableMath.log($0) }, { log($0) }, distance: Self.ulps)
    }

    func testTrigonometryMatchesLibm() {
        let inputs = Self.uniform(2000, -10, 10, seed: 9) + Self.uniform(2000, 0, 2 * Double.pi, seed: 10)
        assertClose("sin", inputs, bound: 2, { PortableMath.sin($0) }, { sin($0) }, distance: Self.ulps)
        assertClose("cos", inputs, bound: 2, { PortableMath.cos($0) }, { cos($0) }, distance: Self.ulps)
        assertClose("tan", inputs, bound: 2, { PortableMath.tan($0) }, { tan($0) }, distance: Self.ulps)
    }

    func testIntegerPowerMatchesLibm() {
        var rng = SplitMix64(state: 11)
        var worst: (ulps: UInt64, x: Double, n: Int, ours: Double, reference: Double)?
        for i in 0..<3000 {
            let x = Self.base(&rng, nearOne: i % 2 == 1)
            let n = Self.exponent(&rng, max: 1e6)
            let a = PortableMath.pow(x, n)
            let b = pow(x, Double(n))
            let d = Self.ulps(a, b)
            if d > (worst?.ulps ?? 0) { worst = (d, x, n, a, b) }
        }
        if let worst {
            XCTAssertLessThanOrEqual(
                worst.ulps, 1, "pow: \(worst.ulps) ULP at x = \(worst.x), n = \(worst.n): ours \(worst.ours), libm \(worst.reference)")
        }
    }

    // MARK: - Special values

    func testSpecialValues() {
        typealias PM = PortableMath
        XCTAssertTrue(PM.exp(Float.nan).isNaN)
        XCTAssertEqual(PM.exp(Float.infinity), .infinity)
        XCTAssertEqual(PM.exp(-Float.infinity), 0)
        XCTAssertEqual(PM.exp(Float(89)), .infinity)
        XCTAssertEqual(PM.exp(Float(88.72283)), 3.4028e38, accuracy: 1e34)
        XCTAssertEqual(PM.exp(Float(-103.9)), Float(bitPattern: 1))  // smallest subnormal
        XCTAssertEqual(PM.exp(Float(-104)), 0)
        XCTAssertEqual(PM.exp(Float(0)), 1)
        XCTAssertEqual(PM.exp(-Float(0)), 1)
        XCTAssertEqual(PM.exp(Float(1)), 2.7182817)

        XCTAssertTrue(PM.log(Float.nan).isNaN)
        XCTAssertTrue(PM.log(Float(-1)).isNaN)
        XCTAssertTrue(PM.log(-Float.infinity).isNaN)
        XCTAssertTrue(PM.log(-Float.leastNonzeroMagnitude).isNaN)
        XCTAssertEqual(PM.log(Float(0)), -.infinity)
        XCTAssertEqual(PM.log(-Float(0)), -.infinity)
        XCTAssertEqual(PM.log(Float.infinity), .infinity)
        XCTAssertEqual(PM.log(Float(1)).bitPattern, 0)  // +0
        XCTAssertEqual(PM.log(Float.leastNonzeroMagnitude), -103.27893)
        XCTAssertEqual(PM.log(Float.greatestFiniteMagnitude), 88.72284)

        XCTAssertTrue(PM.exp(Double.nan).isNaN)
        XCTAssertEqual(PM.exp(Double.infinity), .infinity)
        XCTAssertEqual(PM.exp(-Double.infinity), 0)
        XCTAssertEqual(PM.exp(709.79), .infinity)
        XCTAssertEqual(PM.exp(709.782712893384), 1.7976931348622732e308)
        XCTAssertEqual(PM.exp(-745.1332191019411), Double.leastNonzeroMagnitude)
        XCTAssertEqual(PM.exp(-745.14), 0)
        XCTAssertEqual(PM.exp(-708.5), 2.006132305331306e-308)  // subnormal
        XCTAssertEqual(PM.exp(0.0), 1)
        XCTAssertEqual(PM.exp(1.0), 2.718281828459045)
        XCTAssertEqual(PM.exp(1e-300), 1)

        XCTAssertTrue(PM.log(Double.nan).isNaN)
        XCTAssertTrue(PM.log(-1.0).isNaN)
        XCTAssertTrue(PM.log(-Double.infinity).isNaN)
        XCTAssertEqual(PM.log(0.0), -.infinity)
        XCTAssertEqual(PM.log(-0.0), -.infinity)
        XCTAssertEqual(PM.log(Double.infinity), .infinity)
        XCTAssertEqual(PM.log(1.0).bitPattern, 0)  // +0
        XCTAssertEqual(PM.log(Double.leastNonzeroMagnitude), -744.4400719213812)
        XCTAssertEqual(PM.log(Double.greatestFiniteMagnitude), 709.782712893384)
        XCTAssertEqual(PM.log(2.718281828459045), 1)

        for f in [PM.sin, PM.cos, PM.tan] as [(Double) -> Double] {
            XCTAssertTrue(f(.nan).isNaN)
            XCTAssertTrue(f(.infinity).isNaN)
            XCTAssertTrue(f(-.infinity).isNaN)
            XCTAssertTrue(f(.greatestFiniteMagnitude).isFinite)
        }
        XCTAssertEqual(PM.sin(-0.0).bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(PM.tan(-0.0).bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(PM.cos(-0.0), 1)
        XCTAssertEqual(PM.sin(1e-300), 1e-300)
        XCTAssertEqual(PM.sin(Double.pi), 1.2246467991473532e-16)
        XCTAssertEqual(PM.cos(Double.pi), -1)
        XCTAssertEqual(PM.sin(Double.pi / 2), 1)
        XCTAssertEqual(PM.cos(Double.pi / 2), 6.123233995736766e-17)
        XCTAssertEqual(PM.tan(Double.pi / 4), 0.9999999999999999)
        XCTAssertEqual(PM.tan(Double.pi / 2), 1.633123935319537e16)
        // Beyond the Cody-Waite range (Payne-Hanek): still accurate, e.g. the double nearest a multiple of pi/2.
        XCTAssertEqual(PM.sin(1e22), -0.8522008497671888)
        XCTAssertEqual(PM.sin(Self.worstCaseForReduction), 1)
        XCTAssertEqual(PM.cos(Self.worstCaseForReduction), -4.687165924254628e-19)

        XCTAssertEqual(PM.pow(.nan, 0), 1)
        XCTAssertTrue(PM.pow(.nan, 3).isNaN)
        XCTAssertEqual(PM.pow(0.0, 3).bitPattern, 0)
        XCTAssertEqual(PM.pow(-0.0, 3).bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(PM.pow(-0.0, 2).bitPattern, 0)
        XCTAssertEqual(PM.pow(0.0, -1), .infinity)
        XCTAssertEqual(PM.pow(-0.0, -1), -.infinity)
        XCTAssertEqual(PM.pow(-Double.infinity, 3), -.infinity)
        XCTAssertEqual(PM.pow(-Double.infinity, -3).bitPattern, (-0.0).bitPattern)
        XCTAssertEqual(PM.pow(-2.0, 3), -8)
        XCTAssertEqual(PM.pow(2.0, -3), 0.125)
        XCTAssertEqual(PM.pow(2.0, 1024), .infinity)
        XCTAssertEqual(PM.pow(2.0, -1074), .leastNonzeroMagnitude)
        XCTAssertEqual(PM.pow(2.0, -1075), 0)
        XCTAssertEqual(PM.pow(0.5, Int.max), 0)
        XCTAssertEqual(PM.pow(-1.0, Int.max), -1)
        XCTAssertEqual(PM.pow(-1.0, Int.min), 1)
        XCTAssertEqual(PM.pow(1.5, Int.min), 0)
        XCTAssertEqual(PM.pow(10.0, 22), 1e22)
        XCTAssertEqual(PM.pow(10.0, -22), 1e-22)
        XCTAssertEqual(PM.pow(0.999, 10_000_000), 0)
        XCTAssertEqual(PM.pow(0.9999999, 10_000_000), 0.367879422971105)
    }

    // MARK: - Golden bits

    /// 64-bit FNV-1a over the little-endian bytes of each output's bit pattern.
    struct FNV1a {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325

        mutating func add<T: FixedWidthInteger>(_ value: T) {
            for i in 0..<(T.bitWidth / 8) {
                hash ^= UInt64(truncatingIfNeeded: value >> (8 * i)) & 0xFF
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
    }

    static func hash(_ inputs: [Float], _ f: (Float) -> Float) -> UInt64 {
        var h = FNV1a()
        for x in inputs { h.add(f(x).bitPattern) }
        return h.hash
    }

    static func hash(_ inputs: [Double], _ f: (Double) -> Double) -> UInt64 {
        var h = FNV1a()
        for x in inputs { h.add(f(x).bitPattern) }
        return h.hash
    }

    /// Pins the exact output bits over ~2000 inputs per function: any machine or code change that computes one
    /// different bit fails here. Recorded on x86-64 (AVX2 + FMA); independent of libm, optimisation level and ISA level.
    /// If a deliberate algorithm change moves these, re-record them.
    func testGoldenBits() {
        let floatExp = Self.specialFloats + Self.uniform(2000, -110, 95, seed: 21).map { Float($0) }
        let floatLog =
            Self.specialFloats + Self.spread(1000, 0, Float.greatestFiniteMagnitude, seed: 22)
            + Self.uniform(1000, 0.25, 4, seed: 23).map { Float($0) }
        let doubleExp = Self.specialDoubles + Self.uniform(2000, -750, 715, seed: 24)
        let doubleLog =
            Self.specialDoubles + Self.spread(1000, 0, Double.greatestFiniteMagnitude, seed: 25)
            + Self.uniform(1000, 0.25, 4, seed: 26)
        let angles =
            Self.specialDoubles + Self.uniform(500, -10, 10, seed: 27) + Self.uniform(500, 0, 2 * Double.pi, seed: 28)
            + Self.uniform(500, -1e5, 1e5, seed: 29) + Self.spread(500, 1e5, Double.greatestFiniteMagnitude, seed: 30)
        var rng = SplitMix64(state: 31)
        var powers: [(Double, Int)] = Self.specialDoubles.flatMap { x in
            [0, 1, 2, 3, -1, -2, 1_000_000, Int.max, Int.min].map { (x, $0) }
        }
        for i in 0..<2000 {
            switch i % 3 {
            case 0: powers.append((Self.base(&rng, nearOne: false), Self.exponent(&rng, max: 1e6)))
            case 1: powers.append((Self.base(&rng, nearOne: true), Self.exponent(&rng, max: 1e7)))
            default: powers.append((rng.uniform(-4, 4), Int(rng.next() % 2001) - 1000))  // signs, overflow, underflow
            }
        }
        var powerHash = FNV1a()
        for (x, n) in powers { powerHash.add(PortableMath.pow(x, n).bitPattern) }

        let recorded: [(String, UInt64, UInt64)] = [
            ("exp(Float)", Self.hash(floatExp, PortableMath.exp), 0xF48C_EBDB_F337_3316),
            ("log(Float)", Self.hash(floatLog, PortableMath.log), 0xDE17_7556_6F5F_1509),
            ("exp(Double)", Self.hash(doubleExp, PortableMath.exp), 0x1271_5720_B427_A0E9),
            ("log(Double)", Self.hash(doubleLog, PortableMath.log), 0x0573_2EF8_19CC_7B60),
            ("sin", Self.hash(angles, PortableMath.sin), 0xEC79_1FF4_6FC7_E3CE),
            ("cos", Self.hash(angles, PortableMath.cos), 0x3C5D_A294_1583_EC2F),
            ("tan", Self.hash(angles, PortableMath.tan), 0x3483_0E76_312D_F587),
            ("pow", powerHash.hash, 0xDB4F_7DC0_9954_7DAA)
        ]
        for (name, actual, expected) in recorded {
            XCTAssertEqual(actual, expected, "\(name): output bits changed, hash 0x\(String(actual, radix: 16, uppercase: true))")
        }
    }
}
