// On-the-fly augmentation: a random affine transform (rotation, scale, shift, shear) plus an elastic
// distortion (Simard et al. 2003), sampled bilinearly with zeros outside the image. Every random
// number is a pure function of (seed, epoch, sample index, element) drawn from the counter-based RNG,
// so an augmented micro-batch is the same bits whoever computes it (any thread, any worker).
// Flips are off by default: a mirrored digit is another symbol (or none); they suit Fashion-MNIST.
import Foundation
import TensorKit

public struct AugmentSettings: Codable, Equatable, Sendable {
    public var enabled: Bool = false
    /// Maximum rotation in degrees (uniform in [-r, r]).
    public var rotationDegrees: Double = 0
    /// Maximum relative scale change (uniform in [1 - s, 1 + s]).
    public var scale: Double = 0
    /// Maximum shift in pixels along each axis (uniform in [-d, d]).
    public var shiftPixels: Double = 0
    /// Maximum shear angle in degrees (uniform in [-a, a], along x).
    public var shearDegrees: Double = 0
    /// Elastic distortion: displacement scale in pixels (0 disables) and the Gaussian smoothing's sigma.
    public var elasticAlpha: Double = 0
    public var elasticSigma: Double = 4
    /// Mirror left-right with probability 1/2 (never for digits or letters).
    public var horizontalFlip: Bool = false

    public init() {}

    /// What `--augment` turns on when the config sets no amounts: mild affine jitter for digits.
    public static let standardDigits: AugmentSettings = {
        var s = AugmentSettings()
        s.enabled = true
        s.rotationDegrees = 10
        s.scale = 0.1
        s.shiftPixels = 2
        s.shearDegrees = 10
        return s
    }()

    /// True when augmentation would change some image.
    public var isActive: Bool {
        enabled && (rotationDegrees != 0 || scale != 0 || shiftPixels != 0 || shearDegrees != 0 || elasticAlpha != 0 || horizontalFlip)
    }

    /// Range checks; messages name the key.
    public func problems() -> [String] {
        var p: [String] = []
        if !(rotationDegrees >= 0 && rotationDegrees <= 180) {
            p.append("augment.rotation_degrees must be in [0, 180], found \(rotationDegrees)")
        }
        if !(scale >= 0 && scale < 1) { p.append("augment.scale must be in [0, 1), found \(scale)") }
        if !(shiftPixels >= 0 && shiftPixels <= 28) { p.append("augment.shift_pixels must be in [0, 28], found \(shiftPixels)") }
        if !(shearDegrees >= 0 && shearDegrees < 80) { p.append("augment.shear_degrees must be in [0, 80), found \(shearDegrees)") }
        if !(elasticAlpha >= 0 && elasticAlpha <= 100) { p.append("augment.elastic_alpha must be in [0, 100], found \(elasticAlpha)") }
        if !(elasticSigma > 0 && elasticSigma <= 20) { p.append("augment.elastic_sigma must be in (0, 20], found \(elasticSigma)") }
        return p
    }
}

/// The random transform of one sample; `Augmenter.parameters` draws it.
public struct AugmentParameters: Equatable, Sendable {
    public var rotation: Double = 0  // radians
    public var scale: Double = 1
    public var shiftX: Double = 0
    public var shiftY: Double = 0
    public var shear: Double = 0  // radians
    public var flip = false
}

/// Applies `AugmentSettings` to byte images. Immutable; one instance serves every thread (callers pass scratch).
public struct Augmenter: Sendable {
    public let settings: AugmentSettings
    public let rng: CounterRNG
    public let rows: Int
    public let cols: Int
    let kernel: [Float]

    public init(settings: AugmentSettings, seed: UInt64, rows: Int, cols: Int) {
        self.settings = settings
        self.rng = CounterRNG(seed: seed)
        self.rows = rows
        self.cols = cols
        if settings.elasticAlpha > 0 {
            let radius = max(1, Int((3 * settings.elasticSigma).rounded(.up)))
            var k = (-radius...radius).map { d in
                Float(PortableMath.exp(-Double(d * d) / (2 * settings.elasticSigma * settings.elasticSigma)))
            }
            let sum = k.reduce(0, +)
            for i in k.indices { k[i] /= sum }
            kernel = k
        } else {
            kernel = []
        }
    }

    /// Floats of scratch `apply` needs.
    public var scratchCount: Int { 4 * rows * cols }

    /// Uniform in [-1, 1) from a word.
    @inline(__always) static func symmetric(_ w: UInt32) -> Double { 2 * Double(CounterRNG.unitFloat(w)) - 1 }

    /// The affine parameters of (epoch, sample).
    public func parameters(epoch: Int, sample: Int) -> AugmentParameters {
        let s = settings
        let w = rng.block(.augmentation, UInt32(truncatingIfNeeded: epoch), UInt32(truncatingIfNeeded: sample), 0)
        let v = rng.block(.augmentation, UInt32(truncatingIfNeeded: epoch), UInt32(truncatingIfNeeded: sample), 1)
        var p = AugmentParameters()
        p.rotation = Self.symmetric(w[0]) * s.rotationDegrees * Double.pi / 180
        p.scale = 1 + Self.symmetric(w[1]) * s.scale
        p.shiftX = Self.symmetric(w[2]) * s.shiftPixels
        p.shiftY = Self.symmetric(w[3]) * s.shiftPixels
        p.shear = Self.symmetric(v[0]) * s.shearDegrees * Double.pi / 180
        p.flip = s.horizontalFlip && (v[1] & 1) == 1
        return p
    }

    /// Writes the augmented image of (epoch, sample) as pixel values in [0, 255] (not normalised).
    /// `scratch` holds `scratchCount` floats.
    public func apply(
        _ source: UnsafePointer<UInt8>, to out: UnsafeMutablePointer<Float>, epoch: Int, sample: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let n = rows * cols
        guard settings.isActive else {
            for i in 0..<n { out[i] = Float(source[i]) }
            return
        }
        let p = parameters(epoch: epoch, sample: sample)
        // Output -> source map: src = A^-1 (dst - c - t) + c, with A = R(rotation) * Shear(shear) * scale.
        let c = PortableMath.cos(p.rotation)
        let s = PortableMath.sin(p.rotation)
        let k = PortableMath.tan(p.shear)
        // A = scale * [[c, c*k - s], [s, s*k + c]]; det = scale^2.
        let a00 = c * p.scale
        let a01 = (c * k - s) * p.scale
        let a10 = s * p.scale
        let a11 = (s * k + c) * p.scale
        let det = a00 * a11 - a01 * a10
        let i00 = Float(a11 / det)
        let i01 = Float(-a01 / det)
        let i10 = Float(-a10 / det)
        let i11 = Float(a00 / det)
        let cx = Float(cols - 1) / 2
        let cy = Float(rows - 1) / 2
        let tx = Float(p.shiftX)
        let ty = Float(p.shiftY)
        let dx = scratch
        let dy = scratch + n
        if settings.elasticAlpha > 0 {
            elasticField(epoch: epoch, sample: sample, dx: dx, dy: dy, temp: scratch + 2 * n)
        } else {
            dx.update(repeating: 0, count: n)
            dy.update(repeating: 0, count: n)
        }
        for y in 0..<rows {
            for x in 0..<cols {
                let xo = (p.flip ? Float(cols - 1 - x) : Float(x)) - cx - tx
                let yo = Float(y) - cy - ty
                let sx = i00 * xo + i01 * yo + cx + dx[y * cols + x]
                let sy = i10 * xo + i11 * yo + cy + dy[y * cols + x]
                out[y * cols + x] = bilinear(source, sx, sy)
            }
        }
    }

    /// Bilinear sample with zeros outside the image.
    @inline(__always) func bilinear(_ img: UnsafePointer<UInt8>, _ x: Float, _ y: Float) -> Float {
        let x0 = Int(x.rounded(.down))
        let y0 = Int(y.rounded(.down))
        let fx = x - Float(x0)
        let fy = y - Float(y0)
        @inline(__always) func at(_ yy: Int, _ xx: Int) -> Float {
            (yy >= 0 && yy < rows && xx >= 0 && xx < cols) ? Float(img[yy * cols + xx]) : 0
        }
        let top = at(y0, x0) * (1 - fx) + (fx == 0 ? 0 : at(y0, x0 + 1) * fx)
        let bottom = fy == 0 ? 0 : at(y0 + 1, x0) * (1 - fx) + (fx == 0 ? 0 : at(y0 + 1, x0 + 1) * fx)
        return top * (1 - fy) + bottom * fy
    }

    /// Uniform(-1, 1) displacements per pixel, smoothed by a separable Gaussian (zero padding), times alpha.
    func elasticField(
        epoch: Int, sample: Int, dx: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>,
        temp: UnsafeMutablePointer<Float>
    ) {
        let n = rows * cols
        for b in 0..<((n + 1) / 2) {
            let w = rng.block(.augmentation, UInt32(truncatingIfNeeded: epoch), UInt32(truncatingIfNeeded: sample), UInt32(16 + b))
            dx[2 * b] = Float(Self.symmetric(w[0]))
            dy[2 * b] = Float(Self.symmetric(w[1]))
            if 2 * b + 1 < n {
                dx[2 * b + 1] = Float(Self.symmetric(w[2]))
                dy[2 * b + 1] = Float(Self.symmetric(w[3]))
            }
        }
        let alpha = Float(settings.elasticAlpha)
        smooth(dx, temp: temp, scale: alpha)
        smooth(dy, temp: temp, scale: alpha)
    }

    func smooth(_ field: UnsafeMutablePointer<Float>, temp: UnsafeMutablePointer<Float>, scale: Float) {
        let r = kernel.count / 2
        kernel.withUnsafeBufferPointer { k in
            for y in 0..<rows {
                for x in 0..<cols {
                    var acc: Float = 0
                    for d in max(-r, -x)...min(r, cols - 1 - x) { acc += k[d + r] * field[y * cols + x + d] }
                    temp[y * cols + x] = acc
                }
            }
            for y in 0..<rows {
                for x in 0..<cols {
                    var acc: Float = 0
                    for d in max(-r, -y)...min(r, rows - 1 - y) { acc += k[d + r] * temp[(y + d) * cols + x] }
                    field[y * cols + x] = acc * scale
                }
            }
        }
    }
}
