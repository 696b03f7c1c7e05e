import Foundation
import Training
import XCTest

@testable import Cluster

final class WorkerThroughputLogTests: XCTestCase {
    func testImagesPerSecondFromHeartbeatCounters() throws {
        var log = WorkerThroughputLog(interval: 1)
        XCTAssertEqual(
            log.sample([(1, "a", 0), (2, "b", 10)], now: 1_000_000_000, microBatch: 16, step: 0, wallTime: 100), [], "baseline only")
        XCTAssertEqual(
            log.sample([(1, "a", 5), (2, "b", 12)], now: 1_500_000_000, microBatch: 16, step: 3, wallTime: 100.5), [], "interval not over")
        let r = log.sample([(2, "b", 30), (1, "a", 20), (3, "c", 4)], now: 3_000_000_000, microBatch: 16, step: 9, wallTime: 102)
        // 2 s since the baseline: worker 1 computed 20 micro-batches of 16 (160 img/s), worker 2 20 (160), new worker 3 4 (32).
        XCTAssertEqual(r.map(\.worker), [1, 2, 3])
        XCTAssertEqual(r.map(\.imagesPerSecond), [160, 160, 32])
        XCTAssertEqual(r.map(\.step), [9, 9, 9])

        let path = NSTemporaryDirectory() + "digits-workers-\(UUID().uuidString).jsonl"
        try WorkerThroughputLog.append(r, to: path)
        try WorkerThroughputLog.append(Array(r.prefix(1)), to: path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(try JSONDecoder().decode(WorkerThroughputRecord.self, from: Data(lines[3].utf8)), r[0])
        XCTAssertTrue(lines[0].contains("\"images_per_second\":160"), String(lines[0]))
    }
}
