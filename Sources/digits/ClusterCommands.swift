// `digits coordinator`, `digits worker` and `digits cluster`: the role state machines of the
// Cluster target driven by single-threaded zmq_poll loops. This file is where ZeroMQ meets them.
import ArgumentParser
import CSupport
import Cluster
import Foundation
import Logging
import MNISTData
import StatusServer
import Training
import WireProtocol
import ZeroMQ

func nowNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

let allowMixedNumericsHelp = "Admit workers and parameter-server shards whose numerics fingerprint differs from the coordinator's "
    + "(other CPU kind or build). Gives up reproducibility: the weights then depend on which host computed what. "
    + "The summary lists the peers admitted this way."

/// Tensor messages (140 KB and up) are allocated and freed every step. glibc serves blocks from
/// 128 KB up with fresh mmap()s and trims the heap top after frees, so each step faulted in new
/// zeroed pages. Blocks under 4 MB now stay in the heap (warm pages reused) and up to 8 MB of
/// free heap is kept; larger blocks (shipped data chunks) still go back to the system.
func keepTensorBuffersMapped() {
    digits_keep_large_blocks_in_heap(4 << 20, 8 << 20)
}

/// Sends without ever blocking: a full queue (the peer is gone or stalled) drops the message with
/// a warning; the silence and heartbeat deadlines then decide what happens.
func trySend(_ socket: ZMQSocket, _ frames: [[UInt8]], to peer: String) {
    do { try socket.send(frames, dontWait: true) } catch {
        Logger(label: "digits.transport").warning("could not send to \(peer): \(error)")
    }
}

struct ClusterTimingOptions: ParsableArguments {
    @Option(name: .customLong("heartbeat-ms"), help: "Worker heartbeat interval in milliseconds (default 500).") var heartbeatMilliseconds: Int?
    @Option(name: .customLong("heartbeat-deadline"), help: "Seconds of silence after which a worker is dropped and its micro-batches reassigned (default 5).") var heartbeatDeadline: Double?
    @Option(name: .customLong("join-deadline"), help: "Seconds to wait for the expected workers to join, and for any worker when none is left (default 120).") var joinDeadline: Double?
    @Option(name: .customLong("step-deadline"), help: "Seconds a step may stay open before workers owing micro-batches are dropped (default 120).") var stepDeadline: Double?

    func validate() throws {
        if let h = heartbeatMilliseconds, h < 10 { throw ValidationError("--heartbeat-ms must be at least 10, found \(h)") }
        for (name, v) in [("--heartbeat-deadline", heartbeatDeadline), ("--join-deadline", joinDeadline), ("--step-deadline", stepDeadline)] {
            if let v, !(v > 0) { throw ValidationError("\(name) must be positive, found \(v)") }
        }
    }

    /// Flags over the cluster file over the defaults.
    func resolved(_ file: ClusterConfig?) -> (heartbeatMilliseconds: Int, heartbeatDeadline: Double, joinDeadline: Double, stepDeadline: Double) {
        (heartbeatMilliseconds ?? file?.heartbeatMilliseconds ?? 500, heartbeatDeadline ?? file?.heartbeatDeadline ?? 5,
         joinDeadline ?? file?.joinDeadline ?? 120, stepDeadline ?? file?.stepDeadline ?? 120)
    }

    func arguments(_ file: ClusterConfig?) -> [String] {
        let t = resolved(file)
        return ["--heartbeat-ms", "\(t.heartbeatMilliseconds)", "--heartbeat-deadline", "\(t.heartbeatDeadline)",
                "--join-deadline", "\(t.joinDeadline)", "--step-deadline", "\(t.stepDeadline)"]
    }
}

/// The cluster file named by --config, if it is one.
func clusterFile(_ path: String?) throws -> ClusterConfig? {
    guard let path, ClusterConfig.isClusterFile(path: path) else { return nil }
    return try ClusterConfig.load(path: path)
}

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "coordinator",
        abstract: "Run the coordinator with its embedded parameter server; workers connect to it.")

    @Option(help: "Control endpoint workers dial (default tcp://0.0.0.0:5555; port 0 lets the OS pick, the bound address is printed).") var bind: String?
    @Option(name: .customLong("data-bind"), help: "Endpoint of the embedded parameter server (gradients and weights; default: the control host, port chosen by the OS).") var dataBind: String?
    @Option(help: "Workers that must be ready before training starts (default 1).") var workers: Int?
    @Option(help: "Parameter-server shards: 1 = embedded in this process (default); K >= 2 = K `digits server` processes.") var servers: Int = 1
    @Option(name: .customLong("endpoint-file"), help: "Write the bound endpoints (JSON) to this file once listening.") var endpointFile: String?
    @Flag(name: .customLong("exit-with-parent"), help: "Exit when the launching process dies (used by digits cluster).") var exitWithParent = false
    @Option(name: .customLong("status-bind"), help: "Serve the live status page, /metrics and /healthz over HTTP on HOST:PORT (port 0: the OS picks; the URL is printed), or 'off' (default: [status] bind of the cluster file, else off).") var statusBind: String?
    @Flag(name: .customLong("allow-mixed-numerics"), help: ArgumentHelp(allowMixedNumericsHelp)) var allowMixedNumerics = false
    @OptionGroup var timing: ClusterTimingOptions
    @OptionGroup var security: SecurityOptions
    @OptionGroup var options: TrainOptions
    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1, found \(workers)") }
        if servers < 1 || servers > 64 { throw ValidationError("--servers must be in 1...64, found \(servers)") }
        if let statusBind { try checkStatusBind(statusBind) }
    }

    func run() throws {
        if exitWithParent { _ = digits_set_parent_death_signal(SIGTERM) }
        keepTensorBuffersMapped()
        StopSignal.install()
        // Warnings and errors also go to the status page's "recent" list.
        let events = RecentEvents()
        let logger = Logger(label: "digits.coordinator") { MultiplexLogHandler([PlainLogHandler(label: $0), events.logHandler()]) }
        let file = try clusterFile(options.config)
        let statusAddress = try StatusAddress.parse(statusBind ?? file?.statusBind ?? "off")
        let bind = self.bind ?? file?.bind ?? "tcp://0.0.0.0:5555"
        let dataBind = self.dataBind ?? file?.dataBind
        let workers = self.workers ?? file?.workers ?? 1
        let timing = self.timing.resolved(file)
        let config = try options.resolvedConfig()
        if config.training.mode == "async" && servers > 1 {
            throw CLIError("--mode async runs on the embedded parameter server; use --servers 1")
        }
        let run = try options.runDirectory(for: config)
        // Before anything is written: a status port in use changes nothing on disk.
        let status = try statusAddress.map { try LiveStatus(address: $0, logger: logger) }
        defer { status?.stop() }
        let trainer = try options.makeTrainer(config: config, run: run, data: dataOptions, logger: logger)

        let transport = try security.serverSecurity(endpoints: [bind, dataBind ?? bind], file: file, role: "the coordinator")
        let context = ZMQContext()
        let zap = try transport.startZAP(context, logger: logger)
        defer { zap?.stop() }
        let control = try ZMQSocket(context: context, type: .router)
        let data = try ZMQSocket(context: context, type: .router)
        try transport.secureServer(control)
        try transport.secureServer(data)
        try control.setMaxMessageSize(Int64(WireCodec.maxBody + 4096))
        try data.setMaxMessageSize(Int64(WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096))
        let controlEndpoint = try control.bind(bind)
        let dataEndpoint = try data.bind(dataBind ?? Self.sameHost(as: bind, port: 0))
        logger.info("coordinator listening on \(controlEndpoint)\(transport.isCurve ? " with CURVE (authorised keys only)" : "") (\(servers == 1 ? "parameter server on \(dataEndpoint)" : "\(servers) parameter-server shards")); waiting for \(workers) worker(s)")
        if let endpointFile {
            var json = "{\"control\": \"\(controlEndpoint)\", \"data\": \"\(dataEndpoint)\""
            if let status { json += ", \"status\": \"\(status.server.url)\", \"status_bind\": \"\(status.boundAddress)\"" }
            try SealedFile.writeAtomically(Array((json + "}\n").utf8), to: endpointFile)
        }

        var settings = CoordinatorSettings(minWorkers: workers, serverEndpoint: dataEndpoint, servers: servers)
        settings.heartbeatMilliseconds = UInt32(timing.heartbeatMilliseconds)
        settings.heartbeatDeadlineSeconds = timing.heartbeatDeadline
        settings.joinDeadlineSeconds = timing.joinDeadline
        settings.stepDeadlineSeconds = timing.stepDeadline
        settings.allowMixedNumerics = allowMixedNumerics
        logger.info("numerics fingerprint \(settings.numerics)\(allowMixedNumerics ? "; peers with another fingerprint are admitted (--allow-mixed-numerics): the result is not reproducible" : "")")
        let jobID = UInt64.random(in: 1...UInt64.max)
        let coordinator = try Coordinator(trainer: trainer, settings: settings, jobID: jobID, logger: logger, now: nowNanoseconds())
        try trainer.begin(in: run, workers: workers)
        func publishStatus(force: Bool = false, final: (state: String, message: String?)? = nil) {
            status?.publish(coordinator, controlEndpoint: controlEndpoint, run: run, events: events, force: force, final: final)
        }
        publishStatus(force: true)

        func perform(_ actions: [CoordinatorAction]) throws {
            for action in actions {
                switch action {
                case .sendControl(let peer, let frames):
                    do { try control.send([peer] + frames) } catch { logger.warning("send to a worker failed: \(error)") }
                case .sendData(let peer, let frames):
                    do { try data.send([peer] + frames) } catch { logger.warning("send to a worker failed: \(error)") }
                case .finished(let summary):
                    // Let the shutdown messages leave before the sockets close.
                    Thread.sleep(forTimeInterval: 0.2)
                    logger.info("steps: \(coordinator.timing.report); coordinator peak RSS \(String(format: "%.0f", ResourceUsage.peakRSSMegabytes())) MB")
                    publishStatus(force: true, final: ("finished", nil))
                    printSummary(summary, run: run)
                    throw ExitCode.success
                case .failed(let message):
                    publishStatus(force: true, final: ("failed", message))
                    throw CLIError(message)
                case .interrupted(let message):
                    publishStatus(force: true, final: ("failed", message))
                    FileHandle.standardError.write("Error: \(message)\n".data(using: .utf8)!)
                    throw ExitCode(ClusterCommand.recoverableExit)
                }
            }
        }

        while true {
            if let sig = StopSignal.requested {
                logger.warning("stopping on signal \(sig); the last checkpoint stays in \(run.checkpoints.directory)")
                publishStatus(force: true, final: ("stopped", "stopped on signal \(sig)"))
                let bye = WireCodec.encode(Envelope(jobID: jobID, sender: 0, step: 0, message: .shutdown(Shutdown(reason: "coordinator stopped"))))
                for w in coordinator.workers.values where w.alive { try? control.send([w.controlPeer] + bye) }
                for shard in coordinator.shards { try? control.send([shard.peer] + bye) }
                Thread.sleep(forTimeInterval: 0.1)
                throw ExitCode(130)
            }
            let readable = try zmqPoll([control, data], timeoutMilliseconds: 50)
            if readable[1] {
                while let frames = try data.receive(), frames.count >= 2 {
                    try perform(try coordinator.data(peer: frames[0], frames: Array(frames.dropFirst()), now: nowNanoseconds()))
                }
            }
            if readable[0] {
                while let frames = try control.receive(), frames.count >= 2 {
                    try perform(try coordinator.control(peer: frames[0], frames: Array(frames.dropFirst()), now: nowNanoseconds()))
                }
            }
            try perform(try coordinator.tick(now: nowNanoseconds()))
            publishStatus()
        }
    }

    /// "tcp://HOST:PORT" -> "tcp://HOST:port"; ipc/inproc endpoints get a sibling name.
    static func sameHost(as endpoint: String, port: Int) -> String {
        if endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") {
            return String(endpoint[..<colon]) + ":\(port)"
        }
        return endpoint + "-data"
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker",
        abstract: "Join a coordinator and compute micro-batch gradients for it.")

    @Option(help: "The coordinator's control endpoint, e.g. tcp://HOST:5555.") var coordinator: String?
    @Option(help: "A cluster file (Config/cluster.toml) whose [worker] coordinator is used when --coordinator is absent.") var config: String?
    @Option(help: "A name for logs and the status page.") var name: String?
    @Option(help: "Load the training set from this directory instead of receiving it from the coordinator.") var data: String?
    @Option(name: .customLong("silence-deadline"), help: "Exit if the coordinator is silent this many seconds.") var silenceDeadline: Double = 120
    @Option(name: .customLong("spin-wait"), help: "Microseconds to keep polling (instead of sleeping) after pushing a step's gradients, waiting for the next weights. A core that sleeps between steps comes back slower; worth it only when this worker has a core to itself (digits cluster sets it when workers fit the cores).") var spinWait: Double = 0
    @Flag(name: .customLong("idle-while-polling"), inversion: .prefixedNo, help: "Run the --spin-wait polling at SCHED_IDLE priority, so the coordinator and I/O threads take this core at once (when this process may return from SCHED_IDLE: CAP_SYS_NICE or RLIMIT_NICE >= 20).") var idleWhilePolling = true
    @Flag(name: .customLong("exit-with-parent"), help: "Exit when the launching process dies (used by digits cluster).") var exitWithParent = false
    @OptionGroup var security: SecurityOptions
    @Option(help: "This worker's own key pair file (default: worker.key in --keys DIR).") var key: String?

    func run() throws {
        if exitWithParent { _ = digits_set_parent_death_signal(SIGTERM) }
        keepTensorBuffersMapped()
        StopSignal.install()
        guard let coordinator = try coordinator ?? clusterFile(config)?.coordinator else {
            throw CLIError("give the coordinator's endpoint: --coordinator tcp://HOST:PORT (or --config with a [worker] coordinator)")
        }
        let host = ProcessInfo.processInfo.hostName
        let name = self.name ?? "\(host)-\(getpid())"
        let logger = Logger(label: "digits.worker")
        var local: Dataset?
        if let data {
            local = try MNISTFiles.load(directory: try DataLocator.resolve(flag: data).directory).train
        }
        let node = WorkerNode(name: name, host: host, localData: local, logger: logger, now: nowNanoseconds())
        node.silenceDeadlineSeconds = silenceDeadline

        let transport = try security.clientSecurity(endpoint: coordinator, file: try clusterFile(config), keyFile: key, role: "worker \(name)")
        let context = ZMQContext()
        let control = try ZMQSocket(context: context, type: .dealer)
        try transport.secureClient(control)
        try control.setMaxMessageSize(Int64(WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096))
        try control.setReconnectInterval(milliseconds: 100, max: 2000)
        try control.connect(coordinator)
        var dataSockets: [ZMQSocket] = []
        logger.info("worker \(name) dialing \(coordinator)\(transport.isCurve ? " with CURVE" : "")")

        func perform(_ actions: [WorkerAction]) throws {
            for action in actions {
                switch action {
                case .sendControl(let frames):
                    trySend(control, frames, to: "the coordinator")
                case .sendData(let shard, let frames):
                    trySend(dataSockets[shard], frames, to: "parameter-server shard \(shard + 1)")
                case .sendDataAll(let frames):
                    for (i, s) in dataSockets.enumerated() { trySend(s, frames, to: "parameter-server shard \(i + 1)") }
                case .connectData(let endpoints):
                    for endpoint in endpoints {
                        let s = try ZMQSocket(context: context, type: .dealer)
                        try transport.secureClient(s)
                        try s.setMaxMessageSize(Int64(WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096))
                        try s.connect(Self.reachable(endpoint, via: coordinator))
                        dataSockets.append(s)
                    }
                case .disconnectData:
                    for s in dataSockets { s.close() }
                    dataSockets = []
                case .exit(let code, let reason):
                    if code == 0 {
                        logger.info("worker \(name) done: \(reason); \(node.computed) micro-batches, \(String(format: "%.2f", node.computeSeconds * 1000 / Double(max(node.computed, 1)))) ms each, peak RSS \(String(format: "%.0f", ResourceUsage.peakRSSMegabytes())) MB")
                    } else {
                        let hint = transport.isCurve && node.id == 0 && !reason.hasPrefix("the coordinator refused")
                            ? " (CURVE: check that server.pub is the coordinator's and that this worker's public key is in its authorized_workers)" : ""
                        // The action's exit status is kept (2: refused by the coordinator, do not retry).
                        FileHandle.standardError.write("Error: worker \(name): \(reason)\(hint)\n".data(using: .utf8)!)
                    }
                    throw ExitCode(code)
                }
            }
        }

        let spinNanoseconds = UInt64(max(0, spinWait) * 1000)
        var spinUntil: UInt64 = 0
        // Polling at SCHED_IDLE: the core stays awake for the weights, yet the kernel counts it
        // as free, so the coordinator and the ZeroMQ I/O threads run there at once instead of
        // preempting a worker that is still computing. Coming back needs CAP_SYS_NICE (or RLIMIT_NICE >= 20).
        var idleSpin = spinNanoseconds > 0 && idleWhilePolling && digits_idle_scheduling_reversible() != 0
        if spinNanoseconds > 0, idleWhilePolling, !idleSpin {
            logger.info("polling for weights at normal priority (leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE >= 20)")
        }
        try perform(node.start(now: nowNanoseconds()))
        while true {
            if StopSignal.requested != nil {
                if node.id != 0 {
                    try? control.send(WireCodec.encode(Envelope(jobID: 0, sender: node.id, step: 0, message: .shutdown(Shutdown(reason: "worker stopped")))))
                }
                logger.info("worker \(name) stopping on signal")
                throw ExitCode(0)
            }
            let polled = dataSockets  // the control socket may add data sockets below
            var readable = try zmqPoll([control] + polled, timeoutMilliseconds: node.hasWork || spinUntil > nowNanoseconds() ? 0 : 50)
            if !readable.contains(true), !node.hasWork, spinUntil > nowNanoseconds() {
                let idle = idleSpin && digits_set_idle_scheduling(1) == 0
                defer {
                    if idle, digits_set_idle_scheduling(0) != 0 {
                        logger.warning("could not leave SCHED_IDLE after polling (\(String(cString: strerror(errno)))); polling at normal priority from now on")
                        idleSpin = false
                    }
                }
                while !readable.contains(true), !node.hasWork, spinUntil > nowNanoseconds() {
                    sched_yield()
                    readable = try zmqPoll([control] + polled, timeoutMilliseconds: 0)
                }
            }
            if readable[0] {
                while let frames = try control.receive() { try perform(try node.control(frames, now: nowNanoseconds())) }
            }
            // A message may make the worker rejoin, which closes the data sockets: stop reading them then.
            for (i, s) in polled.enumerated() where readable[i + 1] {
                while dataSockets.contains(where: { $0 === s }), let frames = try s.receive() {
                    try perform(try node.data(frames, now: nowNanoseconds()))
                }
            }
            try perform(node.tick(now: nowNanoseconds()))
            if node.hasWork {
                try perform(node.computeNext())
                if !node.hasWork { spinUntil = nowNanoseconds() + spinNanoseconds }
            }
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

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server",
        abstract: "Run one parameter-server shard as its own process (for a coordinator started with --servers K).")

    @Option(help: "The coordinator's control endpoint, e.g. tcp://HOST:5555.") var coordinator: String
    @Option(help: "Endpoint workers dial for weights and gradients (port 0: the OS picks).") var bind: String = "tcp://0.0.0.0:0"
    @Option(help: "Host name or address workers should dial when --bind uses a wildcard address (default: the coordinator's host).") var advertise: String?
    @Option(help: "A name for logs.") var name: String?
    @Option(name: .customLong("silence-deadline"), help: "Exit if the coordinator is silent this many seconds.") var silenceDeadline: Double = 120
    @Flag(name: .customLong("exit-with-parent"), help: "Exit when the launching process dies (used by digits cluster).") var exitWithParent = false
    @OptionGroup var security: SecurityOptions

    func run() throws {
        if exitWithParent { _ = digits_set_parent_death_signal(SIGTERM) }
        keepTensorBuffersMapped()
        StopSignal.install()
        let host = ProcessInfo.processInfo.hostName
        let name = self.name ?? "server-\(host)-\(getpid())"
        let logger = Logger(label: "digits.server")
        let transport = try security.serverSecurity(endpoints: [bind, coordinator], file: nil, role: "parameter server \(name)")
        let context = ZMQContext()
        let zap = try transport.startZAP(context, logger: logger)
        defer { zap?.stop() }
        let control = try ZMQSocket(context: context, type: .dealer)
        try transport.secureClient(control)
        try control.setMaxMessageSize(Int64(4 * WireCodec.maxPayloadFrame))
        try control.setReconnectInterval(milliseconds: 100, max: 2000)
        let data = try ZMQSocket(context: context, type: .router)
        try transport.secureServer(data)
        try data.setMaxMessageSize(Int64(WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096))
        var endpoint = try data.bind(bind)
        if let advertise, let colon = endpoint.lastIndex(of: ":") { endpoint = "tcp://\(advertise)" + endpoint[colon...] }
        endpoint = WorkerCommand.reachable(endpoint, via: coordinator)
        try control.connect(coordinator)
        logger.info("parameter server \(name) on \(endpoint), dialing \(coordinator)")
        let node = ShardServer(name: name, host: host, endpoint: endpoint, logger: logger, now: nowNanoseconds())
        node.silenceDeadlineSeconds = silenceDeadline

        func perform(_ actions: [ShardAction]) throws {
            for action in actions {
                switch action {
                case .sendControl(let frames): trySend(control, frames, to: "the coordinator")
                case .sendData(let peer, let frames):
                    do { try data.send([peer] + frames) } catch { logger.warning("send to a worker failed: \(error)") }
                case .exit(let code, let reason):
                    if code == 0 {
                        logger.info("parameter server \(name) done: \(reason); peak RSS \(String(format: "%.0f", ResourceUsage.peakRSSMegabytes())) MB")
                        throw ExitCode.success
                    }
                    throw CLIError("parameter server \(name): \(reason)")
                }
            }
        }

        try perform(node.start(now: nowNanoseconds()))
        while true {
            if StopSignal.requested != nil {
                logger.info("parameter server \(name) stopping on signal")
                throw ExitCode(0)
            }
            let readable = try zmqPoll([control, data], timeoutMilliseconds: 50)
            if readable[0] {
                while let frames = try control.receive() { try perform(node.control(frames, now: nowNanoseconds())) }
            }
            if readable[1] {
                while let frames = try data.receive(), frames.count >= 2 {
                    try perform(node.data(peer: frames[0], frames: Array(frames.dropFirst()), now: nowNanoseconds()))
                }
            }
            try perform(node.tick(now: nowNanoseconds()))
        }
    }
}
