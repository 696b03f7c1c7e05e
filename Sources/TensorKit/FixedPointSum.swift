// Exact, order-independent gradient sums. Each Float32 micro-batch gradient is rounded to a
// fixed-point Int64 (resolution 2^-40); Int64 wrapping addition is associative and commutative,
// so summing contributions in any order or grouping gives the same bits.

/// The fixed-point format shared by trainers, workers and parameter servers.
public enum FixedPoint {
    /// Fractional bits: a quantum of 2^-40 ~ 9.1e-13.
    public static let fractionBits = 40
    public static let scale: Double = 0x1p40
    /// Largest magnitude a single contribution may have (2^11 = 2048); larger values are clamped.
    /// Keeps every quantised value below 2^51 (exact fast rounding) and leaves 12 bits of headroom,
    /// so 4096 contributions at the clamp still cannot wrap.
    public static let clampMagnitude: Double = 0x1p11

    /// Rounds one value to fixed point (round to nearest even, clamped).
    @inline(__always)
    public static func quantize(_ value: Float) -> Int64 {
        var d = Double(value) * scale
        d = Swift.min(Swift.max(d, -clampMagnitude * scale), clampMagnitude * scale)
        // Adding 1.5 * 2^52 rounds to an integer in the low mantissa bits (|d| < 2^51).
        return Int64(bitPattern: (d + 0x1.8p52).bitPattern) &- Int64(bitPattern: 0x4338_0000_0000_0000)
    }

    /// True if no value is NaN or infinite. An integer max over the magnitude bits: it vectorises
    /// (a float reduction such as `sum += v * 0` would not, being order-sensitive).
    @inline(__always)
    public static func allFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
        var largest: UInt32 = 0
        values.withMemoryRebound(to: UInt32.self, capacity: count) { bits in
            for i in 0..<count { largest = Swift.max(largest, bits[i] & 0x7fff_ffff) }
        }
        return largest < 0x7f80_0000  // exponent all ones: infinity or NaN
    }

    /// True if every value is a possible sum of `contributions` quantised values (each at most
    /// 2^51 in magnitude): a check on fixed-point sums received from other processes.
    @inline(__always)
    public static func plausibleSum(_ values: UnsafePointer<Int64>, count: Int, contributions: Int) -> Bool {
        guard contributions < 4096 else { return true }
        // |v| <= L  <=>  v + L (wrapping) in [0, 2L] as an unsigned number: a max that vectorises.
        let limit = UInt64(contributions) << 51
        var largest: UInt64 = 0
        values.withMemoryRebound(to: UInt64.self, capacity: count) { bits in
            for i in 0..<count { largest = Swift.max(largest, bits[i] &+ limit) }
        }
        return largest <= 2 * limit
    }

    /// accumulator[i] &+= quantize(values[i]) for every i. Callers check `allFinite` first.
    @inline(__always)
    public static func accumulate(
        _ values: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Int64>, count: Int
    ) {
        let hi = clampMagnitude * scale
        for i in 0..<count {
            var d = Double(values[i]) * scale
            d = d < -hi ? -hi : (d > hi ? hi : d)
            let q = Int64(bitPattern: (d + 0x1.8p52).bitPattern) &- Int64(bitPattern: 0x4338_0000_0000_0000)
            accumulator[i] = accumulator[i] &+ q
        }
    }

    /// accumulator[i] &+= other[i]: merging two partial sums.
    @inline(__always)
    public static func add(_ other: UnsafePointer<Int64>, into accumulator: UnsafeMutablePointer<Int64>, count: Int) {
        for i in 0..<count { accumulator[i] = accumulator[i] &+ other[i] }
    }

    /// out[i] = Float(sum[i] * 2^-40 / divisor): the mean gradient over `divisor` samples.
    @inline(__always)
    public static func dequantize(
        _ sum: UnsafePointer<Int64>, divisor: Int, into out: UnsafeMutablePointer<Float>, count: Int
    ) {
        let factor = 1 / (scale * Double(divisor))
        for i in 0..<count { out[i] = Float(Double(sum[i]) * factor) }
    }
}

/// A growable exact accumulator over a flat parameter vector.
public struct GradientSum: Sendable, Equatable {
    public private(set) var values: [Int64]
    /// Number of samples whose gradients have been added.
    public private(set) var sampleCount: Int = 0

    public init(count: Int) { values = Array(repeating: 0, count: count) }

    public var count: Int { values.count }

    public mutating func reset() {
        values.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        sampleCount = 0
    }

    /// Adds one micro-batch gradient (a sum over `samples` samples). Returns false, leaving the
    /// sum unchanged, if the gradient has a NaN or infinity.
    @discardableResult
    public mutating func add(_ gradient: UnsafeBufferPointer<Float>, samples: Int) -> Bool {
        precondition(gradient.count == values.count, "gradient length \(gradient.count) != \(values.count)")
        guard let base = gradient.baseAddress, FixedPoint.allFinite(base, count: gradient.count) else {
            return gradient.isEmpty
        }
        values.withUnsafeMutableBufferPointer { acc in
            FixedPoint.accumulate(base, into: acc.baseAddress!, count: acc.count)
        }
        sampleCount += samples
        return true
    }

    /// Adds a fixed-point partial sum of `samples` samples' gradients computed elsewhere (a
    /// worker's sum of its micro-batches). Any grouping gives the same result.
    public mutating func add(fixedPoint other: UnsafeBufferPointer<Int64>, samples: Int) {
        precondition(other.count == values.count, "sum length \(other.count) != \(values.count)")
        guard let base = other.baseAddress else { return }
        values.withUnsafeMutableBufferPointer { acc in FixedPoint.add(base, into: acc.baseAddress!, count: acc.count) }
        sampleCount += samples
    }

    /// Adds another partial sum (any grouping gives the same result).
    public mutating func add(_ other: GradientSum) {
        precondition(other.count == count)
        values.withUnsafeMutableBufferPointer { acc in
            other.values.withUnsafeBufferPointer { FixedPoint.add($0.baseAddress!, into: acc.baseAddress!, count: acc.count) }
        }
        sampleCount += other.sampleCount
    }

    /// The mean gradient over all added samples.
    public func mean(into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count == count && sampleCount > 0)
        values.withUnsafeBufferPointer {
            FixedPoint.dequantize($0.baseAddress!, divisor: sampleCount, into: out.baseAddress!, count: count)
        }
    }
}
