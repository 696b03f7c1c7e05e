// A hook for whoever watches training as it happens (TensorBoard event files, a status page):
// the Trainer tells its observers about every completed step and every finished epoch.

/// One completed optimizer step, as the Trainer recorded it.
public struct StepRecord: Equatable, Sendable {
    /// 1-based epoch the step belongs to.
    public var epoch: Int
    /// Steps completed in total, this one included (the TensorBoard step).
    public var globalStep: Int
    /// Loss summed over the step's samples.
    public var lossSum: Double
    public var correct: Int
    public var samples: Int
    /// Wall seconds the step took (compute, plus communication in a cluster).
    public var seconds: Double
    public var learningRate: Double

    public init(epoch: Int, globalStep: Int, lossSum: Double, correct: Int, samples: Int, seconds: Double, learningRate: Double) {
        self.epoch = epoch
        self.globalStep = globalStep
        self.lossSum = lossSum
        self.correct = correct
        self.samples = samples
        self.seconds = seconds
        self.learningRate = learningRate
    }
}

/// Called on the training thread; must be quick and must not throw (a failing observer logs
/// and carries on: watching never stops training).
public protocol TrainingObserver: AnyObject {
    func trainingCompleted(step: StepRecord)
    /// The epoch's record, exactly as appended to metrics.jsonl.
    func trainingCompleted(epoch: EpochRecord)
}
