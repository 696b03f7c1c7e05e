// The training plan as pure functions of (seed, epoch): the stratified validation split, each
// epoch's shuffle, and how a step's samples split into fixed micro-batches. Every process that
// knows (dataset labels, seed, batch, micro-batch) computes the same plan.
import TensorKit

public enum ValidationSplit {
    /// Stratified split: from each class, round(fraction * count) samples (chosen by a seeded
    /// permutation of that class) go to validation. Both index lists are in ascending order.
    public static func stratified(labels: [UInt8], classes: Int, fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        guard fraction > 0 else { return (Array(labels.indices), []) }
        var byClass = [[Int]](repeating: [], count: classes)
        for (i, l) in labels.enumerated() where Int(l) < classes { byClass[Int(l)].append(i) }
        let rng = CounterRNG(seed: seed)
        var isValidation = [Bool](repeating: false, count: labels.count)
        for (c, members) in byClass.enumerated() {
            let take = Int((fraction * Double(members.count)).rounded())
            let order = rng.permutation(count: members.count, purpose: .split, stream: UInt32(c))
            for k in 0..<take { isValidation[members[order[k]]] = true }
        }
        var train: [Int] = []
        var validation: [Int] = []
        for i in labels.indices { if isValidation[i] { validation.append(i) } else { train.append(i) } }
        return (train, validation)
    }
}

/// Which samples form each step and micro-batch of each epoch.
public struct EpochPlan: Sendable, Equatable {
    /// Dataset indices of the training samples (ascending).
    public let trainIndices: [Int]
    public let batchSize: Int
    public let microBatch: Int
    public let seed: UInt64

    public init(trainIndices: [Int], batchSize: Int, microBatch: Int, seed: UInt64) {
        precondition(batchSize > 0 && microBatch > 0)
        self.trainIndices = trainIndices
        self.batchSize = batchSize
        self.microBatch = microBatch
        self.seed = seed
    }

    public var samplesPerEpoch: Int { trainIndices.count }
    /// The last step of an epoch may be short.
    public var stepsPerEpoch: Int { (trainIndices.count + batchSize - 1) / batchSize }

    /// The epoch's sample order: dataset indices, a permutation of `trainIndices`.
    public func order(epoch: Int) -> [Int] {
        let p = CounterRNG(seed: seed).permutation(count: trainIndices.count, purpose: .shuffle, stream: UInt32(epoch))
        return p.map { trainIndices[$0] }
    }

    /// Positions (into `order(epoch:)`) of step `step`'s samples.
    public func stepRange(step: Int) -> Range<Int> {
        let start = step * batchSize
        return start..<Swift.min(start + batchSize, trainIndices.count)
    }

    /// The step's micro-batches as position ranges; every micro-batch has `microBatch` samples
    /// except possibly the last one of the epoch's last step.
    public func microBatches(step: Int) -> [Range<Int>] {
        let range = stepRange(step: step)
        return stride(from: range.lowerBound, to: range.upperBound, by: microBatch).map {
            $0..<Swift.min($0 + microBatch, range.upperBound)
        }
    }
}
