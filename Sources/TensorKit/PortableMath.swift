// Elementary functions (exp, log, sin, cos, tan, integer pow) from IEEE-754 basic operations and explicit FMA only, so every
// machine computes the same bits: glibc's libm picks exp/log/sin/cos variants per CPU at load time, this file never calls it.
// Algorithms and polynomial coefficients follow fdlibm (e_exp.c, e_log.c, k_sin.c, k_cos.c, k_tan.c, e_rem_pio2.c).

/// Bit-reproducible elementary functions. Every result is a fixed sequence of correctly rounded IEEE-754 operations
/// (+ - * /, FMA written out as `addingProduct`, rounding to integral, bit manipulation), so it is identical on every
/// IEEE machine (x86-64 at any ISA level, arm64) and at every optimisation level. Error bounds below are measured
/// against the x87 80-bit long-double functions of glibc (`expl`, `logl`, `sinl`, ...), in units in the last place
/// (ULP) of the result type.
///
/// Constants are written as bit patterns: on x86 Swift converts decimal literals through Float80 and may round them
/// twice, to a different Double than on arm64.
///
/// The fdlibm coefficients are Copyright (C) 1993 by Sun Microsystems, Inc.: "Permission to use, copy, modify, and
/// distribute this software is freely granted, provided that this notice is preserved."
public enum PortableMath {
    // MARK: - exp

    /// e^x, computed in Double and rounded once to Float.
    ///
    /// Domain: every Float. NaN -> NaN (same bits); x > 88.72 -> +inf; x < -103.97 -> +0; subnormal results between.
    /// Measured: correctly rounded for every Float (exhaustive: all 2.24e9 inputs in [-104, 89], the rest are NaN,
    /// +inf or 0); max error 0.4999999977 ULP.
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 89 { return .infinity }
        if x < -104 { return 0 }
        // |x| <= 104: k in [-151, 129], so 2^k is a normal Double and the final scaling is exact.
        let (y, k) = expReduced(Double(x))
        return Float(y * powerOfTwo(k))
    }

    /// e^x (fdlibm e_exp.c).
    ///
    /// Domain: every Double. NaN -> NaN (same bits); x > 709.78 -> +inf; x < -745.13 -> +0; subnormal results between
    /// (rounded twice, so at most 1 subnormal ULP off).
    /// Measured: max error 0.91 ULP over 3e7 random inputs (uniform in [-745, 710], [-708, 709.7] and [-1, 1]);
    /// 0.83 ULP over 1e6 in [-745, -708] (subnormal results).
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > Double(bitPattern: 0x4086_2E42_FEFA_39EF) { return .infinity }  // 709.782712893383973096
        if x < Double(bitPattern: 0xC087_4910_D52D_3051) { return 0 }  // -745.13321910194110842
        if x == 1 { return Double(bitPattern: 0x4005_BF0A_8B14_5769) }  // e, correctly rounded (fdlibm gives e + 1 ULP)
        let (y, k) = expReduced(x)
        return scaled(y, k)
    }

    /// Returns (y, k) with e^x ~ y * 2^k, y in [0.70, 1.42]; requires |x| < 746.
    @inline(__always)
    static func expReduced(_ x: Double) -> (Double, Int) {
        let ln2Hi = Double(bitPattern: 0x3FE6_2E42_FEE0_0000)  // 6.93147180369123816490e-01, 32 significant bits
        let ln2Lo = Double(bitPattern: 0x3DEA_39EF_3579_3C76)  // 1.90821492927058770002e-10
        let invLn2 = Double(bitPattern: 0x3FF7_1547_652B_82FE)  // 1.44269504088896338700e+00
        let p1 = Double(bitPattern: 0x3FC5_5555_5555_553E)  // 1.66666666666666019037e-01
        let p2 = Double(bitPattern: 0xBF66_C16C_16BE_BD93)  // -2.77777777770155933842e-03
        let p3 = Double(bitPattern: 0x3F11_566A_AF25_DE2C)  // 6.61375632143793436117e-05
        let p4 = Double(bitPattern: 0xBEBB_BD41_C5D2_6BF1)  // -1.65339022054652515390e-06
        let p5 = Double(bitPattern: 0x3E66_3769_72BE_A4D0)  // 4.13813679705723846039e-08
        // x = k ln2 + r, |r| <= ln2/2. k * ln2Hi is exact (|k| < 2^11) and x - k * ln2Hi is exact (Sterbenz).
        let kd = (x * invLn2).rounded(.toNearestOrEven)
        let hi = x - kd * ln2Hi
        let lo = kd * ln2Lo
        let r = hi - lo
        // e^r = 1 + 2r / (R(r) - r) with R(r) = r (e^r + 1) / (e^r - 1) ~ 2 + r^2 P(r^2) (Remez, |error| < 2^-59).
        let rr = r * r
        let c = r - rr * (p1 + rr * (p2 + rr * (p3 + rr * (p4 + rr * p5))))
        let y = 1 - ((lo - (r * c) / (2 - c)) - hi)
        return (y, Int(kd))
    }

    // MARK: - log

    /// Natural logarithm, computed in Double and rounded once to Float.
    ///
    /// Domain: x >= 0 (subnormals included). NaN -> NaN (same bits); x < 0 -> NaN; +-0 -> -inf; +inf -> +inf.
    /// Measured: correctly rounded for every Float (exhaustive over all 2.14e9 positive finite inputs, subnormals
    /// included); max error 0.49999999994 ULP.
    public static func log(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        // Every positive finite Float, subnormals included, is a normal Double.
        let y = logPositiveNormal(Double(x).bitPattern, 0)
        // The Double error (< 1 Double ULP) decides the Float rounding only when y lies within a few Double ULPs
        // of a tie between two Floats. That happens for five Floats (found exhaustively); round those correctly.
        if (y.bitPattern &- 0x0fff_fff0) & 0x1fff_ffff < 0x20 {
            switch x.bitPattern {
            case 0x3c41_3d3a: return Float(bitPattern: 0xc08e_158f)  // log(0.011794383) = -4.4401317
            case 0x4117_8feb: return Float(bitPattern: 0x400f_e5e7)  // log(9.472636) = 2.2484071
            case 0x4c5d_65a5: return Float(bitPattern: 0x418f_034b)  // log(5.8037908e7) = 17.876608
            case 0x65d8_90d3: return Float(bitPattern: 0x4254_d1f9)  // log(1.2783784e23) = 53.20505
            case 0x6f31_a8ec: return Float(bitPattern: 0x4284_5a89)  // log(5.498306e28) = 66.17683
            default: break
            }
        }
        return Float(y)
    }

    /// Natural logarithm (fdlibm e_log.c).
    ///
    /// Domain: x >= 0 (subnormals included). NaN -> NaN (same bits); x < 0 -> NaN; +-0 -> -inf; +inf -> +inf.
    /// Measured: max error 0.85 ULP over 3e7 random inputs (uniform in [0.5, 2], uniform over the bit patterns of
    /// (0, 1e300] and log-uniform over [5e-324, 1.7e308], subnormals included).
    public static func log(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        if x < 0x1p-1022 { return logPositiveNormal((x * 0x1p54).bitPattern, -54) }
        return logPositiveNormal(x.bitPattern, 0)
    }

    /// log(x) + k ln2 for a positive normal finite Double with the given bit pattern.
    @inline(__always)
    static func logPositiveNormal(_ bits: UInt64, _ kIn: Int) -> Double {
        let ln2Hi = Double(bitPattern: 0x3FE6_2E42_FEE0_0000)  // 6.93147180369123816490e-01
        let ln2Lo = Double(bitPattern: 0x3DEA_39EF_3579_3C76)  // 1.90821492927058770002e-10
        let lg1 = Double(bitPattern: 0x3FE5_5555_5555_5593)  // 6.666666666666735130e-01
        let lg2 = Double(bitPattern: 0x3FD9_9999_9997_FA04)  // 3.999999999940941908e-01
        let lg3 = Double(bitPattern: 0x3FD2_4924_9422_9359)  // 2.857142874366239149e-01
        let lg4 = Double(bitPattern: 0x3FCC_71C5_1D8E_78AF)  // 2.222219843214978396e-01
        let lg5 = Double(bitPattern: 0x3FC7_4664_96CB_03DE)  // 1.818357216161805012e-01
        let lg6 = Double(bitPattern: 0x3FC3_9A09_D078_C69F)  // 1.531383769920937332e-01
        let lg7 = Double(bitPattern: 0x3FC2_F112_DF3E_5244)  // 1.479819860511658591e-01
        // x = 2^k * m with m in [sqrt(2)/2, sqrt(2)): shifting the high word by 1 - 0x3fe6a09e moves the exponent
        // step to sqrt(2).
        var hx = UInt32(truncatingIfNeeded: bits >> 32) &+ (0x3ff0_0000 - 0x3fe6_a09e)
        let k = kIn + Int(hx >> 20) - 0x3ff
        hx = (hx & 0x000f_ffff) &+ 0x3fe6_a09e
        let m = Double(bitPattern: UInt64(hx) << 32 | (bits & 0xffff_ffff))
        // log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f), R a Remez fit (|error| < 2^-58.45).
        let f = m - 1
        let hfsq = 0.5 * f * f
        let s = f / (2 + f)
        let z = s * s
        let w = z * z
        let t1 = w * (lg2 + w * (lg4 + w * lg6))
        let t2 = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7)))
        let r = t2 + t1
        let dk = Double(k)
        return s * (hfsq + r) + dk * ln2Lo - hfsq + f + dk * ln2Hi
    }

    // MARK: - integer power

    /// x^n for an integer exponent, by binary exponentiation in double-double arithmetic with a separate binary
    /// exponent, rounded once at the end; a negative n gives 1 / x^|n| (the reciprocal also taken in double-double).
    ///
    /// Domain: every Double and Int. pow(x, 0) = 1 (even for NaN); otherwise NaN -> NaN; x = +-0 or +-inf follow C's
    /// pow (sign kept for odd n); overflow -> +-inf, underflow -> +-0 with correctly rounded subnormals in between.
    /// Relative error before the final rounding is below about |n| 2^-103, so the result is within
    /// 0.5 + |n| 2^-51 ULP: correctly rounded in practice for |n| <= 1e7 (and within 1 ULP for |n| < 2^50).
    /// Measured: max error 0.5000 ULP (the reference's resolution is ~0.0005 ULP) over 1e7 random pairs with x in
    /// (0, 1] (a quarter of them within 1e-6 of 1) and n in 1...1e7, and 1e6 with |x| in [2^-60, 2^60], n in
    /// -1e4...1e4.
    public static func pow(_ x: Double, _ n: Int) -> Double {
        if n == 0 { return 1 }
        if x.isNaN { return x }
        let negative = x.sign == .minus && n & 1 != 0  // includes -0
        var ax = x.magnitude
        if ax == 0 || ax == .infinity {
            let huge = (ax == 0) == (n < 0)
            return negative ? (huge ? -.infinity : -0.0) : (huge ? .infinity : 0)
        }
        // ax = bh * 2^be with bh in [1, 2).
        var be = 0
        if ax < 0x1p-1022 {
            ax *= 0x1p54
            be = -54
        }
        be += exponentBits(ax) - 1023
        var bh = Double(bitPattern: (ax.bitPattern & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000)
        var bl = 0.0
        var rh = 1.0
        var rl = 0.0
        var re = 0
        // Every factor is < 1 if ax < 1 and >= 1 otherwise, so exponents move one way only; past +-4096 the result
        // over- or underflows whatever follows, and the exponents stay far from Int's range.
        let limit = 4096
        var k = n.magnitude
        while true {
            if k & 1 != 0 {
                (rh, rl, re) = multiply(rh, rl, re, bh, bl, be)
                if re > limit || re < -limit { break }
            }
            k >>= 1
            if k == 0 { break }
            (bh, bl, be) = multiply(bh, bl, be, bh, bl, be)
            if be > limit || be < -limit {
                re = be  // a later factor is at least this far out
                break
            }
        }
        if n < 0 {
            // 1 / (rh + rl) = q + q (1 - (rh + rl) q), with 1 - rh q exact by FMA.
            let q = 1 / rh
            let residual = 1.0.addingProduct(-rh, q) - rl * q
            let ql = q * residual
            rh = q + ql
            rl = ql - (rh - q)
            re = -re
            if rh < 1 {
                rh *= 2
                rl *= 2
                re -= 1
            }
        }
        let magnitude = scaleRounded(rh, rl, re)
        return negative ? -magnitude : magnitude
    }

    /// (ah + al) 2^ae * (bh + bl) 2^be with the head renormalised into [1, 2). Relative error < 2^-104.
    @inline(__always)
    static func multiply(_ ah: Double, _ al: Double, _ ae: Int, _ bh: Double, _ bl: Double, _ be: Int)
        -> (Double, Double, Int)
    {
        let p = ah * bh
        var e = (-p).addingProduct(ah, bh)  // exact low part of ah * bh
        e += ah * bl + al * bh
        var h = p + e
        var l = e - (h - p)
        var exponent = ae + be
        if h >= 2 {
            h *= 0.5
            l *= 0.5
            exponent += 1
        }
        return (h, l, exponent)
    }

    /// (h + l) * 2^e rounded once to Double, for h = h + l rounded, h in [1, 2).
    static func scaleRounded(_ h: Double, _ l: Double, _ e: Int) -> Double {
        if e > 1023 { return .infinity }
        if e >= -1022 { return h * powerOfTwo(e) }  // exact
        if e < -1022 - 54 { return 0 }  // below half the smallest subnormal
        // Subnormal result: round h + l to a multiple of the subnormal quantum q = 2^(-1074 - e) in h's scale,
        // then scale exactly. A tie in h alone is broken by the sign of l.
        let shift = -1022 - e  // 1...54
        let q = powerOfTwo(shift - 52)
        let magic = powerOfTwo(shift)  // h + magic stays in magic's binade, whose ULP is q
        var s = (h + magic) - magic
        if l != 0 && (h - s).magnitude == 0.5 * q {
            s = l > 0 ? h + 0.5 * q : h - 0.5 * q
        }
        return s * powerOfTwo(e + 1022) * 0x1p-1022  // both steps exact
    }

    // MARK: - helpers

    /// 2^k for k in -1022...1023, built from its bit pattern.
    @inline(__always)
    static func powerOfTwo(_ k: Int) -> Double {
        Double(bitPattern: UInt64(truncatingIfNeeded: 1023 + k) << 52)
    }

    /// y * 2^k for k in -1991...2046 with one rounding (the result may be subnormal, +-0 or +-inf).
    @inline(__always)
    static func scaled(_ y: Double, _ k: Int) -> Double {
        if k > 1023 { return y * 0x1p1023 * powerOfTwo(k - 1023) }
        if k < -1022 { return y * 0x1p-969 * powerOfTwo(k + 969) }  // first step exact, second rounds once
        return y * powerOfTwo(k)
    }
}
