// The load window: the coordinator child, the workers, the measured seconds, and the figures.
import Cluster
import ClusterRuntime
import Foundation
import Logging
import MNISTData
import StatusModel
import Supervision
import Training

struct LoadDriver {
    let settings: LoadTestSettings
    let parameterCount: Int
    let say: (String) -> Void

    /// The coordinator's training data: --data, else MNIST found without downloading, else synthetic.
    func prepareData(in tmp: String) throws -> (directory: String, note: String) {
        if !settings.synthetic {
            if let flag = settings.data {
                let location = try DataLocator.resolve(flag: flag, allowDownload: false)
                return (location.directory, location.directory)
            }
            if let location = try? DataLocator.resolve(flag: nil, allowDownload: false) {
                return (location.directory, location.directory)
            }
        }
        let dir = tmp + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Content is irrelevant (nobody computes); a faint class-dependent stripe keeps it image-like.
        for (count, images, labels) in [
            (settings.syntheticImages, MNISTFiles.trainImages, MNISTFiles.trainLabels),
            (100, MNISTFiles.testImages, MNISTFiles.testLabels)
        ] {
            var pixels = [UInt8](repeating: 0, count: count * 784)
            var classes = [UInt8](repeating: 0, count: count)
            for i in 0..<count {
                let c = i % 10
                classes[i] = UInt8(c)
                for x in 0..<28 { pixels[i * 784 + (2 + 2 * c) * 28 + x] = 128 }
            }
            try IDXFile.write(IDXArray(dims: [count, 28, 28], data: pixels), path: "\(dir)/\(images)", gzip: false)
            try IDXFile.write(IDXArray(dims: [count], data: classes), path: "\(dir)/\(labels)", gzip: false)
        }
        return (dir, "synthetic (\(settings.syntheticImages) images)")
    }

    func run() throws -> LoadFigures {
        let c = settings
        Self.removeStaleTemporaryDirectories()
        let tmp = NSTemporaryDirectory() + "digits-loadtest-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }

        let (dataDirectory, dataNote) = try prepareData(in: tmp)
        let train = try MNISTFiles.load(directory: dataDirectory).train
        guard train.count >= c.batch else {
            throw LoadTestError("\(dataDirectory): \(train.count) training images, fewer than --batch \(c.batch)")
        }
        // The SHA-256 the coordinator computes: workers that hold the same set are shipped nothing.
        let dataSHA256 = Coordinator.trainingSetSHA256(train)
        // No validation split: every epoch covers the whole set, and epoch ends only checkpoint.
        let plan = EpochPlan(trainIndices: Array(0..<train.count), batchSize: c.batch, microBatch: c.microBatch, seed: 1)
        let microBatchesPerStep = plan.microBatches(step: 0).count
        let configPath = tmp + "/loadtest.toml"
        try Data(
            """
            # digits loadtest: nothing but steps (no validation, no per-epoch test evaluation).
            [data]
            validation_fraction = 0.0
            [early_stopping]
            enabled = false
            [evaluation]
            test_every_epoch = false
            [checkpoint]
            keep_last = 1

            """.utf8
        ).write(to: URL(fileURLWithPath: configPath))

        let endpointFile = tmp + "/endpoints.json"
        let coordinator = ChildProcess(
            executable: c.executable,
            arguments: [
                "coordinator", "--bind", "tcp://127.0.0.1:0", "--workers", "\(c.workers)", "--endpoint-file", endpointFile,
                "--exit-with-parent",
                "--data", dataDirectory, "--out", tmp + "/run", "--config", configPath, "--model", c.model,
                "--batch", "\(c.batch)", "--micro-batch", "\(c.microBatch)", "--epochs", "1000000", "--seed", "1", "--threads", "1",
                "--join-deadline", "\(max(1, Int(c.startDeadline.rounded(.up))))", "--status-bind", "127.0.0.1:0"
            ], output: .file(tmp + "/coordinator.log"))
        try coordinator.start()
        let warnKill: (ChildProcess) -> Void = { [say] child in say("the coordinator (pid \(child.pid)) ignored SIGTERM; killing it") }
        defer { coordinator.stop(timeout: 10, onKill: warnKill) }
        say("coordinator pid \(coordinator.pid) starting (data: \(dataNote); log \(tmp)/coordinator.log)")

        // 1. The coordinator listens (it writes its endpoints once bound).
        let endpoints = EndpointFile.wait(for: endpointFile, seconds: c.startDeadline) {
            coordinator.isRunning && StopSignal.requested == nil
        }
        if StopSignal.requested != nil { throw LoadTestError("interrupted while the coordinator was starting") }
        guard let endpoints, let statusURL = endpoints.status else {
            if !coordinator.isRunning {
                throw LoadTestError("the coordinator \(coordinator.stop(timeout: 1)) before listening:\n\(coordinator.logTail())")
            }
            throw LoadTestError(
                "the coordinator did not start listening within \(String(format: "%g", c.startDeadline)) s:\n\(coordinator.logTail())")
        }
        let fdsListening = ProcessProbe.openFileDescriptors(pid: coordinator.pid)
        say("coordinator at \(endpoints.control), status at \(statusURL); starting \(c.workers) worker(s)")

        // 2. The workers: production WorkerNodes with a precomputed gradient, all on this thread.
        var logger = Logger(label: "digits.loadtest")
        logger.logLevel = .warning
        let transport = CountingTransport(try ZeroMQTransport(security: .plaintext, logger: logger), duplicateEvery: c.injectDuplicates)
        let gradient = PrecomputedGradient(values: [Float](repeating: 1e-6, count: parameterCount), lossPerSample: 2.302585)
        let host = ProcessInfo.processInfo.hostName
        var loops: [WorkerLoop] = []
        for i in 0..<c.workers {
            let node = WorkerNode(
                name: "loadtest-\(i + 1)", host: host, localData: train, localDataSHA256: dataSHA256,
                gradientSource: .precomputed(gradient), logger: logger, now: monotonicNanoseconds())
            loops.append(try WorkerLoop(node: node, transport: transport, coordinator: endpoints.control, logger: logger))
        }
        let group = WorkerLoopGroup(loops: loops, transport: transport)
        var fdsStart = 0
        var cpuStart = (coordinator: 0.0, loadtest: 0.0)
        transport.onFirstStep = {
            fdsStart = ProcessProbe.openFileDescriptors(pid: coordinator.pid)
            cpuStart = (ProcessProbe.cpuSeconds(pid: coordinator.pid), ProcessProbe.cpuSeconds(pid: nil))
        }

        // 3. Joining, then the measured window.
        let joinDeadline = monotonicNanoseconds() + UInt64(c.startDeadline * 1e9)
        try group.start()
        var endAt = UInt64.max
        while true {
            if StopSignal.requested != nil { throw LoadTestError("interrupted") }
            if !coordinator.isRunning {
                throw LoadTestError("the coordinator \(coordinator.stop(timeout: 1)) during the load test:\n\(coordinator.logTail())")
            }
            let now = monotonicNanoseconds()
            if let start = transport.tally.firstStepAt {
                if endAt == .max {
                    endAt = start + UInt64(c.seconds * 1e9)
                    say("all \(c.workers) worker(s) ready; training started; measuring \(c.seconds) s")
                }
                if now >= endAt { break }
            } else if now > joinDeadline {
                let nodes = loops.map(\.node)
                let welcomed = nodes.filter { $0.state != .joining }.count
                let ready = nodes.filter { $0.state == .ready }.count
                let why =
                    group.exits.values.first.map { " (a worker ended: \($0.reason))" } ?? transport.tally.lastReject.map { " (\($0))" }
                    ?? ""
                throw LoadTestError(
                    """
                    after \(String(format: "%g", c.startDeadline)) s, \(welcomed) of \(c.workers) workers were welcomed and \(ready) \
                    ready; training did not start\(why):\n\(coordinator.logTail())
                    """
                )
            }
            let untilEnd = endAt == .max ? 20 : Int(min(20, (endAt &- min(now, endAt)) / 1_000_000))
            try group.runOnce(timeoutMilliseconds: max(0, untilEnd))
        }

        // 4. Freeze the workers (no more pushes), take the coordinator's process figures, then its
        // counters once everything sent has been handled.
        let end = monotonicNanoseconds()
        let window = Double(end - transport.tally.firstStepAt!) / 1e9
        let peakRSS = coordinator.peakRSSMegabytes
        let coordinatorCPU = 100 * (ProcessProbe.cpuSeconds(pid: coordinator.pid) - cpuStart.coordinator) / window
        let loadtestCPU = 100 * (ProcessProbe.cpuSeconds(pid: nil) - cpuStart.loadtest) / window
        let fdsEnd = ProcessProbe.openFileDescriptors(pid: coordinator.pid)
        let tally = transport.tally
        let exitsInWindow = group.exits
        let counters = try Self.settledCounters(statusURL, deadline: 10)
        say("stopping the coordinator after \(counters.steps) steps")
        let status = coordinator.stop(timeout: 10, whileWaiting: { _ = try? group.runOnce(timeoutMilliseconds: 0) }, onKill: warnKill)
        _ = try? group.runOnce(timeoutMilliseconds: 0)
        let shutdowns = group.exits.filter { exitsInWindow[$0.key] == nil && $0.value.code == 0 }.count

        // 5. The coordinator counted each micro-batch the workers sent exactly once: every completed
        // step got each of its micro-batches assigned once and sent once, the open step's sent
        // micro-batches are the ones counted beyond the completed steps, nothing was refused or
        // dropped as a duplicate, and nothing sent is unaccounted for.
        let steps = counters.steps
        var completedMicroBatches = 0
        var problems: [String] = []
        for step in 0..<UInt64(steps) {
            let expected = plan.microBatches(step: Int(step % UInt64(plan.stepsPerEpoch))).count
            completedMicroBatches += expected
            let ids = (tally.sentByStep[step] ?? []).sorted()
            let given = (tally.assignedByStep[step] ?? []).sorted()
            if ids != (0..<UInt32(expected)).map({ $0 }) || given != ids, problems.count < 3 {
                problems.append(
                    "step \(step): \(expected) micro-batches, \(given.count) assigned, \(ids.count) sent (\(Set(ids).count) distinct)")
            }
        }
        let openSent = tally.sentByStep[UInt64(steps)] ?? []
        let inOpenStep = counters.accepted - completedMicroBatches
        if inOpenStep != openSent.count || Set(openSent).count != openSent.count {
            problems.append(
                """
                open step \(steps): the coordinator counted \(inOpenStep) micro-batch(es), the workers sent \(openSent.count) \
                (\(Set(openSent).count) distinct)
                """
            )
        }
        let extra = tally.sent - counters.accepted
        let exactlyOnce = problems.isEmpty && steps > 0 && extra == 0 && counters.rejectedPushes == 0 && counters.duplicates == 0
        let detail: String
        if exactlyOnce {
            detail =
                """
                \(steps) completed steps x their micro-batches = \(completedMicroBatches) micro-batches, each assigned once, sent \
                once and counted once by the coordinator; \(inOpenStep) of the open step \(steps) counted
                """
        } else if steps == 0 {
            detail = "no step completed in \(String(format: "%.1f", window)) s"
        } else {
            detail =
                (problems + [
                    "\(tally.sent) micro-batch(es) sent, \(counters.accepted) counted by the coordinator",
                    """
                    the coordinator refused \(counters.rejectedPushes) gradient message(s) and dropped \(counters.duplicates) as \
                    duplicates
                    """
                ])
                .joined(separator: "; ")
        }
        let undecided = exitsInWindow.values.filter { $0.code != 0 }.count
        return LoadFigures(
            workers: c.workers, batch: c.batch, microBatch: c.microBatch, microBatchesPerStep: microBatchesPerStep, data: dataNote,
            seconds: window, steps: steps, stepsPerSecond: Double(steps) / window, msPerStep: steps > 0 ? 1000 * window / Double(steps) : 0,
            pushesSent: tally.sent, pushesAccepted: counters.accepted, pushesInOpenStep: inOpenStep,
            pushesPerSecond: Double(counters.accepted) / window,
            gradientMbPerSecond: Double(tally.gradientBytes) / window / 1e6,
            weightsMbPerSecond: Double(tally.weightsBytes) / window / 1e6,
            assignedMicroBatches: tally.assigned, pushesRejected: counters.rejectedPushes, pushesDuplicated: counters.duplicates,
            messagesRejected: counters.otherRejections, rejectsReceived: tally.rejectsReceived,
            protocolErrors: tally.undecodable + undecided,
            workersDropped: counters.workersDropped, sendRetries: tally.notQueued, shutdownsReceived: shutdowns,
            exactlyOnce: exactlyOnce, exactlyOnceDetail: detail, coordinatorPeakRssMb: peakRSS,
            coordinatorCpuPercent: coordinatorCPU, loadtestCpuPercent: loadtestCPU, cores: ProcessInfo.processInfo.activeProcessorCount,
            coordinatorFdsListening: fdsListening, coordinatorFdsStart: fdsStart, coordinatorFdsEnd: fdsEnd,
            coordinatorExitStatus: status.code)
    }

    /// The coordinator's counters, as its status JSON reports them.
    struct Counters: Equatable {
        var steps = 0
        /// Micro-batches its parameter server counted (per-worker push counters, summed).
        var accepted = 0
        /// Gradient messages it refused, and gradient messages it dropped as duplicates.
        var rejectedPushes = 0
        var duplicates = 0
        /// Other messages refused (not gradients: malformed, unknown sender, ...).
        var otherRejections = 0
        var workersDropped = 0

        init(_ s: StatusSnapshot) {
            steps = s.progress.globalStep
            accepted = Int(s.workers.reduce(0) { $0 + $1.pushes })
            rejectedPushes = s.workers.reduce(0) { $0 + $1.rejected }
            duplicates = s.rejected["duplicate"] ?? 0
            otherRejections = max(0, s.rejected.filter { $0.key != "duplicate" }.values.reduce(0, +) - rejectedPushes)
            // Drops are counted per worker name; a rejoined worker has a row per id.
            var byName: [String: Int] = [:]
            for w in s.workers { byName[w.name] = max(byName[w.name] ?? 0, w.drops) }
            workersDropped = byName.values.reduce(0, +)
        }
    }

    /// Reads the status JSON until two reads, more than one publish interval apart, agree: the
    /// coordinator has handled everything the frozen workers sent. At most `deadline` seconds.
    static func settledCounters(_ url: String, deadline: Double) throws -> Counters {
        let until = Date().addingTimeInterval(deadline)
        var last = Counters(try StatusClient.snapshot(url))
        while Date() < until {
            Thread.sleep(forTimeInterval: 0.4)
            let now = Counters(try StatusClient.snapshot(url))
            if now == last { return now }
            last = now
        }
        throw LoadTestError(
            "the coordinator's counters at \(url)status.json were still changing \(Int(deadline)) s after the workers stopped")
    }

    /// Temporary directories of earlier load tests that were killed (their pid is gone).
    static func removeStaleTemporaryDirectories() {
        let base = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix("digits-loadtest-") {
            let parts = name.split(separator: "-")
            guard parts.count == 4, let pid = pid_t(parts[2]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: base + name)
        }
    }
}
