// The parameter server's step accumulator: sums micro-batch gradients exactly (fixed point),
// counts each micro-batch id once, and reports when step t is complete. Pure state, no I/O.
import TensorKit
import WireProtocol

public final class ParameterServer {
    public let parameterCount: Int
    /// First key of the range this server owns (0 for the whole vector).
    public let offset: Int
    /// Global step being accumulated (valid while `active`).
    public private(set) var step: UInt64 = 0
    public private(set) var active = false
    var expected = 0
    var counted: [Bool] = []
    var losses: [Double] = []
    var corrects: [Int] = []
    var sum: GradientSum
    /// Rejected pushes by reason (for logs and metrics).
    public private(set) var rejections: [String: Int] = [:]

    public init(parameterCount: Int, offset: Int = 0) {
        self.parameterCount = parameterCount
        self.offset = offset
        sum = GradientSum(count: parameterCount)
    }

    /// Starts accumulating step `step`, made of `microBatches` micro-batches.
    public func begin(step: UInt64, microBatches: Int) {
        self.step = step
        expected = microBatches
        counted = [Bool](repeating: false, count: microBatches)
        losses = [Double](repeating: 0, count: microBatches)
        corrects = [Int](repeating: 0, count: microBatches)
        sum.reset()
        active = true
    }

    public enum PushResult: Equatable {
        case accepted
        /// The step's last micro-batch arrived.
        case complete
        case duplicate
        case rejected(String)
    }

    /// Adds one micro-batch gradient, or refuses it with a reason (leaving the state unchanged).
    public func receive(_ push: GradientPush, step: UInt64) -> PushResult {
        if let refused = refusal(step: step) { return refused }
        let k = Int(push.microBatch)
        guard k < expected else { return reject("micro-batch \(k) out of range (step has \(expected))", key: "bad_micro_batch") }
        guard push.offset == UInt64(offset), push.values.count == parameterCount else {
            return reject(
                "gradient covers [\(push.offset), +\(push.values.count)), expected [\(offset), +\(parameterCount))", key: "bad_size")
        }
        guard !counted[k] else {
            rejections["duplicate", default: 0] += 1
            return .duplicate
        }
        guard push.loss.isFinite else { return reject("non-finite loss", key: "non_finite") }
        let ok = push.values.withUnsafeBufferPointer { sum.add($0, samples: Int(push.samples)) }
        guard ok else { return reject("non-finite gradient in micro-batch \(k)", key: "non_finite") }
        count(k, loss: push.loss, correct: Int(push.correct))
        return progress()
    }

    func reject(_ reason: String, key: String) -> PushResult {
        rejections[key, default: 0] += 1
        return .rejected(reason)
    }

    /// The rejection of a push for `step`, or nil while that step is open.
    func refusal(step: UInt64) -> PushResult? {
        guard active else { return reject("no step is open (got step \(step))", key: "no_open_step") }
        guard step == self.step else {
            return reject(
                step < self.step ? "stale step \(step) (accepting \(self.step))" : "future step \(step) (accepting \(self.step))",
                key: step < self.step ? "stale_step" : "future_step")
        }
        return nil
    }

    func count(_ k: Int, loss: Double, correct: Int) {
        counted[k] = true
        losses[k] = loss
        corrects[k] = correct
    }

    /// `.complete` (closing the step) once every micro-batch is counted, else `.accepted`.
    func progress() -> PushResult {
        guard counted.allSatisfy({ $0 }) else { return .accepted }
        active = false
        return .complete
    }

    /// Adds a worker's fixed-point sum of several micro-batches: all of them, or none (the state
    /// is unchanged by a rejection or a duplicate).
    public func receive(_ push: GradientSumPush, step: UInt64) -> PushResult {
        if let refused = refusal(step: step) { return refused }
        let ids = push.parts.map { Int($0.microBatch) }
        guard !ids.isEmpty, ids.allSatisfy({ $0 < expected }) else {
            return reject("micro-batches \(ids) out of range (step has \(expected))", key: "bad_micro_batch")
        }
        guard Set(ids).count == ids.count else { return reject("micro-batch ids \(ids) repeat", key: "bad_micro_batch") }
        guard push.offset == UInt64(offset), push.values.count == parameterCount else {
            return reject(
                "gradient sum covers [\(push.offset), +\(push.values.count)), expected [\(offset), +\(parameterCount))", key: "bad_size")
        }
        let seen = ids.filter { counted[$0] }
        if seen.count == ids.count {
            rejections["duplicate", default: 0] += 1
            return .duplicate
        }
        guard seen.isEmpty else {
            return reject("micro-batches \(seen) of \(ids) were already counted", key: "overlapping_micro_batches")
        }
        guard push.parts.allSatisfy({ $0.loss.isFinite }) else { return reject("non-finite loss", key: "non_finite") }
        let plausible = push.values.withUnsafeBufferPointer { v in
            v.baseAddress.map { FixedPoint.plausibleSum($0, count: v.count, contributions: ids.count) } ?? true
        }
        guard plausible else {
            return reject("gradient sum of \(ids.count) micro-batches exceeds the fixed-point range", key: "out_of_range")
        }
        push.values.withUnsafeBufferPointer { sum.add(fixedPoint: $0, samples: push.samples) }
        for p in push.parts { count(Int(p.microBatch), loss: p.loss, correct: Int(p.correct)) }
        return progress()
    }

    /// Micro-batch ids of the open step not yet received.
    public var missing: [Int] { active ? counted.indices.filter { !counted[$0] } : [] }

    /// The exact mean gradient of the completed step.
    public func mean(into out: UnsafeMutableBufferPointer<Float>) { sum.mean(into: out) }
    /// Loss summed in micro-batch order (the same order as the single-process trainer).
    public var lossSum: Double { losses.reduce(0, +) }
    public var correct: Int { corrects.reduce(0, +) }
    public var samples: Int { sum.sampleCount }
}
