// Builds StatusSnapshots from plain values read off the coordinator. Pure: time comes in as
// arguments; the tracker keeps only what rates and series need (a short window of samples).
import Foundation
import StatusModel
import Training

/// What one snapshot is built from; `StatusInput(coordinator:...)` reads it off a live coordinator.
public struct StatusInput {
    /// The job as the snapshot shows it, with `state` the coordinator's phase (waiting, training
    /// or finished). The tracker fills in `time` and `elapsedSeconds`, and sets `state` and
    /// `message` when the job has ended (`StatusTracker.finalState`).
    public var job: StatusSnapshot.Job
    public var epochs: Int
    public var stepsPerEpoch: Int
    public var progress: TrainingProgress
    public var workers: [Coordinator.WorkerInfo]
    public var drops: [String: Int]
    public var rejected: [String: Int]
    /// Push latencies (seconds) measured since the previous snapshot.
    public var newLatencies: [Double]
    public var checkpoints: [StatusSnapshot.CheckpointRow]
    public var events: [StatusSnapshot.Event]
}

public struct StatusTracker {
    public static let maxStepPoints = 400
    /// Seconds of history behind the images/s and steps/s rates.
    public static let rateWindow = 10.0
    static let recentLatencies = 1000

    var start: UInt64?
    var jobSamples: [(t: UInt64, images: Int, steps: Int)] = []
    var workerSamples: [UInt32: [(t: UInt64, images: UInt64)]] = [:]
    var steps: [StatusSnapshot.StepPoint] = []
    var latencyCount = 0
    var latencies: [Double] = []
    /// Set by the loop when the job ends: overrides the coordinator's phase.
    public var finalState: (state: String, message: String?)?

    public init() {}

    /// The snapshot at monotonic time `now` (nanoseconds, the clock the coordinator uses) and
    /// wall-clock time `wallTime` (Unix seconds).
    public mutating func snapshot(_ input: StatusInput, now: UInt64, wallTime: Double) -> StatusSnapshot {
        let start = self.start ?? now
        self.start = start
        let p = input.progress
        let totalSteps = input.epochs * input.stepsPerEpoch
        let finished = p.finished || input.job.state == "finished"

        let (stepsPerSecond, imagesPerSecond) = recordJob(now: now, images: p.trainImages, steps: p.globalStep)
        recordStep(p)
        latencyCount += input.newLatencies.count
        latencies += input.newLatencies
        if latencies.count > Self.recentLatencies { latencies.removeFirst(latencies.count - Self.recentLatencies) }

        var eta: Double?
        if finished { eta = 0 } else if stepsPerSecond > 0 { eta = Double(max(0, totalSteps - p.globalStep)) / stepsPerSecond }

        let workers = input.workers.sorted { $0.id < $1.id }.map { w -> StatusSnapshot.WorkerRow in
            let images = w.samples > 0 ? w.samples : w.computed * UInt64(input.job.microBatch)
            return StatusSnapshot.WorkerRow(
                id: w.id, name: w.name, host: w.host, state: !w.alive ? "dropped" : (w.ready ? "ready" : "joining"),
                lastHeartbeatSeconds: now > w.lastSeen ? Double(now - w.lastSeen) / 1e9 : 0,
                assigned: w.alive ? w.assigned : [], computed: w.computed, pushes: w.pushes,
                imagesPerSecond: w.alive ? recordWorker(w.id, now: now, images: images) : 0,
                drops: input.drops[w.name] ?? 0, rejected: w.rejectedPushes)
        }
        var job = input.job
        job.state = finalState?.state ?? (finished ? "finished" : input.job.state)
        job.message = finalState?.message
        job.time = wallTime
        job.elapsedSeconds = Double(now &- start) / 1e9
        return StatusSnapshot(
            job: job,
            progress: .init(
                epoch: finished ? min(max(p.epoch, 1), max(input.epochs, 1)) : min(p.epoch + 1, max(input.epochs, 1)), epochs: input.epochs,
                stepInEpoch: finished && p.stepInEpoch == 0 ? input.stepsPerEpoch : p.stepInEpoch, stepsPerEpoch: input.stepsPerEpoch,
                globalStep: p.globalStep, totalSteps: totalSteps,
                fraction: finished ? 1 : Double(p.globalStep) / Double(max(totalSteps, 1)),
                etaSeconds: eta, imagesPerSecond: imagesPerSecond, stepsPerSecond: stepsPerSecond, trainImages: p.trainImages,
                epochLoss: p.epochSamples > 0 ? p.epochLossSum / Double(p.epochSamples) : nil,
                epochAccuracy: p.epochSamples > 0 ? Double(p.epochCorrect) / Double(p.epochSamples) : nil,
                bestEpoch: p.earlyStopping.map(\.bestEpoch).flatMap { $0 > 0 ? $0 : nil }, stoppedEarly: p.stoppedEarly),
            workers: workers,
            history: p.history.map {
                .init(
                    epoch: $0.epoch, step: $0.step, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy, valLoss: $0.valLoss,
                    valAccuracy: $0.valAccuracy, testAccuracy: $0.testAccuracy, imagesPerSecond: $0.imagesPerSecond,
                    elapsedSeconds: $0.elapsedSeconds)
            },
            steps: steps, checkpoints: input.checkpoints, events: input.events,
            rejected: input.rejected, pushLatency: .init(count: latencyCount, recent: latencies))
    }

    /// Adds a job sample and returns (steps/s, images/s) over the window.
    mutating func recordJob(now: UInt64, images: Int, steps: Int) -> (Double, Double) {
        // A resumed or restarted count going backwards restarts the window.
        if let last = jobSamples.last, last.images > images || last.steps > steps { jobSamples = [] }
        jobSamples.append((now, images, steps))
        let cutoff = now &- UInt64(Self.rateWindow * 1e9)
        while jobSamples.count > 2, jobSamples[1].t <= cutoff { jobSamples.removeFirst() }
        guard let first = jobSamples.first, let last = jobSamples.last, last.t > first.t else { return (0, 0) }
        let seconds = Double(last.t - first.t) / 1e9
        return (Double(last.steps - first.steps) / seconds, Double(last.images - first.images) / seconds)
    }

    mutating func recordWorker(_ id: UInt32, now: UInt64, images: UInt64) -> Double {
        var s = workerSamples[id] ?? []
        if let last = s.last, last.images > images { s = [] }
        s.append((now, images))
        let cutoff = now &- UInt64(Self.rateWindow * 1e9)
        while s.count > 2, s[1].t <= cutoff { s.removeFirst() }
        workerSamples[id] = s
        guard let first = s.first, let last = s.last, last.t > first.t else { return 0 }
        return Double(last.images - first.images) / (Double(last.t - first.t) / 1e9)
    }

    /// Appends the running loss of the epoch in progress when a step completed since the last
    /// snapshot; thins the series to every other point when it grows past `maxStepPoints`.
    mutating func recordStep(_ p: TrainingProgress) {
        guard p.epochSamples > 0, p.globalStep > (steps.last?.step ?? 0) else { return }
        steps.append(
            .init(
                step: p.globalStep, loss: p.epochLossSum / Double(p.epochSamples),
                accuracy: Double(p.epochCorrect) / Double(p.epochSamples)))
        if steps.count > Self.maxStepPoints {
            steps = steps.enumerated().filter { $0.offset % 2 == 1 || $0.offset == steps.count - 1 }.map(\.element)
        }
    }
}
