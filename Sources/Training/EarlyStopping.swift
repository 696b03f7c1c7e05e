// Early stopping as a value: feed it each epoch's monitored metric, it returns a decision.

public struct EarlyStopping: Codable, Equatable, Sendable {
    public enum Decision: Equatable, Sendable {
        /// Keep training; `improved` says whether this epoch is the new best.
        case proceed(improved: Bool)
        /// Stop: no improvement larger than minDelta for `patience` epochs.
        case stop(bestEpoch: Int)
    }

    public let monitor: String
    public let patience: Int
    public let minDelta: Double
    public private(set) var bestValue: Double?
    public private(set) var bestEpoch: Int = 0
    public private(set) var epochsWithoutImprovement: Int = 0

    public init(monitor: String, patience: Int, minDelta: Double) {
        self.monitor = monitor
        self.patience = patience
        self.minDelta = minDelta
    }

    /// Lower is better for losses, higher for accuracies.
    var higherIsBetter: Bool { monitor.hasSuffix("accuracy") }

    public mutating func update(epoch: Int, value: Double) -> Decision {
        let improved: Bool
        if let best = bestValue {
            improved = higherIsBetter ? value > best + minDelta : value < best - minDelta
        } else {
            improved = true
        }
        if improved {
            bestValue = value
            bestEpoch = epoch
            epochsWithoutImprovement = 0
            return .proceed(improved: true)
        }
        epochsWithoutImprovement += 1
        return epochsWithoutImprovement >= patience ? .stop(bestEpoch: bestEpoch) : .proceed(improved: false)
    }
}
