// Counter-based randomness (Philox4x32-10, Salmon et al., SC'11): every random number is a pure
// function of (seed, purpose, a, b, c), so results never depend on who computed them or in which order.

/// What a random stream is used for. Distinct purposes never share numbers.
public enum RandomPurpose: UInt32, Sendable {
    case weightInit = 1
    case shuffle = 2
    case dropout = 3
    case augmentation = 4
    case split = 5
    case sampling = 6
}

/// Philox4x32-10 keyed by a 64-bit seed. Stateless: `block(purpose, a, b, c)` returns four
/// independent 32-bit words for counter (purpose, a, b, c).
public struct CounterRNG: Sendable, Hashable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// Four random words for the 128-bit counter (purpose, a, b, c).
    @inline(__always)
    public func block(_ purpose: RandomPurpose, _ a: UInt32, _ b: UInt32 = 0, _ c: UInt32 = 0) -> SIMD4<UInt32> {
        Self.philox(
            counter: SIMD4(purpose.rawValue, a, b, c),
            key: SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
    }

    /// The Philox4x32 bijection with 10 rounds (scalar code: SIMD4 lane shuffles compiled poorly).
    @inline(__always)
    public static func philox(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var x0 = counter[0]
        var x1 = counter[1]
        var x2 = counter[2]
        var x3 = counter[3]
        var k0 = key[0]
        var k1 = key[1]
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(x0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(x2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32)
            let lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32)
            let lo1 = UInt32(truncatingIfNeeded: p1)
            (x0, x1, x2, x3) = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return SIMD4(x0, x1, x2, x3)
    }

    /// A uniform Float in [0, 1) from a 32-bit word (24 random bits).
    @inline(__always)
    public static func unitFloat(_ word: UInt32) -> Float {
        Float(word >> 8) * 0x1p-24
    }

    /// A uniform Double in [0, 1) from two words (53 random bits).
    @inline(__always)
    public static func unitDouble(_ hi: UInt32, _ lo: UInt32) -> Double {
        let bits = (UInt64(hi) << 21) ^ UInt64(lo >> 11)
        return Double(bits & ((1 << 53) - 1)) * 0x1p-53
    }

    /// A uniform integer in 0..<bound (bound > 0), unbiased by 64-bit multiply-shift.
    @inline(__always)
    public func index(below bound: Int, _ purpose: RandomPurpose, _ a: UInt32, _ b: UInt32 = 0, _ c: UInt32 = 0) -> Int {
        let w = block(purpose, a, b, c)
        let r = (UInt64(w[0]) << 32) | UInt64(w[1])
        return Int(r.multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A standard normal sample (Box-Muller on two 53-bit uniforms) for counter (purpose, a, b, c).
    @inline(__always)
    public func normal(_ purpose: RandomPurpose, _ a: UInt32, _ b: UInt32 = 0, _ c: UInt32 = 0) -> Double {
        let w = block(purpose, a, b, c)
        let u1 = 1 - Self.unitDouble(w[0], w[1])  // (0, 1]
        let u2 = Self.unitDouble(w[2], w[3])
        return (-2 * PortableMath.log(u1)).squareRoot() * PortableMath.cos(2 * Double.pi * u2)
    }

    /// A permutation of 0..<count (Fisher-Yates), a pure function of (seed, purpose, stream).
    public func permutation(count: Int, purpose: RandomPurpose, stream: UInt32) -> [Int] {
        var p = Array(0..<count)
        if count < 2 { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = index(below: i + 1, purpose, stream, UInt32(truncatingIfNeeded: i))
            p.swapAt(i, j)
        }
        return p
    }
}
