// `digits loadtest`: how much the coordinator's embedded parameter server sustains under many
// lightweight simulated workers on loopback, next to the raw libzmq ceiling for the same messages.
//
// A real coordinator runs as a child process (`digits coordinator`). N simulated workers run in
// this process, all multiplexed in one zmq_poll loop, each with its own control and data DEALER
// sockets, speaking the real protocol (docs/PROTOCOL.md) through the WireProtocol codec. They
// compute nothing: every assigned micro-batch is answered at once with a precomputed gradient of
// the right size (tiny finite constants), so the figures measure protocol and server work (decode,
// exact fixed-point sum, Adam, the weights broadcast), not training. The run is bounded: every
// wait has a deadline, and the coordinator is stopped (SIGTERM, then SIGKILL) on every path.
import ArgumentParser
import Cluster
import ClusterRuntime
import Foundation
import MNISTData
import NeuralNet
import Training
import WireProtocol
import ZeroMQ

struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loadtest",
        abstract: "Load-test the coordinator's parameter server with simulated workers on loopback; measure the raw libzmq ceiling.",
        discussion: """
            Starts a real coordinator as a child process and N simulated workers in this process that push \
            precomputed gradients for every assigned micro-batch without computing anything. Reports pushes/s, \
            gradient MB/s, steps/s, rejected or duplicated pushes, an exactly-once check of every micro-batch, the \
            coordinator's peak RSS and open file descriptors, then DEALER<->ROUTER round trips over loopback with \
            messages the size of one gradient push (keras-example) and of a pytorch-example push (4.8 MB).
            Micro-batches go round-robin to workers: use --batch >= 16 x --workers so every worker has work.
            """)

    @Option(help: "Simulated workers (all in this process, one zmq_poll loop; 1...256).") var workers: Int = 16
    @Option(help: "Seconds of load, counted from the first step.") var seconds: Double = 10
    @Option(help: "Model whose gradients are pushed: keras-example or pytorch-example.") var model: String = "keras-example"
    @Option(help: "Batch size (samples per optimizer step).") var batch: Int = 128
    @Option(name: .customLong("micro-batch"), help: "Micro-batch size (one gradient push each).") var microBatch: Int = 16
    @Option(help: "MNIST directory for the coordinator (default: MNIST found without downloading, else a synthetic set).") var data: String?
    @Flag(help: "Use a synthetic training set even when MNIST is present.") var synthetic = false
    @Option(name: .customLong("synthetic-images"), help: "Training images in the synthetic set.") var syntheticImages: Int = 60000
    @Flag(help: "Only measure the raw libzmq DEALER<->ROUTER ceiling (no coordinator).") var raw = false
    @Option(name: .customLong("raw-seconds"), help: "Seconds per raw libzmq measurement (0 skips them).") var rawSeconds: Double = 1
    @Option(name: .customLong("raw-window"), help: "Raw round trips kept in flight (1 = strict ping-pong).") var rawWindow: Int = 1
    @Option(name: .customLong("start-deadline"), help: "Seconds for the coordinator to listen, then again for every worker to be welcomed and the first step to open.") var startDeadline: Double = 60
    @Flag(help: "Print one JSON object.") var json = false
    @Option(name: .customLong("inject-duplicates"), help: ArgumentHelp("Send every Nth push twice (checks that the exactly-once check catches it).", visibility: .hidden))
    var injectDuplicates: Int = 0

    func validate() throws {
        guard (1...256).contains(workers) else { throw ValidationError("--workers must be in 1...256, found \(workers)") }
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600], found \(seconds)") }
        guard batch >= 1, microBatch >= 1, microBatch <= batch else { throw ValidationError("need 1 <= --micro-batch <= --batch") }
        guard syntheticImages >= batch else { throw ValidationError("--synthetic-images must be at least --batch (\(batch))") }
        guard rawSeconds >= 0, rawSeconds <= 60 else { throw ValidationError("--raw-seconds must be in [0, 60]") }
        guard (1...64).contains(rawWindow) else { throw ValidationError("--raw-window must be in 1...64") }
        guard startDeadline > 0 else { throw ValidationError("--start-deadline must be positive") }
        guard injectDuplicates >= 0 else { throw ValidationError("--inject-duplicates must be >= 0") }
    }

    func run() throws {
        StopSignal.install()
        let fdsStart = LoadProbe.openFileDescriptors(pid: nil)
        let spec = try TrainConfig.loadModelSpec(model)
        let parameters = try Sequential(spec: spec).parameterCount
        var report = LoadTestReport(model: spec.name, parameters: parameters, pushBytes: parameters * 4)
        let say: (String) -> Void = { line in FileHandle.standardError.write("loadtest: \(line)\n".data(using: .utf8)!) }

        if !raw {
            LoadProbe.raiseFileLimit(to: workers * 4 + 256)
            report.load = try LoadDriver(command: self, parameterCount: parameters, say: say).run()
        }
        if rawSeconds > 0 {
            // The push of this model, keras-example's (139,304 B) and pytorch-example's (~4.8 MB).
            var sizes = [parameters * 4]
            for preset in [ModelSpec.kerasExample, .pytorchExample] {
                let bytes = try Sequential(spec: preset).parameterCount * 4
                if !sizes.contains(bytes) { sizes.append(bytes) }
            }
            for bytes in sizes.sorted() {
                if StopSignal.requested != nil { throw CLIError("interrupted") }
                say("raw libzmq DEALER<->ROUTER round trips of \(bytes) bytes for \(rawSeconds) s")
                report.raw.append(try RawZMQ.roundTrips(bytes: bytes, window: rawWindow, seconds: rawSeconds))
            }
        }
        report.loadtestFdsStart = fdsStart
        report.loadtestFdsEnd = LoadProbe.openFileDescriptors(pid: nil)

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            FileHandle.standardOutput.write(try encoder.encode(report))
            print()
        } else {
            print(report.text)
        }
        if let load = report.load, !load.exactlyOnce || load.pushesRejected > 0 || load.pushesDuplicated > 0 {
            throw CLIError("the parameter server lost, rejected or double-counted micro-batches: \(load.exactlyOnceDetail)")
        }
    }
}

// MARK: - Report

struct RawRoundTrips: Encodable {
    var bytes: Int
    var window: Int
    var roundTrips: Int
    var seconds: Double
    var roundTripsPerSecond: Double
    /// Message bytes carried per second, both directions (1 MB = 10^6 bytes).
    var mbPerSecond: Double
}

struct LoadFigures: Encodable {
    var workers: Int
    var batch: Int
    var microBatch: Int
    var microBatchesPerStep: Int
    var data: String
    var seconds: Double
    var steps: Int
    var stepsPerSecond: Double
    var msPerStep: Double
    var pushesSent: Int
    var pushesAccepted: Int
    var pushesInOpenStep: Int
    var pushesPerSecond: Double
    /// Gradient payload accepted by the server per second (1 MB = 10^6 bytes).
    var gradientMbPerSecond: Double
    /// Weights payload the server broadcast to the workers per second.
    var weightsMbPerSecond: Double
    var assignedMicroBatches: Int
    var pushesRejected: Int
    var pushesDuplicated: Int
    var messagesRejected: Int
    var rejectsReceived: Int
    var protocolErrors: Int
    var workersDropped: Int
    var sendRetries: Int
    var shutdownsReceived: Int
    var exactlyOnce: Bool
    var exactlyOnceDetail: String
    var coordinatorPeakRssMb: Double
    /// CPU time (user + system) over the window, in percent of one core.
    var coordinatorCpuPercent: Double
    var loadtestCpuPercent: Double
    var cores: Int
    var coordinatorFdsListening: Int
    var coordinatorFdsStart: Int
    var coordinatorFdsEnd: Int
    var coordinatorExitStatus: Int32
}

struct LoadTestReport: Encodable {
    var model: String
    var parameters: Int
    var pushBytes: Int
    var load: LoadFigures?
    var raw: [RawRoundTrips] = []
    var loadtestFdsStart = 0
    var loadtestFdsEnd = 0

    init(model: String, parameters: Int, pushBytes: Int) {
        self.model = model
        self.parameters = parameters
        self.pushBytes = pushBytes
    }

    enum Keys: String, CodingKey {
        case model, parameters, pushBytes, raw, loadtestFdsStart, loadtestFdsEnd, rawPushMbPerSecond, rawLargeMbPerSecond
    }

    /// One flat object: the load figures (if any) next to the raw ceiling.
    func encode(to encoder: Encoder) throws {
        try load?.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(model, forKey: .model)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(pushBytes, forKey: .pushBytes)
        try c.encode(raw, forKey: .raw)
        try c.encode(loadtestFdsStart, forKey: .loadtestFdsStart)
        try c.encode(loadtestFdsEnd, forKey: .loadtestFdsEnd)
        try c.encodeIfPresent(raw.first { $0.bytes == pushBytes }?.mbPerSecond, forKey: .rawPushMbPerSecond)
        try c.encodeIfPresent(raw.last.map(\.mbPerSecond), forKey: .rawLargeMbPerSecond)
    }

    var text: String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        var lines: [String] = []
        if let l = load {
            lines.append("loadtest: \(l.workers) simulated worker(s), \(model) (\(parameters) parameters, \(pushBytes)-byte pushes), batch \(l.batch) = \(l.microBatchesPerStep) micro-batches of \(l.microBatch), \(f(l.seconds)) s; data \(l.data)")
            lines.append("  steps              \(l.steps) (\(f(l.stepsPerSecond)) /s, \(f(l.msPerStep, 2)) ms/step)")
            lines.append("  pushes             \(l.pushesAccepted) accepted (\(f(l.pushesPerSecond)) /s), \(l.pushesSent) sent (\(l.pushesInOpenStep) in the open step); \(l.pushesRejected) rejected, \(l.pushesDuplicated) duplicated")
            lines.append("  payload            gradients in \(f(l.gradientMbPerSecond)) MB/s, weights out \(f(l.weightsMbPerSecond)) MB/s")
            lines.append("  exactly once       \(l.exactlyOnce ? "yes" : "NO"): \(l.exactlyOnceDetail)")
            lines.append("  other              \(l.messagesRejected) messages rejected, \(l.rejectsReceived) rejects received, \(l.protocolErrors) protocol errors, \(l.workersDropped) workers dropped, \(l.sendRetries) send retries, \(l.shutdownsReceived) shutdowns received")
            lines.append("  CPU                coordinator \(f(l.coordinatorCpuPercent, 0))%, loadtest \(f(l.loadtestCpuPercent, 0))% of one core (\(l.cores) cores)")
            lines.append("  coordinator        peak RSS \(f(l.coordinatorPeakRssMb, 0)) MB; open fds \(l.coordinatorFdsListening) listening, \(l.coordinatorFdsStart) at the first step -> \(l.coordinatorFdsEnd) at the end; exit status \(l.coordinatorExitStatus)")
        }
        lines.append("  loadtest fds       \(loadtestFdsStart) -> \(loadtestFdsEnd)")
        if !raw.isEmpty {
            lines.append("raw libzmq DEALER<->ROUTER round trips on loopback (bytes carried both ways):")
            for r in raw {
                lines.append("  \(String(format: "%9d", r.bytes)) B, \(r.window) in flight: \(f(r.roundTripsPerSecond)) round trips/s, \(f(r.mbPerSecond)) MB/s")
            }
        }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Process probes

enum LoadProbe {
    static func clock() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Entries of /proc/PID/fd (this process when nil); -1 if unreadable.
    static func openFileDescriptors(pid: Int32?) -> Int {
        let path = pid.map { "/proc/\($0)/fd" } ?? "/proc/self/fd"
        return (try? FileManager.default.contentsOfDirectory(atPath: path))?.count ?? -1
    }

    /// Peak resident set (VmHWM) of a process in MB; 0 if unreadable.
    static func peakRSSMegabytes(pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
            return kb / 1024
        }
        return 0
    }

    /// User + system CPU seconds of a process (this one when nil), from /proc/PID/stat; 0 if unreadable.
    static func cpuSeconds(pid: Int32?) -> Double {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8), let paren = stat.lastIndex(of: ")") else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: paren)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Raises the soft open-file limit (inherited by the coordinator) when many workers need it.
    static func raiseFileLimit(to wanted: Int) {
        #if os(Linux)
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        _ = setrlimit(resource, &limit)
        #endif
    }
}

/// The coordinator child, started with posix_spawn (no Foundation run loop or dispatch sources, so
/// this process's descriptor count stays a clean leak check); its output goes to a log file. It is
/// stopped, and reaped, on every path.
final class CoordinatorChild {
    let logPath: String
    private(set) var pid: pid_t = 0
    private(set) var exitStatus: Int32?

    init(executable: String, arguments: [String], logPath: String) throws {
        self.logPath = logPath
        var env = ProcessInfo.processInfo.environment
        env["DIGITS_LOG_LEVEL"] = "debug"  // the only debug line is the server's "dropped duplicate micro-batch"
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw CLIError("cannot start the coordinator (\(executable)): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Reaps the child if it has exited.
    var isRunning: Bool {
        guard exitStatus == nil else { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { exitStatus = Self.decode(status) }
        return r == 0
    }

    /// Exit code, or 128 + signal for a child killed by a signal.
    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// SIGTERM, up to `timeout` seconds to exit, then SIGKILL; reaps it. Idempotent; the exit status.
    @discardableResult
    func stop(timeout: Double = 10, whileWaiting: () -> Void = {}) -> Int32 {
        if isRunning {
            kill(pid, SIGTERM)
            let deadline = Date().addingTimeInterval(timeout)
            while isRunning && Date() < deadline {
                whileWaiting()
                usleep(10_000)
            }
            if isRunning {
                FileHandle.standardError.write("loadtest: the coordinator (pid \(pid)) ignored SIGTERM for \(Int(timeout)) s; killing it\n".data(using: .utf8)!)
                kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                exitStatus = Self.decode(status)
            }
        }
        return exitStatus ?? -1
    }

    var logText: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func logTail(_ n: Int = 12) -> String {
        let lines = logText.split(separator: "\n", omittingEmptySubsequences: true).suffix(n)
        return lines.isEmpty ? "(the coordinator logged nothing)" : lines.map { "  | \($0)" }.joined(separator: "\n")
    }
}

// MARK: - Simulated workers

/// One simulated worker: its sockets, protocol state and counters. Driven by `LoadDriver`.
final class SimulatedWorker {
    enum State { case joining, receivingData, ready, finished }

    let index: Int
    let name: String
    let control: ZMQSocket
    var data: ZMQSocket?
    var state = State.joining
    var id: UInt32 = 0
    var jobID: UInt64 = 0
    var heartbeatNanoseconds: UInt64 = 500_000_000
    var lastHello: UInt64 = 0
    var lastHeartbeat: UInt64 = 0
    var shipExpected = 0
    var shipReceived = 0
    var weightsStep: UInt64?
    /// Assigned micro-batches not yet pushed: (global step, micro-batch id).
    var pending: [(step: UInt64, microBatch: UInt32)] = []
    /// Frames of a push from this worker; header step and body micro-batch id are patched per push.
    var pushTemplate: [[UInt8]] = []
    var controlOut: [[[UInt8]]] = []
    var dataOut: [[[UInt8]]] = []

    var assigned = 0
    var pushed = 0
    var weightsReceived = 0
    var rejectsReceived = 0
    var protocolErrors = 0
    var shutdownReceived = false
    var lastProblem: String?

    init(index: Int, context: ZMQContext, endpoint: String) throws {
        self.index = index
        name = "loadtest-\(index + 1)"
        control = try ZMQSocket(context: context, type: .dealer)
        try control.setMaxMessageSize(Int64(WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096))
        try control.setReconnectInterval(milliseconds: 100, max: 2000)
        try control.connect(endpoint)
    }

    func envelope(_ m: Message, step: UInt64 = 0) -> [[UInt8]] {
        WireCodec.encode(Envelope(jobID: jobID, sender: id, step: step, message: m))
    }

    /// The frames of one gradient push, from the template (no re-encoding of the payload).
    func push(step: UInt64, microBatch: UInt32) -> [[UInt8]] {
        var frames = pushTemplate
        withUnsafeBytes(of: step.littleEndian) { frames[0].replaceSubrange(24..<32, with: $0) }
        withUnsafeBytes(of: microBatch.littleEndian) { frames[1].replaceSubrange(0..<4, with: $0) }
        return frames
    }

    func close() {
        control.close()
        data?.close()
        data = nil
    }
}

/// Runs the coordinator child and the simulated workers for the measured window.
struct LoadDriver {
    let command: LoadTestCommand
    let parameterCount: Int
    let say: (String) -> Void

    init(command: LoadTestCommand, parameterCount: Int, say: @escaping (String) -> Void) {
        self.command = command
        self.parameterCount = parameterCount
        self.say = say
    }

    /// The coordinator's training data: --data, else MNIST found without downloading, else synthetic.
    func prepareData(in tmp: String) throws -> (directory: String, note: String) {
        if !command.synthetic {
            if let flag = command.data {
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
        for (count, images, labels) in [(command.syntheticImages, MNISTFiles.trainImages, MNISTFiles.trainLabels),
                                        (100, MNISTFiles.testImages, MNISTFiles.testLabels)] {
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
        return (dir, "synthetic (\(command.syntheticImages) images)")
    }

    func run() throws -> LoadFigures {
        let c = command
        Self.removeStaleTemporaryDirectories()
        let tmp = NSTemporaryDirectory() + "digits-loadtest-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }

        let (dataDirectory, dataNote) = try prepareData(in: tmp)
        let train = try MNISTFiles.load(directory: dataDirectory).train
        guard train.count >= c.batch else { throw CLIError("\(dataDirectory): \(train.count) training images, fewer than --batch \(c.batch)") }
        // The SHA-256 the coordinator computes: a matching Hello means nothing is shipped.
        let dataSHA256 = Coordinator.trainingSetSHA256(train)
        // No validation split: every epoch covers the whole set, and epoch ends only checkpoint.
        let plan = EpochPlan(trainIndices: Array(0..<train.count), batchSize: c.batch, microBatch: c.microBatch, seed: 1)
        let microBatchesPerStep = plan.microBatches(step: 0).count
        let configPath = tmp + "/loadtest.toml"
        try Data("""
            # digits loadtest: nothing but steps (no validation, no per-epoch test evaluation).
            [data]
            validation_fraction = 0.0
            [early_stopping]
            enabled = false
            [evaluation]
            test_every_epoch = false
            [checkpoint]
            keep_last = 1

            """.utf8).write(to: URL(fileURLWithPath: configPath))

        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let endpointFile = tmp + "/endpoints.json"
        let coordinator = try CoordinatorChild(executable: exe, arguments: [
            "coordinator", "--bind", "tcp://127.0.0.1:0", "--workers", "\(c.workers)", "--endpoint-file", endpointFile, "--exit-with-parent",
            "--data", dataDirectory, "--out", tmp + "/run", "--config", configPath, "--model", c.model,
            "--batch", "\(c.batch)", "--micro-batch", "\(c.microBatch)", "--epochs", "1000000", "--seed", "1", "--threads", "1",
            "--join-deadline", "\(max(1, Int(c.startDeadline.rounded(.up))))",
        ], logPath: tmp + "/coordinator.log")
        defer { coordinator.stop() }
        say("coordinator pid \(coordinator.pid) starting (data: \(dataNote); log \(coordinator.logPath))")

        // 1. The coordinator listens (it writes its endpoints once bound).
        let listenDeadline = Date().addingTimeInterval(c.startDeadline)
        var controlEndpoint: String?
        while controlEndpoint == nil {
            if StopSignal.requested != nil { throw CLIError("interrupted while the coordinator was starting") }
            if !coordinator.isRunning {
                let status = coordinator.stop()
                throw CLIError("the coordinator exited (status \(status)) before listening:\n\(coordinator.logTail())")
            }
            if Date() > listenDeadline {
                throw CLIError("the coordinator did not start listening within \(String(format: "%g", c.startDeadline)) s:\n\(coordinator.logTail())")
            }
            if let bytes = FileManager.default.contents(atPath: endpointFile),
               let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: String] {
                controlEndpoint = object["control"]
            } else {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        let fdsListening = LoadProbe.openFileDescriptors(pid: coordinator.pid)
        say("coordinator at \(controlEndpoint!); starting \(c.workers) simulated worker(s)")

        // 2. The simulated workers: one context, one poll loop.
        let context = ZMQContext()
        var sims: [SimulatedWorker] = []
        defer { for s in sims { s.close() } }
        for i in 0..<c.workers { sims.append(try SimulatedWorker(index: i, context: context, endpoint: controlEndpoint!)) }
        let host = ProcessInfo.processInfo.hostName
        let pid = UInt32(getpid())
        let gradient = [Float](repeating: 1e-6, count: parameterCount)
        var templateChecked = false

        var pushesByStep: [UInt64: [UInt32]] = [:]
        var assignedByStep: [UInt64: [UInt32]] = [:]
        var maxWeightsStep: UInt64 = 0
        var firstStepAt: UInt64?
        var fdsStart = 0
        var cpuStart = (coordinator: 0.0, loadtest: 0.0)
        var sendRetries = 0
        var stopping = false

        func hello(_ s: SimulatedWorker) -> [[UInt8]] {
            s.envelope(.hello(Hello(role: .worker, name: s.name, host: host, pid: pid, localDataSHA256: dataSHA256,
                                                    numerics: NumericsFingerprint.current.description)))
        }
        func sendControl(_ s: SimulatedWorker, _ frames: [[UInt8]]) { s.controlOut.append(frames) }
        func sendData(_ s: SimulatedWorker, _ frames: [[UInt8]]) { s.dataOut.append(frames) }
        /// Sends queued messages in order; a full queue (EAGAIN) is retried on the next turn.
        func flush(_ socket: ZMQSocket?, _ queue: inout [[[UInt8]]]) throws {
            guard let socket else { return }
            var sent = 0
            defer { queue.removeFirst(sent) }
            for frames in queue {
                do { try socket.send(frames, dontWait: true) } catch let e as ZMQError where e.wouldBlock {
                    sendRetries += 1
                    return
                }
                sent += 1
            }
        }
        func becomeReady(_ s: SimulatedWorker) {
            s.state = .ready
            sendControl(s, s.envelope(.ready(Ready(workerID: s.id))))
        }

        func handleControl(_ s: SimulatedWorker, _ frames: [[UInt8]], now: UInt64) throws {
            let e: Envelope
            do { e = try WireCodec.decode(frames) } catch {
                s.protocolErrors += 1
                s.lastProblem = "malformed control message: \(error)"
                return
            }
            if case .welcome(let w) = e.message {
                guard s.state == .joining else { return }
                guard w.serverEndpoints.count == 1, let server = w.serverEndpoints.first else {
                    throw CLIError("the coordinator names \(w.serverEndpoints.count) parameter-server endpoints; loadtest drives exactly one")
                }
                s.id = w.workerID
                s.jobID = e.jobID
                s.heartbeatNanoseconds = UInt64(max(w.heartbeatMilliseconds, 10)) * 1_000_000
                s.lastHeartbeat = now
                let socket = try ZMQSocket(context: context, type: .dealer)
                try socket.setMaxMessageSize(Int64(WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096))
                try socket.connect(Self.reachable(server, via: controlEndpoint!))
                s.data = socket
                s.pushTemplate = s.envelope(.gradientPush(GradientPush(
                    microBatch: 0, samples: UInt32(c.microBatch), loss: 2.302585 * Double(c.microBatch), correct: 1,
                    computeSeconds: 0, offset: 0, values: gradient)))
                if !templateChecked {
                    // The patched template must decode to exactly the push it stands for.
                    let probe = try WireCodec.decode(s.push(step: 12345, microBatch: 7))
                    guard probe.step == 12345, probe.sender == s.id, probe.jobID == s.jobID, case .gradientPush(let p) = probe.message,
                          p.microBatch == 7, p.values.count == parameterCount else {
                        throw CLIError("internal error: the patched gradient push does not decode to step 12345, micro-batch 7")
                    }
                    templateChecked = true
                }
                sendData(s, s.envelope(.hello(Hello(role: .worker, name: s.name, host: host, pid: pid, workerID: s.id,
                                                                    numerics: NumericsFingerprint.current.description))))
                if w.shipsData {
                    s.state = .receivingData
                    s.shipExpected = Int(w.trainCount) * Int(w.rows) * Int(w.cols) + Int(w.trainCount)
                } else {
                    becomeReady(s)
                }
                return
            }
            guard s.state != .joining, e.jobID == s.jobID else {
                s.protocolErrors += 1
                s.lastProblem = "\(e.message.type) for job \(e.jobID) before or outside this worker's job"
                return
            }
            switch e.message {
            case .dataChunk(let chunk):
                guard s.state == .receivingData else { return }
                s.shipReceived += chunk.bytes.count
                if s.shipReceived >= s.shipExpected { becomeReady(s) }
            case .assignment(let a):
                guard s.state == .ready else { return }
                if let ws = s.weightsStep, e.step < ws { return }  // stale
                s.pending.removeAll { $0.step < e.step }
                for k in a.microBatches { s.pending.append((e.step, k)) }
                s.assigned += a.microBatches.count
                assignedByStep[e.step, default: []] += a.microBatches
            case .shutdown:
                s.state = .finished
                s.shutdownReceived = true
            case .reject(let r):
                s.rejectsReceived += 1
                s.lastProblem = "the coordinator refused a message: \(r.reason)"
            default:
                s.protocolErrors += 1
                s.lastProblem = "unexpected \(e.message.type) on the control socket"
            }
        }

        func handleData(_ s: SimulatedWorker, _ frames: [[UInt8]], now: UInt64) {
            // Weights: the header is all a worker that computes nothing needs; check it and the size.
            guard let h = try? WireCodec.decodeHeader(frames), h.jobID == s.jobID else {
                s.protocolErrors += 1
                s.lastProblem = "malformed or foreign message on the data socket"
                return
            }
            switch h.type {
            case .weights:
                guard frames.count == 3, frames[2].count == parameterCount * 4 else {
                    s.protocolErrors += 1
                    s.lastProblem = "weights of \(frames.count == 3 ? frames[2].count : -1) bytes, expected \(parameterCount * 4)"
                    return
                }
                s.weightsReceived += 1
                s.weightsStep = h.step
                s.pending.removeAll { $0.step < h.step }
                if h.step == 0 && firstStepAt == nil {
                    firstStepAt = now
                    fdsStart = LoadProbe.openFileDescriptors(pid: coordinator.pid)
                    cpuStart = (LoadProbe.cpuSeconds(pid: coordinator.pid), LoadProbe.cpuSeconds(pid: nil))
                }
                maxWeightsStep = max(maxWeightsStep, h.step)
            case .reject:
                s.rejectsReceived += 1
                if case .reject(let r)? = try? WireCodec.decode(frames).message { s.lastProblem = "the parameter server refused a message: \(r.reason)" }
            default:
                s.protocolErrors += 1
                s.lastProblem = "unexpected \(h.type) on the data socket"
            }
        }

        // 3. The loop: joining, then the measured window.
        let joinDeadline = LoadProbe.clock() + UInt64(c.startDeadline * 1e9)
        let now0 = LoadProbe.clock()
        for s in sims {
            s.lastHello = now0
            sendControl(s, hello(s))
        }
        var endAt = UInt64.max
        var announced = false
        func turn(timeoutMilliseconds: Int) throws {
            var sockets: [ZMQSocket] = []
            var owners: [(SimulatedWorker, Bool)] = []
            sockets.reserveCapacity(2 * sims.count)
            for s in sims {
                sockets.append(s.control)
                owners.append((s, false))
                if let d = s.data {
                    sockets.append(d)
                    owners.append((s, true))
                }
            }
            let readable = try zmqPoll(sockets, timeoutMilliseconds: timeoutMilliseconds)
            let now = LoadProbe.clock()
            for (i, ready) in readable.enumerated() where ready {
                let (s, isData) = owners[i]
                while let frames = try sockets[i].receive() {
                    if isData { handleData(s, frames, now: now) } else { try handleControl(s, frames, now: now) }
                }
            }
            for s in sims {
                if s.state == .joining, now &- s.lastHello > 2_000_000_000 {
                    s.lastHello = now
                    sendControl(s, hello(s))
                }
                if s.state == .ready || s.state == .receivingData, now &- s.lastHeartbeat >= s.heartbeatNanoseconds {
                    s.lastHeartbeat = now
                    sendControl(s, s.envelope(.heartbeat(Heartbeat(workerID: s.id, computed: UInt64(s.pushed)))))
                }
                if !stopping, s.state == .ready, let ws = s.weightsStep, !s.pending.isEmpty {
                    var keep: [(step: UInt64, microBatch: UInt32)] = []
                    for job in s.pending {
                        guard job.step == ws else {
                            keep.append(job)
                            continue
                        }
                        let frames = s.push(step: job.step, microBatch: job.microBatch)
                        sendData(s, frames)
                        s.pushed += 1
                        pushesByStep[job.step, default: []].append(job.microBatch)
                        if c.injectDuplicates > 0, s.pushed % c.injectDuplicates == 0 {
                            sendData(s, frames)
                            s.pushed += 1
                            pushesByStep[job.step, default: []].append(job.microBatch)
                        }
                    }
                    s.pending = keep
                }
                try flush(s.control, &s.controlOut)
                try flush(s.data, &s.dataOut)
            }
        }

        while true {
            if StopSignal.requested != nil { throw CLIError("interrupted") }
            if !coordinator.isRunning {
                let status = coordinator.stop()
                throw CLIError("the coordinator exited (status \(status)) during the load test:\n\(coordinator.logTail())")
            }
            let now = LoadProbe.clock()
            if let start = firstStepAt {
                if !announced {
                    announced = true
                    endAt = start + UInt64(c.seconds * 1e9)
                    say("all \(c.workers) worker(s) ready; training started; measuring \(c.seconds) s")
                }
                if now >= endAt { break }
            } else if now > joinDeadline {
                let welcomed = sims.filter { $0.state != .joining }.count, ready = sims.filter { $0.state == .ready }.count
                throw CLIError("after \(String(format: "%g", c.startDeadline)) s, \(welcomed) of \(c.workers) simulated workers were welcomed and \(ready) ready; training did not start\(sims.compactMap(\.lastProblem).first.map { " (\($0))" } ?? ""):\n\(coordinator.logTail())")
            }
            let busy = sims.contains { !$0.controlOut.isEmpty || !$0.dataOut.isEmpty }
            let untilEnd = endAt == .max ? 20 : Int(min(20, (endAt &- min(now, endAt)) / 1_000_000))
            try turn(timeoutMilliseconds: busy ? 0 : max(0, untilEnd))
        }

        // 4. Freeze the figures, read the coordinator's numbers, stop it.
        let end = LoadProbe.clock()
        stopping = true
        let window = Double(end - firstStepAt!) / 1e9
        let peakRSS = LoadProbe.peakRSSMegabytes(pid: coordinator.pid)
        let coordinatorCPU = 100 * (LoadProbe.cpuSeconds(pid: coordinator.pid) - cpuStart.coordinator) / window
        let loadtestCPU = 100 * (LoadProbe.cpuSeconds(pid: nil) - cpuStart.loadtest) / window
        let fdsEnd = LoadProbe.openFileDescriptors(pid: coordinator.pid)
        let pushesSent = sims.reduce(0) { $0 + $1.pushed }
        let assigned = sims.reduce(0) { $0 + $1.assigned }
        let weightsReceived = sims.reduce(0) { $0 + $1.weightsReceived }
        let steps = Int(maxWeightsStep)  // the weights of step t mean steps 0..<t are applied
        say("stopping the coordinator after \(steps) steps")
        let status = coordinator.stop(timeout: 10) {
            // Keep reading so the coordinator's Shutdown messages arrive.
            _ = try? turn(timeoutMilliseconds: 0)
        }
        _ = try? turn(timeoutMilliseconds: 0)
        let shutdowns = sims.filter(\.shutdownReceived).count
        for s in sims { s.close() }
        sims = []

        // 5. Every completed step: each of its micro-batches assigned once and pushed once. The
        // server completes a step only when every micro-batch id has been counted, so a step that
        // completed with exactly one push per id counted each push exactly once.
        var accepted = 0
        var problems: [String] = []
        for step in 0..<maxWeightsStep {
            let expected = plan.microBatches(step: Int(step % UInt64(plan.stepsPerEpoch))).count
            let ids = (pushesByStep[step] ?? []).sorted()
            let given = (assignedByStep[step] ?? []).sorted()
            if ids != (0..<UInt32(expected)).map({ $0 }) || given != ids {
                if problems.count < 3 {
                    problems.append("step \(step): \(expected) micro-batches, \(given.count) assigned, \(ids.count) pushed (\(Set(ids).count) distinct)")
                }
            } else {
                accepted += expected
            }
        }
        let inOpenStep = pushesByStep[maxWeightsStep]?.count ?? 0
        let log = coordinator.logText
        func count(_ needle: String) -> Int { log.components(separatedBy: needle).count - 1 }
        let rejectedPushes = count("rejected gradient from worker")
        let duplicated = count("dropped duplicate micro-batch")
        let rejectedMessages = count("rejected message") + count("rejected malformed")
        let dropped = count("; dropping it")
        let rejectsReceived = sims.reduce(0) { $0 + $1.rejectsReceived }
        let protocolErrors = sims.reduce(0) { $0 + $1.protocolErrors }
        let extra = pushesSent - accepted - inOpenStep
        let exactlyOnce = problems.isEmpty && steps > 0 && extra == 0 && rejectedPushes == 0 && duplicated == 0
        let detail: String
        if exactlyOnce {
            detail = "\(steps) completed steps x their micro-batches = \(accepted) pushes, each assigned once, pushed once and counted once; \(inOpenStep) push(es) of the open step \(steps) in flight"
        } else if steps == 0 {
            detail = "no step completed in \(String(format: "%.1f", window)) s"
        } else {
            detail = (problems + ["\(extra) push(es) outside completed steps and the open step", "\(rejectedPushes) rejected and \(duplicated) duplicate push(es) in the coordinator log"])
                .joined(separator: "; ")
        }
        return LoadFigures(
            workers: c.workers, batch: c.batch, microBatch: c.microBatch, microBatchesPerStep: microBatchesPerStep, data: dataNote,
            seconds: window, steps: steps, stepsPerSecond: Double(steps) / window, msPerStep: steps > 0 ? 1000 * window / Double(steps) : 0,
            pushesSent: pushesSent, pushesAccepted: accepted, pushesInOpenStep: inOpenStep, pushesPerSecond: Double(accepted) / window,
            gradientMbPerSecond: Double(accepted * parameterCount * 4) / window / 1e6,
            weightsMbPerSecond: Double(weightsReceived * parameterCount * 4) / window / 1e6,
            assignedMicroBatches: assigned, pushesRejected: rejectedPushes, pushesDuplicated: duplicated,
            messagesRejected: rejectedMessages, rejectsReceived: rejectsReceived, protocolErrors: protocolErrors,
            workersDropped: dropped, sendRetries: sendRetries, shutdownsReceived: shutdowns,
            exactlyOnce: exactlyOnce, exactlyOnceDetail: detail, coordinatorPeakRssMb: peakRSS,
            coordinatorCpuPercent: coordinatorCPU, loadtestCpuPercent: loadtestCPU, cores: ProcessInfo.processInfo.activeProcessorCount,
            coordinatorFdsListening: fdsListening, coordinatorFdsStart: fdsStart, coordinatorFdsEnd: fdsEnd,
            coordinatorExitStatus: status)
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

    /// A server endpoint bound to a wildcard address is dialed on the coordinator's host.
    static func reachable(_ endpoint: String, via coordinator: String) -> String {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return endpoint }
        let host = endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]
        guard host == "0.0.0.0" || host == "*" || host == "[::]",
              coordinator.hasPrefix("tcp://"), let c = coordinator.lastIndex(of: ":") else { return endpoint }
        return String(coordinator[..<c]) + String(endpoint[colon...])
    }
}

// MARK: - Raw libzmq ceiling

enum RawZMQ {
    /// DEALER -> ROUTER -> echo -> DEALER round trips of `bytes`-byte messages over TCP loopback,
    /// `window` in flight, for `seconds` (after one warm-up round trip). Both sockets live on this
    /// thread; libzmq's I/O thread moves the bytes. Every wait has a deadline.
    static func roundTrips(bytes: Int, window: Int, seconds: Double) throws -> RawRoundTrips {
        let context = ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        defer {
            dealer.close()
            router.close()
        }
        let endpoint = try router.bind("tcp://127.0.0.1:0")
        try dealer.connect(endpoint)
        let payload = [UInt8](repeating: 0x5a, count: bytes)

        var sent = 0, received = 0
        func pump(until deadline: UInt64, stopSending: UInt64) throws {
            let readable = try zmqPoll([router, dealer], timeoutMilliseconds: 20)
            if readable[0] {
                while let frames = try router.receive() { try router.send(frames, dontWait: false) }  // [peer id, payload]
            }
            if readable[1] {
                while let frames = try dealer.receive() {
                    guard frames.count == 1, frames[0].count == bytes else { throw CLIError("raw libzmq: echo of \(frames.map(\.count)) bytes, sent \(bytes)") }
                    received += 1
                    if LoadProbe.clock() < stopSending {
                        try dealer.send([payload], dontWait: false)
                        sent += 1
                    }
                }
            }
            if LoadProbe.clock() > deadline { throw CLIError("raw libzmq: \(sent - received) of \(sent) round trips of \(bytes) bytes unanswered after the deadline") }
        }
        // Warm-up: the connection is up and one message went both ways.
        try dealer.send([payload], dontWait: false)
        sent = 1
        let warmDeadline = LoadProbe.clock() + 10_000_000_000
        while received < 1 { try pump(until: warmDeadline, stopSending: 0) }

        sent = 0
        received = 0
        let start = LoadProbe.clock()
        let stopSending = start + UInt64(seconds * 1e9)
        let deadline = stopSending + 10_000_000_000
        for _ in 0..<window {
            try dealer.send([payload], dontWait: false)
            sent += 1
        }
        while received < sent {
            if StopSignal.requested != nil { throw CLIError("interrupted") }
            try pump(until: deadline, stopSending: stopSending)
        }
        let elapsed = Double(LoadProbe.clock() - start) / 1e9
        return RawRoundTrips(bytes: bytes, window: window, roundTrips: received, seconds: elapsed,
                             roundTripsPerSecond: Double(received) / elapsed,
                             mbPerSecond: 2 * Double(received) * Double(bytes) / elapsed / 1e6)
    }
}
