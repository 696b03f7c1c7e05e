import Foundation
import Logging
import MNISTData
import NeuralNet
import TestSupport
import Training
import WireProtocol
import XCTest

@testable import Cluster

/// What a worker pushes for the micro-batches it is assigned: one exact fixed-point sum of all but
/// the last of each Assignment, then the last as Float32; async mode pushes every one as Float32.
final class WorkerNodeTests: XCTestCase {
    let logger = Logger(label: "test")

    func readyWorker(mode: TrainConfig.Schedule.Mode = .sync, servers: Int = 1) throws -> WorkerNode {
        let data = SyntheticData.dataset(count: 96, seed: 3, name: "train")
        var c = TrainConfig()
        c.modelSpec = ModelSpec(name: "small", layers: [.conv(4), .pool(), .flatten, .dense(10, activation: "softmax")])
        c.model = "small"
        c.training.batchSize = 48
        c.training.microBatch = 8
        c.training.mode = mode
        let node = WorkerNode(name: "w", host: "memory", localData: data, logger: logger, now: 0)
        let welcome = Welcome(
            workerID: 1, config: Array(try JSONEncoder().encode(c)), serverEndpoints: (0..<servers).map { "inproc://s\($0)" },
            heartbeatMilliseconds: 500, shipsData: false, dataSHA256: Coordinator.trainingSetSHA256(data),
            trainCount: UInt32(data.count), rows: 28, cols: 28)
        _ = try node.control(WireCodec.encode(Envelope(jobID: 9, sender: 0, step: 0, message: .welcome(welcome))), now: 0)
        XCTAssertEqual(node.state, .ready)
        let count = try Sequential(spec: c.modelSpec).parameterCount
        for s in 0..<servers {
            let r = KeyRanges.range(shard: s, of: servers, parameters: count)
            _ = try node.data(
                WireCodec.encode(
                    Envelope(
                        jobID: 9, sender: 0, step: 0,
                        message: .weights(
                            Weights(
                                offset: UInt64(r.lowerBound), values: [Float](repeating: 0.01, count: r.count))))), now: 0)
        }
        return node
    }

    func assign(_ node: WorkerNode, _ ids: [UInt32]) throws {
        _ = try node.control(
            WireCodec.encode(
                Envelope(
                    jobID: 9, sender: 0, step: 0,
                    message: .assignment(
                        Assignment(
                            epoch: 0, stepInEpoch: 0, microBatches: ids, view: 1)))), now: 0)
    }

    /// The pushes of one computeNext: ("sum", ids) or ("one", [id]) per message.
    func pushes(_ actions: [WorkerAction]) throws -> [String] {
        try actions.map { a in
            guard case .sendData(_, let frames) = a else { return "other" }
            switch try WireCodec.decode(frames).message {
            case .gradientSum(let s): return "sum \(s.parts.map(\.microBatch)) @\(s.offset)"
            case .gradientPush(let p): return "one \(p.microBatch) @\(p.offset)"
            default: return "other"
            }
        }
    }

    func testAllButTheLastGoInOneSumAndAssignmentsAreNeverMixed() throws {
        let node = try readyWorker()
        try assign(node, [0, 2, 4])
        XCTAssertEqual(try pushes(node.computeNext()), [])
        XCTAssertEqual(try pushes(node.computeNext()), ["sum [0, 2] @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 4 @0"])
        XCTAssertFalse(node.hasWork)
        // Work reassigned later in the same step: its own sum, never merged with the first.
        try assign(node, [1, 3, 5])
        XCTAssertEqual(try pushes(node.computeNext()), [])
        try assign(node, [])  // an empty assignment changes nothing
        XCTAssertEqual(try pushes(node.computeNext()), ["sum [1, 3] @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 5 @0"])
        // A single micro-batch goes as Float32 alone.
        try assign(node, [0])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 0 @0"])
    }

    func testASecondAssignmentArrivingMidSumStartsItsOwnSum() throws {
        let node = try readyWorker()
        try assign(node, [0, 2, 4])
        XCTAssertEqual(try pushes(node.computeNext()), [])
        try assign(node, [1, 3])
        XCTAssertEqual(try pushes(node.computeNext()), ["sum [0, 2] @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 4 @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["sum [1] @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 3 @0"])
    }

    func testEveryShardGetsItsSliceOfEachPush() throws {
        let node = try readyWorker(servers: 2)
        try assign(node, [3, 5])
        let half = node.shardRanges[1].lowerBound
        XCTAssertEqual(try pushes(node.computeNext()), ["sum [3] @0", "sum [3] @\(half)"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 5 @0", "one 5 @\(half)"])
    }

    func testAsyncModePushesEachMicroBatch() throws {
        let node = try readyWorker(mode: .async)
        try assign(node, [0, 2, 4])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 0 @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 2 @0"])
        XCTAssertEqual(try pushes(node.computeNext()), ["one 4 @0"])
    }
}
