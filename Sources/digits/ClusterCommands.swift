// `digits coordinator`, `digits worker` and `digits server`: flags in, a ClusterRuntime loop run,
// its outcome turned into output and an exit status.
import ArgumentParser
import Cluster
import ClusterRuntime
import Foundation
import Logging
import MNISTData
import StatusModel
import StatusServer
import Training

let allowMixedNumericsHelp =
    "Admit workers and parameter-server shards whose numerics fingerprint differs from the coordinator's "
    + "(other CPU kind or build). Gives up reproducibility: the weights then depend on which host computed what. "
    + "The summary lists the peers admitted this way."

struct ClusterTimingOptions: ParsableArguments {
    @Option(name: .customLong("heartbeat-ms"), help: "Worker heartbeat interval in milliseconds (default 500).") var heartbeatMilliseconds:
        Int?
    @Option(
        name: .customLong("heartbeat-deadline"),
        help: "Seconds of silence after which a worker is dropped and its micro-batches reassigned (default 5).") var heartbeatDeadline:
        Double?
    @Option(
        name: .customLong("join-deadline"),
        help: "Seconds to wait for the expected workers to join, and for any worker when none is left (default 120).") var joinDeadline:
        Double?
    @Option(
        name: .customLong("step-deadline"),
        help: "Seconds a step may stay open before workers owing micro-batches are dropped (default 120).") var stepDeadline: Double?

    func validate() throws {
        if let h = heartbeatMilliseconds, h < 10 { throw ValidationError("--heartbeat-ms must be at least 10, found \(h)") }
        for (name, v) in [("--heartbeat-deadline", heartbeatDeadline), ("--join-deadline", joinDeadline), ("--step-deadline", stepDeadline)]
        {
            if let v, !(v > 0) { throw ValidationError("\(name) must be positive, found \(v)") }
        }
    }

    /// Flags over the cluster file over the defaults.
    func resolved(_ file: ClusterConfig?) -> ClusterTiming {
        ClusterTiming(
            heartbeatMilliseconds: heartbeatMilliseconds, heartbeatDeadline: heartbeatDeadline, joinDeadline: joinDeadline,
            stepDeadline: stepDeadline, file: file)
    }
}

struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator with its embedded parameter server; workers connect to it.")

    @Option(help: "Control endpoint workers dial (default tcp://0.0.0.0:5555; port 0 lets the OS pick, the bound address is printed).")
    var bind: String?
    @Option(
        name: .customLong("data-bind"),
        help: "Endpoint of the embedded parameter server (gradients and weights; default: the control host, port chosen by the OS).")
    var dataBind: String?
    @Option(help: "Workers that must be ready before training starts (default 1).") var workers: Int?
    @Option(help: "Parameter-server shards: 1 = embedded in this process (default); K >= 2 = K `digits server` processes.") var servers:
        Int = 1
    @Option(name: .customLong("endpoint-file"), help: "Write the bound endpoints (JSON) to this file once listening.") var endpointFile:
        String?
    @Flag(name: .customLong("exit-with-parent"), help: "Exit when the launching process dies (used by digits cluster).")
    var exitWithParent = false
    @Option(
        name: .customLong("status-bind"),
        help:
            """
            Serve the live status page, /metrics and /healthz over HTTP on HOST:PORT (port 0: the OS picks; the URL is printed), or \
            'off' (default: [status] bind of the cluster file, else off).
            """
    ) var statusBind: String?
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
        ClusterProcess.begin(exitWithParent: exitWithParent)
        // Warnings and errors also go to the status page's "recent" list.
        let events = RecentEvents()
        let logger = Logger(label: "digits.coordinator") { MultiplexLogHandler([PlainLogHandler(label: $0), events.logHandler()]) }
        let file = try ClusterConfig.loadIfClusterFile(options.config)
        let statusAddress = try StatusAddress.parse(statusBind ?? file?.statusBind ?? "off")
        let bind = self.bind ?? file?.bind ?? "tcp://0.0.0.0:5555"
        let dataBind = self.dataBind ?? file?.dataBind
        let workers = self.workers ?? file?.workers ?? 1
        let timing = self.timing.resolved(file)
        let config = try options.resolvedConfig()
        if config.training.mode == .async && servers > 1 {
            throw CLIError("--mode async runs on the embedded parameter server; use --servers 1")
        }
        let run = try options.runDirectory(for: config)
        // Before anything is written: a status port in use changes nothing on disk.
        let status = try statusAddress.map { try LiveStatus(address: $0, logger: logger) }
        defer { status?.stop() }
        let trainer = try options.makeTrainer(config: config, run: run, data: dataOptions, logger: logger)

        let security = try self.security.serverSecurity(endpoints: [bind, dataBind ?? bind], file: file, role: "the coordinator")
        let transport = try networkTransport(security: security, logger: logger)
        let sockets = try CoordinatorSockets(transport: transport, bind: bind, dataBind: dataBind)
        logger.info(
            """
            coordinator listening on \(sockets.controlEndpoint)\(security.isCurve ? " with CURVE (authorised keys only)" : "") \
            (\(servers == 1 ? "parameter server on \(sockets.dataEndpoint)" : "\(servers) parameter-server shards")); waiting for \
            \(workers) worker(s)
            """
        )
        if let endpointFile {
            let endpoints = EndpointFile(
                control: sockets.controlEndpoint, data: sockets.dataEndpoint,
                status: status.map(\.server.url), statusBind: status?.boundAddress)
            try SealedFile.writeAtomically(try endpoints.encoded(), to: endpointFile)
        }

        var settings = CoordinatorSettings(minWorkers: workers, serverEndpoint: sockets.dataEndpoint, servers: servers)
        timing.apply(to: &settings)
        settings.allowMixedNumerics = allowMixedNumerics
        let mixed =
            allowMixedNumerics
            ? "; peers with another fingerprint are admitted (--allow-mixed-numerics): the result is not reproducible" : ""
        logger.info("numerics fingerprint \(settings.numerics)\(mixed)")
        let jobID = UInt64.random(in: 1...UInt64.max)
        let coordinator = try Coordinator(trainer: trainer, settings: settings, jobID: jobID, logger: logger, now: monotonicNanoseconds())
        try trainer.begin(in: run, workers: workers)
        let loop = CoordinatorLoop(coordinator: coordinator, transport: transport, sockets: sockets, logger: logger)
        loop.onStatus = { force, final in
            status?.publish(coordinator, controlEndpoint: sockets.controlEndpoint, run: run, events: events, force: force, final: final)
        }
        switch try loop.run() {
        case .finished(let summary):
            printSummary(summary, run: run)
        case .failed(let message):
            throw CLIError(message)
        case .interrupted(let message):
            Console.error("Error: \(message)\n")
            throw ExitCode(ClusterCommand.recoverableExit)
        case .stopped:
            throw ExitCode(130)
        }
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Join a coordinator and compute micro-batch gradients for it.")

    @Option(help: "The coordinator's control endpoint, e.g. tcp://HOST:5555.") var coordinator: String?
    @Option(help: "A cluster file (Config/cluster.toml) whose [worker] coordinator is used when --coordinator is absent.") var config:
        String?
    @Option(help: "A name for logs and the status page.") var name: String?
    @Option(help: "Load the training set from this directory instead of receiving it from the coordinator.") var data: String?
    @Option(name: .customLong("silence-deadline"), help: "Exit if the coordinator is silent this many seconds.") var silenceDeadline:
        Double = 120
    @Option(
        name: .customLong("spin-wait"),
        help:
            """
            Microseconds to keep polling (instead of sleeping) after pushing a step's gradients, waiting for the next weights. A core \
            that sleeps between steps comes back slower; worth it only when this worker has a core to itself (digits cluster sets it \
            when workers fit the cores).
            """
    ) var spinWait: Double = 0
    @Flag(
        name: .customLong("idle-while-polling"), inversion: .prefixedNo,
        help:
            """
            Run the --spin-wait polling at SCHED_IDLE priority, so the coordinator and I/O threads take this core at once (when this \
            process may return from SCHED_IDLE: CAP_SYS_NICE or RLIMIT_NICE >= 20).
            """
    ) var idleWhilePolling = true
    @Flag(name: .customLong("exit-with-parent"), help: "Exit when the launching process dies (used by digits cluster).")
    var exitWithParent = false
    @OptionGroup var security: SecurityOptions
    @Option(help: "This worker's own key pair file (default: worker.key in --keys DIR).") var key: String?

    func run() throws {
        ClusterProcess.begin(exitWithParent: exitWithParent)
        guard let coordinator = try coordinator ?? ClusterConfig.loadIfClusterFile(config)?.coordinator else {
            throw CLIError("give the coordinator's endpoint: --coordinator tcp://HOST:PORT (or --config with a [worker] coordinator)")
        }
        let host = ProcessInfo.processInfo.hostName
        let name = self.name ?? "\(host)-\(getpid())"
        let logger = Logger(label: "digits.worker")
        var local: Dataset?
        if let data {
            local = try MNISTFiles.load(directory: try DataLocator.resolve(flag: data).directory).train
        }
        let node = WorkerNode(name: name, host: host, localData: local, logger: logger, now: monotonicNanoseconds())
        node.silenceDeadlineSeconds = silenceDeadline
        let security = try self.security.clientSecurity(
            endpoint: coordinator, file: try ClusterConfig.loadIfClusterFile(config), keyFile: key, role: "worker \(name)")
        let transport = try networkTransport(security: security, logger: logger)
        let loop = try WorkerLoop(
            node: node, transport: transport, coordinator: coordinator, logger: logger,
            spinWaitMicroseconds: spinWait, idleWhilePolling: idleWhilePolling)
        logger.info("worker \(name) dialing \(coordinator)\(security.isCurve ? " with CURVE" : "")")
        let outcome = try loop.run()
        if outcome.code != 0 {
            // The exit status is kept (2: refused by the coordinator, do not retry).
            Console.error("Error: worker \(name): \(outcome.reason)\n")
        }
        throw ExitCode(outcome.code)
    }
}

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run one parameter-server shard as its own process (for a coordinator started with --servers K).")

    @Option(help: "The coordinator's control endpoint, e.g. tcp://HOST:5555.") var coordinator: String
    @Option(help: "Endpoint workers dial for weights and gradients (port 0: the OS picks).") var bind: String = "tcp://0.0.0.0:0"
    @Option(help: "Host name or address workers should dial when --bind uses a wildcard address (default: the coordinator's host).")
    var advertise: String?
    @Option(help: "A name for logs.") var name: String?
    @Option(name: .customLong("silence-deadline"), help: "Exit if the coordinator is silent this many seconds.") var silenceDeadline:
        Double = 120
    @Flag(name: .customLong("exit-with-parent"), help: "Exit when the launching process dies (used by digits cluster).")
    var exitWithParent = false
    @OptionGroup var security: SecurityOptions

    func run() throws {
        ClusterProcess.begin(exitWithParent: exitWithParent)
        let host = ProcessInfo.processInfo.hostName
        let name = self.name ?? "server-\(host)-\(getpid())"
        let logger = Logger(label: "digits.server")
        let security = try self.security.serverSecurity(endpoints: [bind, coordinator], file: nil, role: "parameter server \(name)")
        let transport = try networkTransport(security: security, logger: logger)
        let loop = try ShardLoop(
            name: name, host: host, transport: transport, coordinator: coordinator, bind: bind, advertise: advertise, logger: logger)
        loop.node.silenceDeadlineSeconds = silenceDeadline
        logger.info("parameter server \(name) on \(loop.endpoint), dialing \(coordinator)")
        let outcome = try loop.run()
        if outcome.code != 0 { throw CLIError("parameter server \(name): \(outcome.reason)") }
        if outcome.reason == "stopped on signal" {
            logger.info("parameter server \(name) stopping on signal")
        } else {
            logger.info(
                "parameter server \(name) done: \(outcome.reason); peak RSS \(String(format: "%.0f", ResourceUsage.peakRSSMegabytes())) MB")
        }
    }
}

func checkStatusBind(_ text: String) throws {
    do { _ = try StatusAddress.parse(text) } catch let e as ConfigError { throw ValidationError("--status-bind: \(e.message)") }
}
