// Learning-rate schedules as pure functions of the global step: constant, step decay, cosine and
// one-cycle, each with an optional linear warm-up. Every process (trainer, coordinator, parameter-
// server shard) computes the same rate for a step, so schedules keep runs reproducible.
import Foundation
import MNISTData
import TensorKit

public struct LRSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case constant, step, cosine
        case oneCycle = "one-cycle"
    }
    public var kind: Kind = .constant
    /// Linear warm-up from 0 to the base rate over this many epochs (fractions allowed); not used by one-cycle.
    public var warmupEpochs: Double = 0
    /// Step decay: multiply the rate by `stepGamma` every `stepEveryEpochs` epochs.
    public var stepEveryEpochs: Int = 5
    public var stepGamma: Double = 0.1
    /// Cosine and one-cycle end at base * minFraction.
    public var minFraction: Double = 0
    /// One-cycle: the rate rises from base * startFraction to base over the first `peakAt` of the steps, then
    /// anneals (cosine) to base * minFraction.
    public var peakAt: Double = 0.25
    public var startFraction: Double = 0.04

    public init() {}

    public var isDefault: Bool { self == LRSchedule() }

    /// The rate of global step `step` (0-based) of a run of `totalSteps` steps, `stepsPerEpoch` per epoch.
    public func rate(base: Float, step: Int, stepsPerEpoch: Int, totalSteps: Int) -> Float {
        if kind == .constant && warmupEpochs == 0 { return base }
        let b = Double(base)
        let total = max(totalSteps, 1)
        let t = Double(min(max(step, 0), total - 1))
        let warmup = kind == .oneCycle ? 0 : Int((warmupEpochs * Double(stepsPerEpoch)).rounded())
        if step < warmup { return Float(b * Double(step + 1) / Double(warmup)) }
        let after = t - Double(warmup)
        let span = Double(max(total - warmup, 1))
        let value: Double
        switch kind {
        case .constant:
            value = b
        case .step:
            let epoch = step / max(stepsPerEpoch, 1)
            value = b * PortableMath.pow(stepGamma, epoch / max(stepEveryEpochs, 1))
        case .cosine:
            let p = span <= 1 ? 0 : after / (span - 1)
            value = b * (minFraction + (1 - minFraction) * 0.5 * (1 + PortableMath.cos(Double.pi * p)))
        case .oneCycle:
            let peak = max(1, (peakAt * Double(total)).rounded())
            let start = b * startFraction
            let end = b * minFraction
            if t < peak {
                let p = peak <= 1 ? 1 : t / (peak - 1)
                value = b + (start - b) * 0.5 * (1 + PortableMath.cos(Double.pi * p))
            } else {
                let rest = Double(total) - peak
                let p = rest <= 1 ? 1 : (t - peak) / (rest - 1)
                value = end + (b - end) * 0.5 * (1 + PortableMath.cos(Double.pi * p))
            }
        }
        return Float(value)
    }

    func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws { if !ok { throw ConfigError(message()) } }
        try check(warmupEpochs >= 0 && warmupEpochs.isFinite, "schedule.warmup_epochs must be >= 0, found \(warmupEpochs)")
        try check(stepEveryEpochs >= 1, "schedule.step_every_epochs must be at least 1, found \(stepEveryEpochs)")
        try check(stepGamma > 0 && stepGamma <= 1, "schedule.step_gamma must be in (0, 1], found \(stepGamma)")
        try check(minFraction >= 0 && minFraction <= 1, "schedule.min_fraction must be in [0, 1], found \(minFraction)")
        try check(peakAt > 0 && peakAt < 1, "schedule.peak_at must be in (0, 1), found \(peakAt)")
        try check(startFraction > 0 && startFraction <= 1, "schedule.start_fraction must be in (0, 1], found \(startFraction)")
    }
}

extension TrainConfig {
    /// The configured augmentation for images of rows x cols, or nil when it would change nothing.
    public func augmenter(rows: Int, cols: Int) -> Augmenter? {
        augment.isActive ? Augmenter(settings: augment, seed: training.seed, rows: rows, cols: cols) : nil
    }
}
