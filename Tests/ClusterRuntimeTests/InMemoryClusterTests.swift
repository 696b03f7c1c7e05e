import ClusterRuntime
import Foundation
import Logging
import MNISTData
import NeuralNet
import TestSupport
import Training
import WireProtocol
import XCTest

@testable import Cluster

/// The production coordinator and worker loops on an in-memory network: they must train the same
/// bits as the single-process Trainer, whatever the worker count and faults.
final class InMemoryClusterTests: XCTestCase {
    static let train = SyntheticData.dataset(count: 480, seed: 1, name: "train")
    static let test = SyntheticData.dataset(count: 100, seed: 2, name: "test")

    func config() -> TrainConfig {
        var c = TrainConfig()
        c.modelSpec = ModelSpec(name: "small", layers: [.conv(4), .pool(), .flatten, .dropout(0.2), .dense(10, activation: "softmax")])
        c.model = "small"
        c.training.epochs = 2
        c.training.batchSize = 48  // 432 training samples: 9 steps per epoch, 6 micro-batches each
        c.training.microBatch = 8
        c.training.threads = 1
        c.optimizer.learningRate = 0.01
        return c
    }

    func trainer(_ c: TrainConfig) throws -> Trainer {
        try Trainer(
            config: c, data: TrainingData(train: Self.train, test: Self.test, directory: "synthetic", config: c),
            logger: Logger(label: "test"))
    }

    func tempRun() -> RunDirectory { RunDirectory(NSTemporaryDirectory() + "digits-cluster-\(UUID().uuidString)") }

    /// Runs the production coordinator and worker loops on one in-memory network, one pass each per
    /// simulated millisecond, until the job finishes. Faults act on the network and on the processes:
    /// `kill` stops a worker (kill -9) at its Nth gradient push, which never arrives; `duplicate`
    /// delivers every worker's data message twice; `partition` cuts one worker off for a while
    /// (its links down and its process paused);
    /// `replaceAllAtPush` kills every worker at once and starts as many new ones (a launcher
    /// restarting them); `stallAtRound` makes the coordinator busy for 10 s, then tick before reading.
    func runCluster(
        workers n: Int, kill: (victim: Int, atPush: Int)? = nil, duplicate: Bool = false,
        hostile: ((Coordinator, UInt64) throws -> Void)? = nil, stallAtRound: Int? = nil,
        partition: (victim: Int, fromRound: Int, rounds: Int)? = nil, replaceAllAtPush: Int? = nil,
        inspect: ((Coordinator) -> Void)? = nil, config custom: TrainConfig? = nil, servers: Int = 1
    ) throws -> RunSummary {
        var clock: UInt64 = 1_000_000_000
        let now = { clock }
        let logger = Logger(label: "test")
        let network = InMemoryNetwork()
        let t = try trainer(custom ?? config())
        let coordinatorTransport = network.transport(named: "coordinator")
        let sockets = try CoordinatorSockets(transport: coordinatorTransport, bind: "inproc://control", dataBind: nil)
        var settings = CoordinatorSettings(minWorkers: n, serverEndpoint: sockets.dataEndpoint, servers: servers)
        settings.heartbeatDeadlineSeconds = 1
        let coordinator = try Coordinator(trainer: t, settings: settings, jobID: 42, logger: logger, now: clock)
        try t.begin(in: tempRun(), workers: n)
        let loop = CoordinatorLoop(coordinator: coordinator, transport: coordinatorTransport, sockets: sockets, logger: logger, clock: now)
        // Parameter-server shards as their own processes (K >= 2).
        let shards =
            servers < 2
            ? []
            : try (1...servers).map { k in
                try ShardLoop(
                    name: "s\(k)", host: "memory", transport: network.transport(named: "s\(k)"), coordinator: sockets.controlEndpoint,
                    bind: "inproc://shard-\(k)", advertise: nil, logger: logger, clock: now)
            }
        for shard in shards { XCTAssertNil(try shard.start()) }

        var transports: [InMemoryTransport] = []
        var workers: [WorkerLoop] = []
        var alive: [Bool] = []
        func startWorker() throws {
            let i = workers.count
            let transport = network.transport(named: "w\(i)")
            // Compute time on the simulated clock (zero): the split stays round robin whatever the machine's load.
            let node = WorkerNode(name: "w\(i)", host: "memory", localData: nil, logger: logger, now: clock)
            let w = try WorkerLoop(node: node, transport: transport, coordinator: sockets.controlEndpoint, logger: logger, clock: now)
            transports.append(transport)
            workers.append(w)
            alive.append(true)
            XCTAssertNil(try w.start())
        }
        func stop(_ i: Int) {
            alive[i] = false
            transports[i].close()
        }
        var rounds = 0
        var dead: Set<String> = []
        func cut(_ i: Int) -> Bool {
            guard let p = partition, p.victim == i else { return false }
            return rounds >= p.fromRound && rounds < p.fromRound + p.rounds
        }
        func computed() -> Int { workers.reduce(0) { $0 + Int($1.node.computed) } }
        network.fault = { hop, frames in
            if dead.contains(hop.from) || dead.contains(hop.to) { return 0 }
            if let p = partition, cut(p.victim), hop.from == "w\(p.victim)" || hop.to == "w\(p.victim)" { return 0 }
            guard hop.from.hasPrefix("w"), hop.endpoint == sockets.dataEndpoint else { return 1 }
            // Dies silently (kill -9) right after computing a micro-batch: what it was sending never arrives.
            if let kill, hop.from == "w\(kill.victim)", computed() >= kill.atPush {
                dead.insert(hop.from)
                return 0
            }
            return duplicate ? 2 : 1
        }
        for _ in 0..<n { try startWorker() }
        var summary: RunSummary?
        func record(_ outcome: CoordinatorOutcome?) {
            switch outcome {
            case .finished(let s): summary = s
            case .failed(let m), .interrupted(let m): XCTFail(m)
            case .stopped(let sig): XCTFail("stopped on signal \(sig)")
            case nil: break
            }
        }
        while summary == nil {
            rounds += 1
            XCTAssertLessThan(rounds, 100_000, "no progress")
            if rounds >= 100_000 { break }
            clock += 1_000_000  // 1 ms per round
            if rounds == stallAtRound {
                // The coordinator was busy for 10 s and ticks before reading the queued heartbeats.
                clock += 10_000_000_000
                record(try loop.tick())
            }
            record(try loop.runOnce(timeoutMilliseconds: 0))
            if summary != nil { break }
            for shard in shards {
                if let outcome = try shard.runOnce(timeoutMilliseconds: 0) { XCTFail("shard \(shard.node.name) ended: \(outcome.reason)") }
            }
            for i in workers.indices where alive[i] && !cut(i) {
                if let outcome = try workers[i].runOnce() {
                    XCTAssertEqual(outcome.code, 0, "worker \(i): \(outcome.reason)")
                    alive[i] = false
                }
                if dead.contains("w\(i)") { stop(i) }
            }
            if let r = replaceAllAtPush, computed() >= r, workers.count == n {
                for i in 0..<n {
                    dead.insert("w\(i)")
                    stop(i)
                }
                for _ in 0..<n { try startWorker() }
            }
            if rounds % 7 == 0 { try hostile?(coordinator, clock) }
        }
        inspect?(coordinator)
        return try XCTUnwrap(summary)
    }

    func testAnyWorkerCountGivesTheSingleProcessWeights() throws {
        let reference = try trainer(config()).run(in: tempRun())
        for n in [1, 2, 3] {
            XCTAssertEqual(try runCluster(workers: n).weightsSHA256, reference.weightsSHA256, "\(n) worker(s)")
        }
    }

    /// Parameter-server shards in their own (simulated) processes train the same bits.
    func testShardedParameterServersGiveTheSingleProcessWeights() throws {
        let reference = try trainer(config()).run(in: tempRun())
        for (n, k) in [(1, 2), (2, 2), (3, 3)] {
            XCTAssertEqual(try runCluster(workers: n, servers: k).weightsSHA256, reference.weightsSHA256, "\(n) worker(s), \(k) shards")
        }
    }

    /// The tuning features (batch norm, augmentation, one-cycle schedule, weight decay, label smoothing)
    /// keep the promise: any worker count trains the single-process bits.
    func testRecipeFeaturesGiveTheSingleProcessWeightsOnAnyWorkerCount() throws {
        var c = config()
        c.modelSpec = ModelSpec(
            name: "small-bn",
            layers: [
                .conv(8), .pool(), .batchNorm, .flatten, .dense(16, activation: "relu"), .batchNorm,
                .dropout(0.2), .dense(10, activation: "softmax")
            ])
        c.schedule.kind = .oneCycle
        c.optimizer.weightDecay = 1e-4
        c.labelSmoothing = 0.1
        c.augment = .standardDigits
        c.augment.elasticAlpha = 8
        c.training.batchNormSamples = 100
        let reference = try trainer(c).run(in: tempRun())
        var threaded = c
        threaded.training.threads = 3
        XCTAssertEqual(try trainer(threaded).run(in: tempRun()).weightsSHA256, reference.weightsSHA256, "3 threads")
        for n in [1, 2, 3] {
            XCTAssertEqual(try runCluster(workers: n, config: c).weightsSHA256, reference.weightsSHA256, "\(n) worker(s)")
        }
        var plain = c
        plain.augment = AugmentSettings()
        XCTAssertNotEqual(try trainer(plain).run(in: tempRun()).weightsSHA256, reference.weightsSHA256, "augmentation must change training")
    }

    func testAWorkerKilledMidStepChangesNothing() throws {
        let reference = try trainer(config()).run(in: tempRun())
        // Worker 1 dies after its 40th micro-batch (mid-epoch, mid-step): its missing micro-batches
        // are reassigned after the heartbeat deadline.
        let summary = try runCluster(workers: 3, kill: (victim: 1, atPush: 40))
        XCTAssertEqual(summary.weightsSHA256, reference.weightsSHA256)
    }

    /// Every worker dies mid-step and replacements join before the coordinator notices (a launcher
    /// restarting them): the replacements hold no weights for the open step, so instead of being
    /// handed its orphaned micro-batches the step starts again on them. The same bits.
    func testAllWorkersReplacedMidStepChangesNothing() throws {
        let reference = try trainer(config()).run(in: tempRun())
        var joined = 0
        var alive = 0
        let summary = try runCluster(
            workers: 2, replaceAllAtPush: 41,
            inspect: { c in
                joined = c.workers.count
                alive = c.workers.values.filter(\.alive).count
            })
        XCTAssertEqual(joined, 4)
        XCTAssertEqual(alive, 2, "the two first workers were dropped")
        XCTAssertEqual(summary.weightsSHA256, reference.weightsSHA256)
    }

    /// A worker that repeats its hello while the coordinator is busy is registered once, not once
    /// per hello (each would be a phantom worker dropped later).
    func testRepeatedHellosRegisterOneWorker() throws {
        let t = try trainer(config())
        let coordinator = try Coordinator(
            trainer: t, settings: CoordinatorSettings(minWorkers: 2, serverEndpoint: "inproc://server"),
            jobID: 7, logger: Logger(label: "test"), now: 1)
        let hello = WireCodec.encode(
            Envelope(
                jobID: 0, sender: 0, step: 0,
                message: .hello(
                    Hello(
                        role: .worker, name: "w", host: "h", pid: 1,
                        numerics: NumericsFingerprint.current.description))))
        var welcomes = 0
        for _ in 0..<4 {
            for action in try coordinator.control(peer: [1], frames: hello, now: 2) {
                if case .sendControl(_, let frames) = action, case .welcome = try WireCodec.decode(frames).message { welcomes += 1 }
            }
        }
        XCTAssertEqual(coordinator.workers.count, 1)
        XCTAssertEqual(welcomes, 1)
        _ = try coordinator.control(peer: [2], frames: hello, now: 3)
        XCTAssertEqual(coordinator.workers.count, 2, "another peer is another worker")
    }

    func hello(numerics: String, name: String = "odd") -> [[UInt8]] {
        WireCodec.encode(
            Envelope(
                jobID: 0, sender: 0, step: 0,
                message: .hello(
                    Hello(
                        role: .worker, name: name, host: "elsewhere", pid: 1,
                        numerics: numerics))))
    }

    func testAWorkerWithAnotherNumericsFingerprintIsRefusedWithBothNamed() throws {
        var settings = CoordinatorSettings(minWorkers: 1, serverEndpoint: "inproc://server")
        settings.host = "here"
        let coordinator = try Coordinator(
            trainer: try trainer(config()), settings: settings, jobID: 7, logger: Logger(label: "test"), now: 1)
        let mine = NumericsFingerprint.current.description
        for theirs in ["ks2-x86-64-v3-fma/0123456789abcdef", ""] {
            let actions = try coordinator.control(peer: [1], frames: hello(numerics: theirs), now: 2)
            XCTAssertEqual(actions.count, 1)
            guard case .sendControl(_, let frames) = actions.first, case .reject(let r) = try WireCodec.decode(frames).message else {
                return XCTFail("expected a Reject, got \(actions)")
            }
            XCTAssertTrue(r.reason.hasPrefix(Reject.refusedPrefix), r.reason)
            for needle in ["odd@elsewhere", theirs.isEmpty ? "(none)" : theirs, "here", mine, "--allow-mixed-numerics"] {
                XCTAssertTrue(r.reason.contains(needle), "\(needle) in \(r.reason)")
            }
        }
        XCTAssertEqual(coordinator.workers.count, 0, "a refused worker is not registered")
        XCTAssertEqual(coordinator.rejected["numerics"], 2)
        XCTAssertEqual(coordinator.mixedNumericsPeers, [])
        _ = try coordinator.control(peer: [2], frames: hello(numerics: mine, name: "even"), now: 3)
        XCTAssertEqual(coordinator.workers.count, 1, "the same fingerprint is admitted")
    }

    func testMixedNumericsAreAdmittedAndRecordedWhenAllowed() throws {
        var settings = CoordinatorSettings(minWorkers: 1, serverEndpoint: "inproc://server")
        settings.allowMixedNumerics = true
        let coordinator = try Coordinator(
            trainer: try trainer(config()), settings: settings, jobID: 7, logger: Logger(label: "test"), now: 1)
        let actions = try coordinator.control(peer: [1], frames: hello(numerics: "ks9-other/ffff"), now: 2)
        guard case .sendControl(_, let frames) = actions.first, case .welcome = try WireCodec.decode(frames).message else {
            return XCTFail("expected a Welcome, got \(actions)")
        }
        XCTAssertEqual(coordinator.workers.count, 1)
        XCTAssertEqual(coordinator.mixedNumericsPeers, ["odd@elsewhere ks9-other/ffff"])
    }

    func testARefusedWorkerExitsWithTheReason() throws {
        let node = WorkerNode(name: "w", host: "h", localData: nil, logger: Logger(label: "test"), now: 1)
        _ = node.start(now: 1)
        let refusal = WireCodec.encode(
            Envelope(jobID: 9, sender: 0, step: 0, message: .reject(Reject(reason: Reject.refusedPrefix + "numerics differ"))))
        let actions = try node.control(refusal, now: 2)
        guard case .exit(let code, let reason) = actions.first else { return XCTFail("expected an exit, got \(actions)") }
        XCTAssertEqual(code, 2)
        XCTAssertTrue(reason.contains("numerics differ"), reason)
    }

    func testDuplicatePushesAreCountedOnce() throws {
        let reference = try trainer(config()).run(in: tempRun())
        XCTAssertEqual(try runCluster(workers: 2, duplicate: true).weightsSHA256, reference.weightsSHA256)
    }

    /// Every kind of hostile message is refused with a counted reason, and the run's weights do
    /// not change.
    func testHostileMessagesAreRejectedAndChangeNothing() throws {
        let reference = try trainer(config()).run(in: tempRun())
        var counts: [String: Int] = [:]
        let summary = try runCluster(
            workers: 2,
            hostile: { c, now in
                let job = c.jobID
                func push(_ step: UInt64, sender: UInt32, values: [Float], mb: UInt32 = 0) -> [[UInt8]] {
                    WireCodec.encode(
                        Envelope(
                            jobID: job, sender: sender, step: step,
                            message: .gradientPush(
                                GradientPush(
                                    microBatch: mb, samples: 8, loss: 1, correct: 0, offset: 0, values: values))))
                }
                let p = c.trainer.model.parameterCount
                let step = UInt64(c.trainer.progress.globalStep)
                let peer1 = try XCTUnwrap(c.workers[1]?.dataPeer, "worker 1's data connection")
                // garbage, a truncated header, a wrong version
                _ = try c.data(peer: peer1, frames: [[1, 2, 3]], now: now)
                _ = try c.control(peer: [9], frames: [Array(repeating: 0xFF, count: 40), []], now: now)
                var v2 = push(step, sender: 1, values: [Float](repeating: 0, count: p))
                v2[0][4] = UInt8(WireCodec.version + 1)
                _ = try c.data(peer: peer1, frames: v2, now: now)
                // wrong job, unknown sender, sender on the wrong peer
                _ = try c.data(
                    peer: peer1,
                    frames: WireCodec.encode(
                        Envelope(jobID: job &+ 1, sender: 1, step: step, message: .heartbeat(Heartbeat(workerID: 1, computed: 0)))),
                    now: now)
                _ = try c.data(peer: [77], frames: push(step, sender: 99, values: [Float](repeating: 0, count: p)), now: now)
                _ = try c.control(
                    peer: [77], frames: WireCodec.encode(Envelope(jobID: job, sender: 1, step: 0, message: .ready(Ready(workerID: 1)))),
                    now: now)
                // wrong tensor size, NaN, Inf, stale and future steps, micro-batch out of range
                _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: 0, count: p - 1)), now: now)
                _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: .nan, count: p), mb: 1), now: now)
                _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: .infinity, count: p), mb: 1), now: now)
                if step > 0 {
                    _ = try c.data(peer: peer1, frames: push(step - 1, sender: 1, values: [Float](repeating: 1, count: p)), now: now)
                }
                _ = try c.data(peer: peer1, frames: push(step + 1, sender: 1, values: [Float](repeating: 1, count: p)), now: now)
                _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: 1, count: p), mb: 999), now: now)
                counts = c.rejected.merging(c.server.rejections) { $0 + $1 }
            })
        XCTAssertEqual(summary.weightsSHA256, reference.weightsSHA256, "hostile traffic must not change the result")
        for key in ["malformed", "wrong_job", "unknown_sender", "bad_size", "non_finite", "future_step", "bad_micro_batch"] {
            XCTAssertGreaterThan(counts[key] ?? 0, 0, "no rejection counted for \(key): \(counts)")
        }
    }

    func testACoordinatorBusySpellDropsNoWorker() throws {
        let reference = try trainer(config()).run(in: tempRun())
        var dropped = -1
        let summary = try runCluster(workers: 2, stallAtRound: 30, inspect: { c in dropped = c.workers.values.filter { !$0.alive }.count })
        XCTAssertEqual(dropped, 0, "workers were blamed for the coordinator's own silence")
        XCTAssertEqual(summary.weightsSHA256, reference.weightsSHA256)
    }

    /// A worker cut off past the heartbeat deadline is dropped; when the link returns it is told to
    /// rejoin, does, and the result is unchanged.
    func testAPartitionedWorkerIsDroppedThenRejoins() throws {
        let reference = try trainer(config()).run(in: tempRun())
        var joined = 0
        let summary = try runCluster(
            workers: 2, partition: (victim: 1, fromRound: 20, rounds: 1030),
            inspect: { c in joined = c.workers.count })
        XCTAssertEqual(joined, 3, "the partitioned worker registered again under a new id")
        XCTAssertEqual(summary.weightsSHA256, reference.weightsSHA256)
    }
}
