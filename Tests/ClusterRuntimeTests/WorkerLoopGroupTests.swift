import Cluster
import ClusterRuntime
import Foundation
import Logging
import MNISTData
import NeuralNet
import TestSupport
import Training
import XCTest

/// Production workers with a precomputed gradient, many on one thread (what `digits loadtest`
/// runs): the coordinator counts every micro-batch once and the job runs to its end.
final class WorkerLoopGroupTests: XCTestCase {
    func testPrecomputedWorkersOnOneThreadFinishTheJob() throws {
        let train = SyntheticData.dataset(count: 480, seed: 1, name: "train")
        let test = SyntheticData.dataset(count: 100, seed: 2, name: "test")
        var c = TrainConfig()
        c.modelSpec = ModelSpec(name: "small", layers: [.conv(4), .pool(), .flatten, .dense(10, activation: "softmax")])
        c.model = "small"
        c.training.epochs = 1
        c.training.batchSize = 48
        c.training.microBatch = 8
        c.training.threads = 1
        let logger = Logger(label: "test")
        let trainer = try Trainer(
            config: c, data: TrainingData(train: train, test: test, directory: "synthetic", config: c), logger: logger)
        var clock: UInt64 = 1_000_000_000
        let now = { clock }
        let network = InMemoryNetwork()
        let coordinatorTransport = network.transport(named: "coordinator")
        let sockets = try CoordinatorSockets(transport: coordinatorTransport, bind: "inproc://control", dataBind: nil)
        let settings = CoordinatorSettings(minWorkers: 3, serverEndpoint: sockets.dataEndpoint)
        let coordinator = try Coordinator(trainer: trainer, settings: settings, jobID: 7, logger: logger, now: clock)
        try trainer.begin(in: RunDirectory(NSTemporaryDirectory() + "digits-group-\(UUID().uuidString)"), workers: 3)
        let loop = CoordinatorLoop(coordinator: coordinator, transport: coordinatorTransport, sockets: sockets, logger: logger, clock: now)

        let parameters = try Sequential(spec: c.modelSpec).parameterCount
        let gradient = PrecomputedGradient(values: [Float](repeating: 1e-3, count: parameters), lossPerSample: 2.3)
        let workers = network.transport(named: "workers")
        let loops = try (1...3).map { i in
            try WorkerLoop(
                node: WorkerNode(
                    name: "w\(i)", host: "memory", localData: train, gradientSource: .precomputed(gradient),
                    logger: logger, now: clock),
                transport: workers, coordinator: sockets.controlEndpoint, logger: logger, clock: now)
        }
        let group = WorkerLoopGroup(loops: loops, transport: workers)
        try group.start()
        var summary: RunSummary?
        for _ in 0..<100_000 where summary == nil {
            clock += 1_000_000
            switch try loop.runOnce(timeoutMilliseconds: 0) {
            case .finished(let s): summary = s
            case .failed(let m)?, .interrupted(let m)?: return XCTFail(m)
            case .stopped?: return XCTFail("stopped")
            case nil: break
            }
            try group.runOnce(timeoutMilliseconds: 0)
        }
        XCTAssertNotNil(summary, "the job did not finish")
        XCTAssertEqual(coordinator.timing.steps, 9)  // 432 training samples (10% validation), batches of 48
        XCTAssertEqual(coordinator.workers.values.reduce(0) { $0 + $1.pushes }, 9 * 6, "every micro-batch counted once")
        XCTAssertEqual(coordinator.server.rejections, [:])
        XCTAssertEqual(coordinator.rejected, [:])
        XCTAssertTrue(loops.allSatisfy { $0.node.computed > 0 }, "every worker pushed")
    }
}
