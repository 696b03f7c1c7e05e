// Pixel preprocessing stored with the model: x = (byte / 255 - mean) / std. Applied per batch
// while filling a workspace, so datasets stay as bytes.

public struct Normalization: Codable, Equatable, Sendable {
    public var mean: Float
    public var std: Float

    /// Plain [0, 1] scaling.
    public static let unit = Normalization(mean: 0, std: 1)
    /// MNIST training-set mean and standard deviation of [0, 1] pixels.
    public static let mnistStandard = Normalization(mean: 0.1307, std: 0.3081)

    public init(mean: Float, std: Float) {
        self.mean = mean
        self.std = std
    }

    /// x = byte * scale + shift: the two Float32 constants `apply` uses (exporters reuse them, so an
    /// exported graph normalises with the very same bits).
    public var scale: Float { 1 / (255 * std) }
    public var shift: Float { -mean / std }

    /// Writes `count` normalised values.
    @inline(__always)
    public func apply(_ bytes: UnsafePointer<UInt8>, to out: UnsafeMutablePointer<Float>, count: Int) {
        let scale = self.scale
        let shift = self.shift
        for i in 0..<count { out[i] = Float(bytes[i]) * scale + shift }
    }
}
