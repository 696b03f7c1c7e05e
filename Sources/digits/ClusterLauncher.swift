// `digits cluster --workers N`: a coordinator and N workers on this machine (like horovodrun -np N
// or torchrun --standalone), their logs streamed with role prefixes, all stopped cleanly on
// Ctrl-C / SIGTERM (children also die with the launcher through PR_SET_PDEATHSIG).
import ArgumentParser
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
        abstract: "Run a coordinator and N workers on this machine (a local multi-process cluster over ZeroMQ).")

    @Option(help: "Number of worker processes.") var workers: Int = 2
    @Option(help: "Parameter-server shards: 1 = embedded in the coordinator (default); K >= 2 = K `digits server` processes.") var servers: Int = 1
    @Option(help: "Coordinator control endpoint (port 0: the OS picks a free port).") var bind: String = "tcp://127.0.0.1:0"
    @Flag(name: .customLong("workers-load-data"), help: "Workers load the data files themselves instead of receiving the training set.") var workersLoadData = false
    @Option(name: .customLong("stop-timeout"), help: "Seconds children get to exit after SIGTERM before SIGKILL.") var stopTimeout: Double = 5
    @OptionGroup var timing: ClusterTimingOptions
    @OptionGroup var options: TrainOptions
    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1, found \(workers)") }
        if servers < 1 || servers > 64 { throw ValidationError("--servers must be in 1...64, found \(servers)") }
    }

    /// Servers listen on the coordinator's host with an OS-chosen port.
    static func loopbackBind(_ bind: String) -> String {
        guard bind.hasPrefix("tcp://"), let colon = bind.lastIndex(of: ":") else { return "tcp://127.0.0.1:0" }
        return String(bind[..<colon]) + ":0"
    }

    func run() throws {
        StopSignal.install()
        let config = try options.resolvedConfig()
        var options = self.options
        if options.out == nil { options.out = "runs/\(config.modelSpec.name)-\(TrainOptions.timestamp())" }
        _ = try options.runDirectory(for: config)  // refuse to overwrite before starting anything
        let dataDir = try dataOptions.locate(defaultDataset: config.dataset).directory
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let endpointFile = NSTemporaryDirectory() + "digits-endpoints-\(getpid()).json"
        try? FileManager.default.removeItem(atPath: endpointFile)
        defer { try? FileManager.default.removeItem(atPath: endpointFile) }

        let timingArgs = timing.arguments(try clusterFile(options.config))
        let coordinator = PrefixedChild(prefix: "coordinator", executable: exe, arguments:
            ["coordinator", "--bind", bind, "--workers", "\(workers)", "--servers", "\(servers)", "--endpoint-file", endpointFile,
             "--exit-with-parent", "--data", dataDir]
            + timingArgs + options.arguments)
        try coordinator.start()
        var children = [coordinator]

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
            Foundation.exit(130)
        }

        // Wait for the coordinator to listen.
        let listenDeadline = Date().addingTimeInterval(120)
        var control: String?
        while control == nil {
            if StopSignal.requested != nil { stopAll("interrupted") }
            if !coordinator.isRunning {
                coordinator.process.waitUntilExit()
                Thread.sleep(forTimeInterval: 0.2)
                throw CLIError("the coordinator exited (status \(coordinator.process.terminationStatus)) before listening")
            }
            if Date() > listenDeadline { stopAll("the coordinator did not start listening within 120 s") }
            if let data = FileManager.default.contents(atPath: endpointFile),
               let json = try? JSONSerialization.jsonObject(with: data) as? [String: String] {
                control = json["control"]
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        print("cluster: coordinator at \(control!); starting \(workers) worker(s)\(servers > 1 ? " and \(servers) parameter-server shards" : "")")
        if servers > 1 {
            for i in 1...servers {
                let s = PrefixedChild(prefix: "server \(i)", executable: exe, arguments:
                    ["server", "--coordinator", control!, "--bind", Self.loopbackBind(bind), "--name", "server-\(i)", "--exit-with-parent"])
                try s.start()
                children.append(s)
            }
        }
        for i in 1...workers {
            var args = ["worker", "--coordinator", control!, "--name", "worker-\(i)", "--exit-with-parent"]
            if workersLoadData { args += ["--data", dataDir] }
            let w = PrefixedChild(prefix: "worker \(i)", executable: exe, arguments: args)
            try w.start()
            children.append(w)
        }

        while coordinator.isRunning {
            if StopSignal.requested != nil { stopAll("interrupted") }
            Thread.sleep(forTimeInterval: 0.05)
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
        if status != 0 { throw ExitCode(status) }
    }
}
