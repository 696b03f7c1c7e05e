import Foundation
import StatusModel
import XCTest

@testable import Cluster
@testable import Training

/// The status snapshot builder: rates, ETA, worker rows, the live loss series, from plain inputs
/// and from a real coordinator driving in-memory workers.
final class StatusTrackerTests: XCTestCase {
    static let second: UInt64 = 1_000_000_000

    func input(
        step: Int, images: Int, workers: [Coordinator.WorkerInfo] = [], phase: String = "training",
        progress: TrainingProgress? = nil, latencies: [Double] = []
    ) -> StatusInput {
        var p = progress ?? TrainingProgress()
        if progress == nil {
            p.globalStep = step
            p.epoch = step / 10
            p.stepInEpoch = step % 10
            p.trainImages = images
            p.epochSamples = (step % 10) * 32
            p.epochLossSum = Double(p.epochSamples) * (2.0 / Double(step + 1))
            p.epochCorrect = p.epochSamples / 2
        }
        let job = StatusSnapshot.Job(
            state: phase, model: "small", parameters: 1234, mode: "sync", seed: 7, batchSize: 32, microBatch: 8,
            workersExpected: 2, servers: 1, runDirectory: "/tmp/run", controlEndpoint: "tcp://127.0.0.1:5555",
            time: 0, elapsedSeconds: 0)
        return StatusInput(
            job: job, epochs: 5, stepsPerEpoch: 10, progress: p, workers: workers, drops: ["w2": 1],
            rejected: ["stale_step": 3], newLatencies: latencies, checkpoints: [], events: [])
    }

    func worker(
        _ id: UInt32, _ name: String, ready: Bool = true, alive: Bool = true, lastSeen: UInt64, samples: UInt64 = 0,
        computed: UInt64 = 0, assigned: [Int] = []
    ) -> Coordinator.WorkerInfo {
        var w = Coordinator.WorkerInfo(id: id, name: name, host: "h\(id)", controlPeer: [UInt8(id)], lastSeen: lastSeen)
        w.ready = ready
        w.alive = alive
        w.samples = samples
        w.computed = computed
        w.assigned = assigned
        return w
    }

    func testRatesEtaAndProgressComeFromTheWindow() {
        var t = StatusTracker()
        let t0: UInt64 = 100 * Self.second
        let first = t.snapshot(input(step: 0, images: 0), now: t0, wallTime: 1000)
        XCTAssertEqual(first.progress.imagesPerSecond, 0)
        XCTAssertNil(first.progress.etaSeconds, "no rate yet, no ETA")
        XCTAssertEqual(first.job.state, "training")
        // 4 steps of 32 images in 2 s: 2 steps/s, 64 images/s; 50 - 4 = 46 steps left: 23 s.
        let s = t.snapshot(input(step: 4, images: 128), now: t0 + 2 * Self.second, wallTime: 1002)
        XCTAssertEqual(s.progress.stepsPerSecond, 2, accuracy: 1e-9)
        XCTAssertEqual(s.progress.imagesPerSecond, 64, accuracy: 1e-9)
        XCTAssertEqual(s.progress.etaSeconds ?? -1, 23, accuracy: 1e-9)
        XCTAssertEqual(s.progress.totalSteps, 50)
        XCTAssertEqual(s.progress.fraction, 4.0 / 50, accuracy: 1e-12)
        XCTAssertEqual(s.progress.epoch, 1)
        XCTAssertEqual(s.progress.stepInEpoch, 4)
        XCTAssertEqual(s.job.elapsedSeconds, 2, accuracy: 1e-9)
        XCTAssertEqual(s.job.time, 1002)
        XCTAssertEqual(s.rejected, ["stale_step": 3])
        // Samples older than the window no longer count: 20 s later at a slower pace.
        _ = t.snapshot(input(step: 8, images: 256), now: t0 + 12 * Self.second, wallTime: 1012)
        let later = t.snapshot(input(step: 9, images: 288), now: t0 + 22 * Self.second, wallTime: 1022)
        XCTAssertEqual(later.progress.stepsPerSecond, 0.1, accuracy: 1e-9, "only the last 10 s count")
    }

    func testWorkerRowsShowStateHeartbeatAgeAndThroughput() {
        var t = StatusTracker()
        let t0: UInt64 = 50 * Self.second
        let ws0 = [
            worker(2, "w2", alive: false, lastSeen: t0 - 9 * Self.second),
            worker(1, "w1", lastSeen: t0, samples: 0, assigned: [0, 2]),
            worker(3, "w3", ready: false, lastSeen: t0)
        ]
        _ = t.snapshot(input(step: 1, images: 32, workers: ws0), now: t0, wallTime: 0)
        let ws1 = [
            worker(1, "w1", lastSeen: t0 + Self.second / 2, samples: 400, assigned: [0, 2]),
            worker(2, "w2", alive: false, lastSeen: t0 - 9 * Self.second),
            worker(3, "w3", lastSeen: t0 + 2 * Self.second, computed: 10)
        ]
        let s = t.snapshot(input(step: 5, images: 160, workers: ws1), now: t0 + 2 * Self.second, wallTime: 2)
        XCTAssertEqual(s.workers.map(\.id), [1, 2, 3], "sorted by id")
        XCTAssertEqual(s.workers.map(\.state), ["ready", "dropped", "ready"])
        XCTAssertEqual(s.workers[0].lastHeartbeatSeconds, 1.5, accuracy: 1e-9)
        XCTAssertEqual(s.workers[1].lastHeartbeatSeconds, 11, accuracy: 1e-9)
        XCTAssertEqual(s.workers[0].assigned, [0, 2])
        XCTAssertEqual(s.workers[0].imagesPerSecond, 200, accuracy: 1e-9, "400 pushed images in 2 s")
        XCTAssertEqual(s.workers[2].imagesPerSecond, 40, accuracy: 1e-9, "sharded: 10 computed micro-batches of 8 in 2 s")
        XCTAssertEqual(s.workers[1].imagesPerSecond, 0, "a dropped worker computes nothing")
        XCTAssertEqual(s.workers[1].drops, 1)
        XCTAssertEqual(s.workers[0].drops, 0)
    }

    func testTheLossSeriesFollowsStepsAndIsThinnedEvenly() {
        var t = StatusTracker()
        var now: UInt64 = Self.second
        for step in 1...(StatusTracker.maxStepPoints + 50) {
            now += Self.second / 10
            _ = t.snapshot(input(step: step, images: step * 32), now: now, wallTime: 0)
        }
        let s = t.snapshot(input(step: StatusTracker.maxStepPoints + 50, images: 0), now: now + 1, wallTime: 0)
        XCTAssertLessThanOrEqual(s.steps.count, StatusTracker.maxStepPoints)
        XCTAssertGreaterThan(s.steps.count, StatusTracker.maxStepPoints / 3)
        XCTAssertEqual(s.steps.map(\.step), s.steps.map(\.step).sorted(), "in step order")
        XCTAssertEqual(
            s.steps.last?.step, StatusTracker.maxStepPoints + 49, "the newest point stays (step 450 is an epoch boundary: no running loss)")
        XCTAssertLessThan(s.steps.first!.step, 10, "thinning keeps the start of the run")
        // Epoch boundaries (no samples in the running sums) add no point.
        XCTAssertFalse(s.steps.contains { $0.step % 10 == 0 })
        let p = s.steps.last!
        XCTAssertEqual(p.loss, 2.0 / Double(p.step + 1), accuracy: 1e-12)
        XCTAssertEqual(p.accuracy, 0.5, accuracy: 1e-12)
    }

    func testFinalStateLatencySummaryAndJSON() throws {
        var t = StatusTracker()
        var p = TrainingProgress()
        p.globalStep = 50
        p.epoch = 5
        p.finished = true
        p.history = [
            EpochRecord(
                epoch: 1, step: 10, trainLoss: 0.5, trainAccuracy: 0.8, valLoss: 0.4, valAccuracy: 0.85,
                learningRate: 0.001, epochSeconds: 1, elapsedSeconds: 2, imagesPerSecond: 300)
        ]
        let latencies = (1...100).map { Double($0) / 1000 }
        var s = t.snapshot(input(step: 0, images: 0, phase: "finished", progress: p, latencies: latencies), now: Self.second, wallTime: 0)
        XCTAssertEqual(s.job.state, "finished")
        XCTAssertEqual(s.progress.etaSeconds, 0)
        XCTAssertEqual(s.progress.fraction, 1)
        XCTAssertEqual(s.progress.epoch, 5)
        XCTAssertEqual(s.progress.stepInEpoch, 10, "a finished run shows its last epoch complete")
        XCTAssertEqual(s.pushLatency.count, 100)
        XCTAssertEqual(s.pushLatency.p50 ?? 0, 0.050, accuracy: 1e-12)
        XCTAssertEqual(s.pushLatency.p95 ?? 0, 0.095, accuracy: 1e-12)
        XCTAssertEqual(s.pushLatency.max ?? 0, 0.100, accuracy: 1e-12)
        XCTAssertEqual(s.pushLatency.mean ?? 0, 0.0505, accuracy: 1e-12)
        XCTAssertEqual(s.history.map(\.valAccuracy), [0.85])
        t.finalState = ("failed", "no live workers")
        s = t.snapshot(input(step: 0, images: 0, progress: p), now: 2 * Self.second, wallTime: 0)
        XCTAssertEqual(s.job.state, "failed")
        XCTAssertEqual(s.job.message, "no live workers")
        XCTAssertEqual(s.pushLatency.count, 100, "the run total stays")
        let json = try JSONSerialization.jsonObject(with: s.json()) as! [String: Any]
        let progress = json["progress"] as! [String: Any]
        XCTAssertEqual(progress["global_step"] as? Int, 50)
        XCTAssertNotNil(json["push_latency"])
        XCTAssertEqual(((json["history"] as! [[String: Any]])[0])["val_accuracy"] as? Double, 0.85)
        XCTAssertEqual(try JSONDecoder().decode(StatusSnapshot.self, from: s.json()), s, "round trip")
    }
}
