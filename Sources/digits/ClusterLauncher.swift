// `digits cluster --workers N`: a coordinator and N workers on this machine (like horovodrun -np N
// or torchrun --standalone), their logs streamed with role prefixes, all stopped cleanly on
// Ctrl-C / SIGTERM (children also die with the launcher through PR_SET_PDEATHSIG).
import ArgumentParser
import ClusterRuntime
import Foundation
import Synchronization
import Training

/// A child process whose stdout and stderr are printed line by line with a prefix.
final class PrefixedChild: @unchecked Sendable {
    let prefix: String
    let process = Process()
    private let buffer = Mutex<[UInt8]>([])
    static let printLock = Mutex<Void>(())

    init(prefix: String, executable: String, arguments: [String]) {
        self.prefix = prefix
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    }

    func start() throws {
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.flush(final: true)
                return
            }
            self.buffer.withLock { $0 += data }
            self.flush(final: false)
        }
        try process.run()
    }

    private func flush(final: Bool) {
        let lines: [String] = buffer.withLock { buf in
            var out: [String] = []
            while let nl = buf.firstIndex(of: 0x0a) {
                out.append(String(decoding: buf[..<nl], as: UTF8.self))
                buf.removeSubrange(...nl)
            }
            if final && !buf.isEmpty {
                out.append(String(decoding: buf, as: UTF8.self))
                buf.removeAll()
            }
            return out
        }
        guard !lines.isEmpty else { return }
        Self.printLock.withLock { _ in
            for line in lines { FileHandle.standardOutput.write("[\(prefix)] \(line)\n".data(using: .utf8)!) }
        }
    }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }
}

struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster",
        abstract: "Run a coordinator and N workers on this machine (a local multi-process cluster).")

    @Option(help: "Number of worker processes.") var workers: Int = 2
    @Option(help: "Parameter-server shards: 1 = embedded in the coordinator (default); K >= 2 = K `digits server` processes.") var servers: Int = 1
    @Option(help: "Coordinator control endpoint (default: a Unix-domain socket, ipc://TMPDIR/digits-cluster-PID.sock, whose per-step latency is lower than loopback TCP; tcp://127.0.0.1:0 uses TCP, port 0: the OS picks).") var bind: String?
    @Flag(name: .customLong("workers-load-data"), help: "Workers load the data files themselves instead of receiving the training set.") var workersLoadData = false
    @Option(name: .customLong("stop-timeout"), help: "Seconds children get to exit after SIGTERM before SIGKILL.") var stopTimeout: Double = 5
    @Option(name: .customLong("status-bind"), help: "Where the coordinator serves the live status page, /metrics and /healthz: HOST:PORT (port 0: the OS picks; the URL is printed) or 'off' (default: [status] bind of the cluster file, else 127.0.0.1:0).") var statusBind: String?
    @Option(name: .customLong("spin-wait"), help: "Microseconds each worker polls for the next weights before sleeping (default: 5000 when the workers, and standalone shards, fit the cores; else 0).") var spinWait: Int?
    @Flag(name: .customLong("idle-while-polling"), inversion: .prefixedNo, help: "Workers poll for the weights at SCHED_IDLE priority (see digits worker --help).") var idleWhilePolling = true
    @Option(name: .customLong("worker-silence-deadline"), help: "Seconds of silence from the coordinator after which a worker exits with an error (and is started again); default: the worker's own (120).") var workerSilenceDeadline: Double?
    @Option(help: "Crashed processes restarted, in all: a worker rejoins at a step boundary; a lost coordinator or parameter server restarts from the last checkpoint (0 = fail at the first crash).") var restarts: Int = 3
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
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let endpointFile = NSTemporaryDirectory() + "digits-endpoints-\(getpid()).json"
        try? FileManager.default.removeItem(atPath: endpointFile)
        defer { try? FileManager.default.removeItem(atPath: endpointFile) }

        // The default endpoints are files (the data socket's is NAME-data); remove them at the end.
        let ipcPath = NSTemporaryDirectory() + "digits-cluster-\(getpid()).sock"
        let usesIPC = self.bind == nil && ipcPath.utf8.count + 5 < 100  // sun_path holds 108 bytes
        let bind = self.bind ?? (usesIPC ? "ipc://" + ipcPath : "tcp://127.0.0.1:0")
        func removeSocketFiles() {
            guard usesIPC else { return }
            for path in [ipcPath, ipcPath + "-data"] { unlink(path) }
        }
        defer { removeSocketFiles() }

        let file = try clusterFile(options.config)
        let timingArgs = timing.arguments(file)
        let securityArgs = security.arguments(file)
        var restartsLeft = restarts
        // A restarted coordinator serves its status page on the address the first one bound.
        var statusBind = self.statusBind ?? file?.statusBind ?? "127.0.0.1:0"
        var statusURL: String?

        var coordinator: PrefixedChild!
        var servers: [PrefixedChild] = []
        var workerChildren: [PrefixedChild] = []
        var children: [PrefixedChild] { [coordinator] + servers + workerChildren }

        func stopAll(_ why: String) -> Never {
            FileHandle.standardError.write("cluster: \(why); stopping \(children.filter(\.isRunning).count) process(es)\n".data(using: .utf8)!)
            for c in children { c.signal(SIGTERM) }
            let deadline = Date().addingTimeInterval(stopTimeout)
            while children.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            for c in children where c.isRunning {
                FileHandle.standardError.write("cluster: \(c.prefix) (pid \(c.pid)) ignored SIGTERM; killing it\n".data(using: .utf8)!)
                c.signal(SIGKILL)
            }
            Thread.sleep(forTimeInterval: 0.1)
            removeSocketFiles()
            Foundation.exit(130)
        }

        /// Starts the coordinator (resuming from the newest checkpoint if there is one) and waits until it listens.
        func startCoordinator(bind: String, resume: Bool) throws -> String {
            try? FileManager.default.removeItem(atPath: endpointFile)
            var o = options
            o.resume = resume
            coordinator = PrefixedChild(prefix: "coordinator", executable: exe, arguments:
                ["coordinator", "--bind", bind, "--workers", "\(workers)", "--servers", "\(self.servers)", "--endpoint-file", endpointFile,
                 "--exit-with-parent", "--data", dataDir, "--status-bind", statusBind]
                + (allowMixedNumerics ? ["--allow-mixed-numerics"] : [])
                + timingArgs + securityArgs + o.arguments)
            try coordinator.start()
            let listenDeadline = Date().addingTimeInterval(120)
            while true {
                if StopSignal.requested != nil { stopAll("interrupted") }
                if !coordinator.isRunning {
                    coordinator.process.waitUntilExit()
                    Thread.sleep(forTimeInterval: 0.2)
                    throw CLIError("the coordinator exited (status \(coordinator.process.terminationStatus)) before listening")
                }
                if Date() > listenDeadline { stopAll("the coordinator did not start listening within 120 s") }
                if let endpoints = EndpointFile.read(endpointFile) {
                    statusURL = endpoints.status
                    if let bound = endpoints.statusBind { statusBind = bound }
                    return endpoints.control
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        func startServers(_ control: String) throws {
            servers = []
            guard self.servers > 1 else { return }
            for i in 1...self.servers {
                let s = PrefixedChild(prefix: "server \(i)", executable: exe, arguments:
                    ["server", "--coordinator", control, "--bind", Self.loopbackBind(bind), "--name", "server-\(i)", "--exit-with-parent"] + securityArgs)
                try s.start()
                servers.append(s)
            }
        }

        // Workers that each have a core (counting standalone shards) poll for the next weights
        // instead of sleeping: measured +10-27% images/s with 2 workers on 2 cores (README).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let spin = spinWait ?? (workers + (self.servers > 1 ? self.servers : 0) <= cores ? 5000 : 0)
        func worker(_ i: Int, _ control: String) throws -> PrefixedChild {
            var args = ["worker", "--coordinator", control, "--name", "worker-\(i)", "--exit-with-parent", "--spin-wait", "\(spin)"] + securityArgs
            if workersLoadData { args += ["--data", dataDir] }
            if !idleWhilePolling { args.append("--no-idle-while-polling") }
            if let workerSilenceDeadline { args += ["--silence-deadline", "\(workerSilenceDeadline)"] }
            let w = PrefixedChild(prefix: "worker \(i)", executable: exe, arguments: args)
            try w.start()
            return w
        }

        let control = try startCoordinator(bind: bind, resume: options.resume)
        print("cluster: coordinator at \(control); starting \(workers) worker(s)\(self.servers > 1 ? " and \(self.servers) parameter-server shards" : "")")
        if let statusURL { print("cluster: status page on \(statusURL) (Prometheus metrics at \(statusURL)metrics)") }
        try startServers(control)
        for i in 1...workers { workerChildren.append(try worker(i, control)) }

        /// A child that died of a signal, or a coordinator that reported a recoverable failure.
        func crashed(_ c: PrefixedChild) -> Bool {
            c.process.terminationReason == .uncaughtSignal || (c === coordinator && c.process.terminationStatus == Self.recoverableExit)
        }
        func describe(_ c: PrefixedChild) -> String {
            c.process.terminationReason == .uncaughtSignal ? "was killed by signal \(c.process.terminationStatus)" : "exited with status \(c.process.terminationStatus)"
        }

        while true {
            if StopSignal.requested != nil { stopAll("interrupted") }
            Thread.sleep(forTimeInterval: 0.05)
            // A shard that exits 0 was told to stop (the job finished); any other exit is a loss.
            let lostServer = servers.first { !$0.isRunning && !($0.process.terminationReason == .exit && $0.process.terminationStatus == 0) }
            if !coordinator.isRunning || lostServer != nil {
                if coordinator.isRunning == false { coordinator.process.waitUntilExit() }
                if !coordinator.isRunning && coordinator.process.terminationStatus == 0 && coordinator.process.terminationReason == .exit { break }
                let what = lostServer.map { "\($0.prefix) \(describe($0))" } ?? "the coordinator \(describe(coordinator))"
                let recoverable = lostServer.map(crashed) ?? crashed(coordinator)
                guard recoverable, restartsLeft > 0 else {
                    if lostServer != nil { stopAll("\(what)\(restartsLeft == 0 ? " and no restarts are left (--restarts \(restarts))" : "")") }
                    break
                }
                restartsLeft -= 1
                // The parameter state lives in the coordinator's checkpoints: stop the coordinator and every
                // shard without goodbyes (workers keep their data and rejoin the new incarnation by themselves).
                for c in [coordinator!] + servers where c.isRunning { c.signal(SIGKILL) }
                for c in [coordinator!] + servers { c.process.waitUntilExit() }
                let resume = !run.checkpoints.list().isEmpty
                FileHandle.standardError.write("cluster: \(what); restarting the coordinator\(self.servers > 1 ? " and parameter servers" : "") \(resume ? "from the last checkpoint" : "from the start (no checkpoint yet)") (\(restartsLeft) restart(s) left)\n".data(using: .utf8)!)
                let again = try startCoordinator(bind: control, resume: resume)
                try startServers(again)
                continue
            }
            // A worker that died (signal) or failed (non-zero exit) is started again; one told to stop exits 0.
            for (k, w) in workerChildren.enumerated() where !w.isRunning && (crashed(w) || w.process.terminationStatus != 0) {
                guard restartsLeft > 0 else { continue }
                restartsLeft -= 1
                FileHandle.standardError.write("cluster: \(w.prefix) \(describe(w)); starting it again (\(restartsLeft) restart(s) left)\n".data(using: .utf8)!)
                workerChildren[k] = try worker(k + 1, control)
            }
        }
        coordinator.process.waitUntilExit()
        // Workers leave on the coordinator's shutdown message; give them a moment, then insist.
        let deadline = Date().addingTimeInterval(10)
        while children.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        for c in children where c.isRunning { c.signal(SIGTERM) }
        let killDeadline = Date().addingTimeInterval(stopTimeout)
        while children.contains(where: \.isRunning) && Date() < killDeadline { Thread.sleep(forTimeInterval: 0.05) }
        for c in children where c.isRunning { c.signal(SIGKILL) }
        Thread.sleep(forTimeInterval: 0.2)  // let the log readers drain
        let status = coordinator.process.terminationStatus
        if coordinator.process.terminationReason == .uncaughtSignal {
            throw CLIError("the coordinator was killed by signal \(status) and no restarts are left")
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Exit status of a coordinator that failed in a way a restart from the last checkpoint cures
    /// (a parameter-server shard lost, no workers left): EX_TEMPFAIL.
    static let recoverableExit: Int32 = 75
}
