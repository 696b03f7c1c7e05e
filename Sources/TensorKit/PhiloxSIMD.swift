// Philox4x32-10 on many counters at once (AVX2 lanes). Bit-for-bit the same words as
// `CounterRNG.block`, only faster when many consecutive blocks are needed (dropout masks).

extension CounterRNG {
    /// Blocks for counters (purpose, a, b, c + j), j = 0..<8: word w of block j is `words.w[j]`.
    @inlinable @inline(__always)
    public func blocks8(_ purpose: RandomPurpose, _ a: UInt32, _ b: UInt32, _ c: UInt32)
        -> (SIMD8<UInt32>, SIMD8<UInt32>, SIMD8<UInt32>, SIMD8<UInt32>)
    {
        var x0 = SIMD8<UInt32>(repeating: purpose.rawValue)
        var x1 = SIMD8<UInt32>(repeating: a)
        var x2 = SIMD8<UInt32>(repeating: b)
        var x3 = SIMD8<UInt32>(repeating: c) &+ SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        var k0 = UInt32(truncatingIfNeeded: seed)
        var k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let (hi0, lo0) = Self.mulHiLo(x0, 0xD251_1F53)
            let (hi1, lo1) = Self.mulHiLo(x2, 0xCD9E_8D57)
            (x0, x1, x2, x3) = (hi1 ^ x1 ^ SIMD8(repeating: k0), lo1, hi0 ^ x3 ^ SIMD8(repeating: k1), lo0)
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (x0, x1, x2, x3)
    }

    /// Blocks for counters (purpose, a, b, c + j), j = 0..<16 (two independent chains of eight, which the
    /// core overlaps): word w of block j is `words.w[j]`.
    @inlinable @inline(__always)
    public func blocks16(_ purpose: RandomPurpose, _ a: UInt32, _ b: UInt32, _ c: UInt32)
        -> (SIMD16<UInt32>, SIMD16<UInt32>, SIMD16<UInt32>, SIMD16<UInt32>)
    {
        var x0 = SIMD16<UInt32>(repeating: purpose.rawValue)
        var x1 = SIMD16<UInt32>(repeating: a)
        var x2 = SIMD16<UInt32>(repeating: b)
        var x3 = SIMD16<UInt32>(repeating: c) &+ SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        var k0 = UInt32(truncatingIfNeeded: seed)
        var k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let (hi0a, lo0a) = Self.mulHiLo(x0.lowHalf, 0xD251_1F53)
            let (hi0b, lo0b) = Self.mulHiLo(x0.highHalf, 0xD251_1F53)
            let (hi1a, lo1a) = Self.mulHiLo(x2.lowHalf, 0xCD9E_8D57)
            let (hi1b, lo1b) = Self.mulHiLo(x2.highHalf, 0xCD9E_8D57)
            let hi0 = SIMD16(lowHalf: hi0a, highHalf: hi0b)
            let lo0 = SIMD16(lowHalf: lo0a, highHalf: lo0b)
            let hi1 = SIMD16(lowHalf: hi1a, highHalf: hi1b)
            let lo1 = SIMD16(lowHalf: lo1a, highHalf: lo1b)
            (x0, x1, x2, x3) = (hi1 ^ x1 ^ SIMD16(repeating: k0), lo1, hi0 ^ x3 ^ SIMD16(repeating: k1), lo0)
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (x0, x1, x2, x3)
    }

    /// High and low 32 bits of the 64-bit products x * m, lane by lane.
    @inlinable @inline(__always)
    static func mulHiLo(_ x: SIMD8<UInt32>, _ m: UInt32) -> (SIMD8<UInt32>, SIMD8<UInt32>) {
        let lo4 = SIMD4<UInt64>(truncatingIfNeeded: x.lowHalf) &* SIMD4<UInt64>(repeating: UInt64(m))
        let hi4 = SIMD4<UInt64>(truncatingIfNeeded: x.highHalf) &* SIMD4<UInt64>(repeating: UInt64(m))
        let hi = SIMD8<UInt32>(
            lowHalf: SIMD4<UInt32>(truncatingIfNeeded: lo4 &>> 32),
            highHalf: SIMD4<UInt32>(truncatingIfNeeded: hi4 &>> 32))
        return (hi, x &* SIMD8(repeating: m))
    }
}
