import ClusterRuntime
import Foundation
import StatusModel
import XCTest

@testable import Cluster

extension InMemoryClusterTests {
    /// Snapshots taken while a real coordinator trains in-memory workers (one killed mid-run)
    /// list the workers, their assignments and pushes, advance the step and grow the loss series.
    func testStatusSnapshotsFollowALiveCluster() throws {
        var tracker = StatusTracker()
        var snapshots: [StatusSnapshot] = []
        var latencies: [Double] = []
        var clock: UInt64 = 0
        func observe(_ c: Coordinator, _ now: UInt64) {
            clock = now
            let input = StatusInput(
                coordinator: c, controlEndpoint: nil, checkpoints: StatusSnapshot.CheckpointRow.list(c.trainer.runDirectory!.checkpoints),
                events: [])
            latencies += input.newLatencies
            snapshots.append(tracker.snapshot(input, now: now, wallTime: 0))
        }
        _ = try runCluster(
            workers: 3, kill: (victim: 1, atPush: 40), hostile: { c, now in observe(c, now) },
            inspect: { c in observe(c, clock + 1_000_000) })
        let training = snapshots.filter { $0.job.state == "training" }
        XCTAssertGreaterThan(training.count, 10)
        XCTAssertEqual(snapshots.map(\.progress.globalStep), snapshots.map(\.progress.globalStep).sorted(), "steps never go back")
        XCTAssertGreaterThan(snapshots.last!.progress.globalStep, snapshots.first!.progress.globalStep)
        XCTAssertEqual(Set(training.flatMap { $0.workers.map(\.name) }), ["w0", "w1", "w2"])
        XCTAssertTrue(training.contains { s in s.workers.contains { !$0.assigned.isEmpty } }, "open steps show assignments")
        let last = snapshots.last!
        XCTAssertEqual(last.workers.first { $0.name == "w1" }?.state, "dropped", "the killed worker is shown dropped")
        XCTAssertEqual(last.workers.first { $0.name == "w1" }?.drops, 1)
        XCTAssertEqual(last.workers.filter { $0.state == "ready" }.count, 2)
        XCTAssertEqual(last.job.state, "finished")
        XCTAssertEqual(last.workers.map(\.pushes).reduce(0, +), 2 * 9 * 6, "each micro-batch of 2 epochs is accepted once")
        XCTAssertGreaterThan(last.steps.count, 5, "the running loss series grows")
        XCTAssertFalse(latencies.isEmpty)
        XCTAssertTrue(latencies.allSatisfy { $0 >= 0 && $0.isFinite })
        XCTAssertEqual(last.pushLatency.count, latencies.count)
        XCTAssertFalse(last.checkpoints.isEmpty, "epoch-end checkpoints are listed")
        XCTAssertTrue(last.checkpoints.contains { $0.step == 9 && $0.bytes > 0 })
    }
}
