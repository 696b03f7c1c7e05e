// `digits cluster --workers N`: a coordinator and N workers on this machine (like horovodrun -np N
// or torchrun --standalone). This file turns the flags into the children's arguments; starting,
// restarting and stopping them is `LocalCluster` (ClusterRuntime).
import ArgumentParser
import ClusterRuntime
import Foundation
import Supervision
import Training

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Run a coordinator and N workers on this machine (a local multi-process cluster).")

    @Option(help: "Number of worker processes.") var workers: Int = 2
    @Option(help: "Parameter-server shards: 1 = embedded in the coordinator (default); K >= 2 = K `digits server` processes.") var servers:
        Int = 1
    @Option(
        help:
            """
            Coordinator control endpoint (default: a Unix-domain socket, ipc://TMPDIR/digits-cluster-PID.sock, whose per-step latency \
            is lower than loopback TCP; tcp://127.0.0.1:0 uses TCP, port 0: the OS picks).
            """
    ) var bind: String?
    @Flag(name: .customLong("workers-load-data"), help: "Workers load the data files themselves instead of receiving the training set.")
    var workersLoadData = false
    @Option(name: .customLong("stop-timeout"), help: "Seconds children get to exit after SIGTERM before SIGKILL.") var stopTimeout: Double =
        5
    @Option(
        name: .customLong("status-bind"),
        help:
            """
            Where the coordinator serves the live status page, /metrics and /healthz: HOST:PORT (port 0: the OS picks; the URL is \
            printed) or 'off' (default: [status] bind of the cluster file, else 127.0.0.1:0).
            """
    ) var statusBind: String?
    @Option(
        name: .customLong("spin-wait"),
        help:
            """
            Microseconds each worker polls for the next weights before sleeping (default: 5000 when the workers, and standalone \
            shards, fit the cores; else 0).
            """
    ) var spinWait: Int?
    @Flag(
        name: .customLong("idle-while-polling"), inversion: .prefixedNo,
        help: "Workers poll for the weights at SCHED_IDLE priority (see digits worker --help).") var idleWhilePolling = true
    @Option(
        name: .customLong("worker-silence-deadline"),
        help:
            """
            Seconds of silence from the coordinator after which a worker exits with an error (and is started again); default: the \
            worker's own (120).
            """
    ) var workerSilenceDeadline: Double?
    @Option(
        help:
            """
            Crashed processes restarted, in all: a worker rejoins at a step boundary; a lost coordinator or parameter server restarts \
            from the last checkpoint (0 = fail at the first crash).
            """
    ) var restarts: Int = 3
    @Flag(name: .customLong("allow-mixed-numerics"), help: ArgumentHelp(allowMixedNumericsHelp)) var allowMixedNumerics = false
    @OptionGroup var timing: ClusterTimingOptions
    @OptionGroup var security: SecurityOptions
    @OptionGroup var options: TrainOptions
    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1, found \(workers)") }
        if servers < 1 || servers > 64 { throw ValidationError("--servers must be in 1...64, found \(servers)") }
        if restarts < 0 { throw ValidationError("--restarts must be >= 0, found \(restarts)") }
        if let d = workerSilenceDeadline, !(d > 0) { throw ValidationError("--worker-silence-deadline must be positive, found \(d)") }
        if let statusBind { try checkStatusBind(statusBind) }
    }

    /// Exit status of a coordinator whose failure a restart from the last checkpoint cures.
    static let recoverableExit = LocalCluster.recoverableExit

    /// Servers listen on the coordinator's host with an OS-chosen port.
    static func loopbackBind(_ bind: String) -> String {
        guard let endpoint = try? Endpoint(bind), endpoint.scheme == .tcp else { return "tcp://127.0.0.1:0" }
        return endpoint.sibling(port: 0).description
    }

    func run() throws {
        StopSignal.install()
        let config = try options.resolvedConfig()
        var options = self.options
        if options.out == nil { options.out = "runs/\(config.modelSpec.name)-\(TrainOptions.timestamp())" }
        let run = try options.runDirectory(for: config)  // refuse to overwrite before starting anything
        let dataDir = try dataOptions.locate(defaultDataset: config.dataset).directory
        let endpointFile = NSTemporaryDirectory() + "digits-endpoints-\(getpid()).json"
        try? FileManager.default.removeItem(atPath: endpointFile)
        defer { try? FileManager.default.removeItem(atPath: endpointFile) }

        // The default endpoints are files (the data socket's is NAME-data); remove them at the end.
        let ipcPath = NSTemporaryDirectory() + "digits-cluster-\(getpid()).sock"
        let usesIPC = self.bind == nil && ipcPath.utf8.count + 5 < 100  // sun_path holds 108 bytes
        let bind = self.bind ?? (usesIPC ? "ipc://" + ipcPath : "tcp://127.0.0.1:0")
        defer { if usesIPC { for path in [ipcPath, ipcPath + "-data"] { unlink(path) } } }

        let file = try ClusterConfig.loadIfClusterFile(options.config)
        // Children get the resolved recipe as one file, not a re-spelled flag list.
        let resolved = TrainOptions.resolvedConfigPath(in: run)
        _ = try options.childArguments(writing: config, to: resolved)
        let dataBindArgs = file?.dataBind.map { ["--data-bind", $0] } ?? []
        let timingArgs = timing.resolved(file).arguments
        let securityArgs = security.arguments(file)
        // Workers that each have a core (counting standalone shards) poll for the next weights
        // instead of sleeping: measured +10-27% images/s with 2 workers on 2 cores (README).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let spin = spinWait ?? (workers + (servers > 1 ? servers : 0) <= cores ? 5000 : 0)
        let plan = LocalClusterPlan(
            executable: ProcessProbe.executablePath, workers: workers, servers: servers, bind: bind, endpointFile: endpointFile,
            statusBind: statusBind ?? file?.statusBind ?? "127.0.0.1:0", restarts: restarts, stopTimeout: stopTimeout,
            resume: options.resume,
            coordinatorArguments: { [workers, servers, allowMixedNumerics] bind, statusBind, resume in
                var o = options
                o.resume = resume
                return [
                    "coordinator", "--bind", bind, "--workers", "\(workers)", "--servers", "\(servers)", "--endpoint-file", endpointFile,
                    "--exit-with-parent", "--data", dataDir, "--status-bind", statusBind
                ]
                    + (allowMixedNumerics ? ["--allow-mixed-numerics"] : []) + timingArgs + securityArgs + dataBindArgs
                    + o.childArguments(resolvedConfig: resolved)
            },
            serverArguments: { i, control in
                ["server", "--coordinator", control, "--bind", Self.loopbackBind(bind), "--name", "server-\(i)", "--exit-with-parent"]
                    + securityArgs
            },
            workerArguments: { [workersLoadData, idleWhilePolling, workerSilenceDeadline] i, control in
                var args =
                    ["worker", "--coordinator", control, "--name", "worker-\(i)", "--exit-with-parent", "--spin-wait", "\(spin)"]
                    + securityArgs
                if workersLoadData { args += ["--data", dataDir] }
                if !idleWhilePolling { args.append("--no-idle-while-polling") }
                if let workerSilenceDeadline { args += ["--silence-deadline", "\(workerSilenceDeadline)"] }
                return args
            },
            hasCheckpoint: { !run.checkpoints.list().isEmpty })

        switch try LocalCluster(plan: plan).run(stopRequested: { StopSignal.requested }) {
        case .stopped:
            throw ExitCode(130)
        case .finished(.signaled(let sig)):
            throw CLIError("the coordinator was killed by signal \(sig) and no restarts are left")
        case .finished(.exited(let status)):
            if status != 0 { throw ExitCode(status) }
        }
    }
}
