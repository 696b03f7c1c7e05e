import Foundation
import Logging
import MNISTData
import NeuralNet
import Training
import WireProtocol
import TestSupport
import XCTest
@testable import Cluster

/// The coordinator and workers wired together in memory (no sockets): the state machines alone
/// must train the same bits as the single-process Trainer, whatever the worker count and faults.
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
        try Trainer(config: c, data: TrainingData(train: Self.train, test: Self.test, directory: "synthetic", config: c), logger: Logger(label: "test"))
    }

    func tempRun() -> RunDirectory { RunDirectory(NSTemporaryDirectory() + "digits-cluster-\(UUID().uuidString)") }

    /// Routes messages between one coordinator and `n` workers until the job finishes.
    /// `fault(step, round)` may return a worker index to kill at that point.
    func runCluster(workers n: Int, kill: (victim: Int, atPush: Int)? = nil, duplicate: Bool = false,
                    hostile: ((Coordinator, UInt64) throws -> Void)? = nil, stallAtRound: Int? = nil,
                    partition: (victim: Int, fromRound: Int, rounds: Int)? = nil, replaceAllAtPush: Int? = nil,
                    inspect: ((Coordinator) -> Void)? = nil, config custom: TrainConfig? = nil) throws -> RunSummary {
        var clock: UInt64 = 1_000_000_000
        let logger = Logger(label: "test")
        let t = try trainer(custom ?? config())
        var settings = CoordinatorSettings(minWorkers: n, serverEndpoint: "inproc://server")
        settings.heartbeatDeadlineSeconds = 1
        let coordinator = try Coordinator(trainer: t, settings: settings, jobID: 42, logger: logger, now: clock)
        try t.begin(in: tempRun(), workers: n)
        func node(_ i: Int) -> WorkerNode {
            let w = WorkerNode(name: "w\(i)", host: "memory", localData: nil, logger: logger, now: clock)
            // Compute time on the simulated clock (zero): the split stays round robin whatever the machine's load.
            w.clock = { clock }
            return w
        }
        var nodes = (0..<n).map(node)
        var alive = [Bool](repeating: true, count: n)
        var control: [(from: Int, frames: [[UInt8]])] = []
        var data: [(from: Int, frames: [[UInt8]])] = []
        var toWorkerControl = [[[[UInt8]]]](repeating: [], count: n)
        var toWorkerData = [[[[UInt8]]]](repeating: [], count: n)
        func peer(_ i: Int) -> [UInt8] { [UInt8(i)] }
        func handle(_ i: Int, _ actions: [WorkerAction]) {
            for a in actions {
                switch a {
                case .sendControl(let f): control.append((i, f))
                case .sendData(_, let f): data.append((i, f))
                case .sendDataAll(let f): data.append((i, f))
                case .connectData, .disconnectData: break
                case .exit: alive[i] = false
                }
            }
        }
        var summary: RunSummary?
        func perform(_ actions: [CoordinatorAction]) {
            for a in actions {
                switch a {
                case .sendControl(let p, let f): toWorkerControl[Int(p[0])].append(f)
                case .sendData(let p, let f): toWorkerData[Int(p[0])].append(f)
                case .finished(let s): summary = s
                case .failed(let m), .interrupted(let m): XCTFail(m)
                }
            }
        }
        for i in 0..<n { handle(i, nodes[i].start(now: clock)) }
        var pushes = 0
        var rounds = 0
        while summary == nil {
            rounds += 1
            XCTAssertLessThan(rounds, 100_000, "no progress")
            if rounds >= 100_000 { break }
            clock += 1_000_000  // 1 ms per round
            if rounds == stallAtRound {
                // The coordinator was busy for 10 s and ticks before reading the queued heartbeats.
                clock += 10_000_000_000
                perform(try coordinator.tick(now: clock))
            }
            func cut(_ i: Int) -> Bool {
                guard let p = partition, p.victim == i else { return false }
                return rounds >= p.fromRound && rounds < p.fromRound + p.rounds
            }
            control.removeAll { cut($0.from) }
            data.removeAll { cut($0.from) }
            for i in nodes.indices where cut(i) { toWorkerControl[i].removeAll(); toWorkerData[i].removeAll() }
            for (i, f) in control where alive[i] { perform(try coordinator.control(peer: peer(i), frames: f, now: clock)) }
            control.removeAll()
            for (i, f) in data where alive[i] {
                perform(try coordinator.data(peer: peer(i), frames: f, now: clock))
                if duplicate { perform(try coordinator.data(peer: peer(i), frames: f, now: clock)) }
            }
            data.removeAll()
            for i in nodes.indices where alive[i] && !cut(i) {
                for f in toWorkerControl[i] { handle(i, try nodes[i].control(f, now: clock)) }
                for f in toWorkerData[i] { handle(i, try nodes[i].data(f, now: clock)) }
                toWorkerControl[i].removeAll(); toWorkerData[i].removeAll()
                if nodes[i].hasWork {
                    handle(i, nodes[i].computeNext())
                    pushes += 1
                    if let kill, kill.victim == i, pushes >= kill.atPush { alive[i] = false }  // dies silently (kill -9)
                }
                handle(i, nodes[i].tick(now: clock))
            }
            if let r = replaceAllAtPush, pushes >= r, nodes.count == n {
                // Every worker dies silently and as many new ones start at once (a launcher restarting them).
                for i in 0..<n { alive[i] = false }
                for i in n..<(2 * n) {
                    nodes.append(node(i))
                    alive.append(true)
                    toWorkerControl.append([])
                    toWorkerData.append([])
                    handle(i, nodes[i].start(now: clock))
                }
            }
            perform(try coordinator.tick(now: clock))
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

    /// The tuning features (batch norm, augmentation, one-cycle schedule, weight decay, label smoothing)
    /// keep the promise: any worker count trains the single-process bits.
    func testRecipeFeaturesGiveTheSingleProcessWeightsOnAnyWorkerCount() throws {
        var c = config()
        c.modelSpec = ModelSpec(name: "small-bn", layers: [.conv(8), .pool(), .batchNorm, .flatten, .dense(16, activation: "relu"), .batchNorm,
                                                           .dropout(0.2), .dense(10, activation: "softmax")])
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
        var joined = 0, alive = 0
        let summary = try runCluster(workers: 2, replaceAllAtPush: 41, inspect: { c in
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
        let coordinator = try Coordinator(trainer: t, settings: CoordinatorSettings(minWorkers: 2, serverEndpoint: "inproc://server"),
                                          jobID: 7, logger: Logger(label: "test"), now: 1)
        let hello = WireCodec.encode(Envelope(jobID: 0, sender: 0, step: 0, message: .hello(Hello(role: .worker, name: "w", host: "h", pid: 1,
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
        WireCodec.encode(Envelope(jobID: 0, sender: 0, step: 0, message: .hello(Hello(role: .worker, name: name, host: "elsewhere", pid: 1,
                                                                                      numerics: numerics))))
    }

    func testAWorkerWithAnotherNumericsFingerprintIsRefusedWithBothNamed() throws {
        var settings = CoordinatorSettings(minWorkers: 1, serverEndpoint: "inproc://server")
        settings.host = "here"
        let coordinator = try Coordinator(trainer: try trainer(config()), settings: settings, jobID: 7, logger: Logger(label: "test"), now: 1)
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
        let coordinator = try Coordinator(trainer: try trainer(config()), settings: settings, jobID: 7, logger: Logger(label: "test"), now: 1)
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
        let refusal = WireCodec.encode(Envelope(jobID: 9, sender: 0, step: 0, message: .reject(Reject(reason: Reject.refusedPrefix + "numerics differ"))))
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
        let summary = try runCluster(workers: 2, hostile: { c, now in
            let job = c.jobID
            func push(_ step: UInt64, sender: UInt32, values: [Float], mb: UInt32 = 0) -> [[UInt8]] {
                WireCodec.encode(Envelope(jobID: job, sender: sender, step: step, message: .gradientPush(GradientPush(
                    microBatch: mb, samples: 8, loss: 1, correct: 0, offset: 0, values: values))))
            }
            let p = c.trainer.model.parameterCount
            let step = UInt64(c.trainer.progress.globalStep)
            let peer1: [UInt8] = [0]  // worker 0's peer in this harness (its id is 1)
            // garbage, a truncated header, a wrong version
            _ = try c.data(peer: peer1, frames: [[1, 2, 3]], now: now)
            _ = try c.control(peer: [9], frames: [Array(repeating: 0xFF, count: 40), []], now: now)
            var v2 = push(step, sender: 1, values: [Float](repeating: 0, count: p))
            v2[0][4] = UInt8(WireCodec.version + 1)
            _ = try c.data(peer: peer1, frames: v2, now: now)
            // wrong job, unknown sender, sender on the wrong peer
            _ = try c.data(peer: peer1, frames: WireCodec.encode(Envelope(jobID: job &+ 1, sender: 1, step: step, message: .heartbeat(Heartbeat(workerID: 1, computed: 0)))), now: now)
            _ = try c.data(peer: [77], frames: push(step, sender: 99, values: [Float](repeating: 0, count: p)), now: now)
            _ = try c.control(peer: [77], frames: WireCodec.encode(Envelope(jobID: job, sender: 1, step: 0, message: .ready(Ready(workerID: 1)))), now: now)
            // wrong tensor size, NaN, Inf, stale and future steps, micro-batch out of range
            _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: 0, count: p - 1)), now: now)
            _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: .nan, count: p), mb: 1), now: now)
            _ = try c.data(peer: peer1, frames: push(step, sender: 1, values: [Float](repeating: .infinity, count: p), mb: 1), now: now)
            if step > 0 { _ = try c.data(peer: peer1, frames: push(step - 1, sender: 1, values: [Float](repeating: 1, count: p)), now: now) }
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
        let summary = try runCluster(workers: 2, partition: (victim: 1, fromRound: 20, rounds: 1030),
                                     inspect: { c in joined = c.workers.count })
        XCTAssertEqual(joined, 3, "the partitioned worker registered again under a new id")
        XCTAssertEqual(summary.weightsSHA256, reference.weightsSHA256)
    }
}
