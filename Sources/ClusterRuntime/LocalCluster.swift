// A coordinator, its parameter-server shards and N workers as child processes of this one (what
// `digits cluster` runs, like horovodrun -np N or torchrun --standalone): their output streamed
// with role prefixes, crashed processes restarted (a worker rejoins at a step boundary; a lost
// coordinator or shard restarts from the last checkpoint), and everything stopped cleanly on a
// signal. The command line decides the arguments; this decides when to start and stop what.
import Foundation
import Supervision
import Training

/// What to run. The argument closures give each child's full argument list.
public struct LocalClusterPlan {
    public var executable: String
    public var workers: Int
    /// Standalone parameter-server shards (1: embedded in the coordinator, no shard processes).
    public var servers: Int
    /// Where the coordinator listens first (a restarted one listens where the first one did).
    public var bind: String
    /// The coordinator's `--endpoint-file`.
    public var endpointFile: String
    /// Its status page address (a restarted one serves where the first one bound).
    public var statusBind: String
    /// Crashed processes restarted, in all.
    public var restarts: Int
    /// Seconds children get to exit after SIGTERM before SIGKILL.
    public var stopTimeout: Double
    /// Seconds the coordinator gets to listen.
    public var listenDeadline: Double = 120
    public var resume: Bool
    public var coordinatorArguments: (_ bind: String, _ statusBind: String, _ resume: Bool) -> [String]
    public var serverArguments: (_ index: Int, _ control: String) -> [String]
    public var workerArguments: (_ index: Int, _ control: String) -> [String]
    /// Whether a checkpoint exists to restart from.
    public var hasCheckpoint: () -> Bool

    public init(
        executable: String, workers: Int, servers: Int, bind: String, endpointFile: String, statusBind: String,
        restarts: Int, stopTimeout: Double, resume: Bool,
        coordinatorArguments: @escaping (_ bind: String, _ statusBind: String, _ resume: Bool) -> [String],
        serverArguments: @escaping (_ index: Int, _ control: String) -> [String],
        workerArguments: @escaping (_ index: Int, _ control: String) -> [String],
        hasCheckpoint: @escaping () -> Bool
    ) {
        self.executable = executable
        self.workers = workers
        self.servers = servers
        self.bind = bind
        self.endpointFile = endpointFile
        self.statusBind = statusBind
        self.restarts = restarts
        self.stopTimeout = stopTimeout
        self.resume = resume
        self.coordinatorArguments = coordinatorArguments
        self.serverArguments = serverArguments
        self.workerArguments = workerArguments
        self.hasCheckpoint = hasCheckpoint
    }
}

/// How a local cluster ended.
public enum LocalClusterOutcome: Equatable {
    /// The coordinator ended the job (status 0: training finished).
    case finished(ChildExit)
    /// Stopped (a signal, a deadline, a loss with no restarts left): every child was stopped.
    case stopped(reason: String)
}

public final class LocalCluster {
    /// Exit status of a coordinator that failed in a way a restart from the last checkpoint cures
    /// (a parameter-server shard lost, no workers left): EX_TEMPFAIL.
    public static let recoverableExit: Int32 = 75

    let plan: LocalClusterPlan
    /// Lines for the user on stdout (between the children's prefixed lines), and on stderr.
    let say: (String) -> Void
    let warn: (String) -> Void
    var coordinator: ChildProcess!
    var servers: [ChildProcess] = []
    var workers: [ChildProcess] = []
    var restartsLeft: Int
    var statusBind: String
    var children: [ChildProcess] { (coordinator.map { [$0] } ?? []) + servers + workers }

    public init(
        plan: LocalClusterPlan, say: @escaping (String) -> Void = ChildProcess.printLine,
        warn: @escaping (String) -> Void = { Console.error("cluster: \($0)\n") }
    ) {
        self.plan = plan
        self.say = say
        self.warn = warn
        restartsLeft = plan.restarts
        statusBind = plan.statusBind
    }

    /// Runs the cluster until the coordinator ends the job or `stopRequested` returns a signal.
    public func run(stopRequested: () -> Int32? = { nil }) throws -> LocalClusterOutcome {
        let first: (control: String, status: String?)
        switch try startCoordinator(bind: plan.bind, resume: plan.resume, stopRequested: stopRequested) {
        case .left(let outcome): return outcome
        case .right(let started): first = started
        }
        let control = first.control
        say(
            """
            cluster: coordinator at \(control); starting \(plan.workers) \
            worker(s)\(plan.servers > 1 ? " and \(plan.servers) parameter-server shards" : "")
            """
        )
        if let url = first.status { say("cluster: status page on \(url) (Prometheus metrics at \(url)metrics)") }
        try startServers(control)
        for i in 1...plan.workers { workers.append(try startWorker(i, control)) }

        while true {
            if stopRequested() != nil { return stopAll("interrupted") }
            Thread.sleep(forTimeInterval: 0.05)
            // A shard that exits 0 was told to stop (the job finished); any other exit is a loss.
            let lostServer = servers.first { !$0.isRunning && $0.termination?.succeeded == false }
            if !coordinator.isRunning || lostServer != nil {
                if !coordinator.isRunning, coordinator.termination?.succeeded == true { break }
                let what = lostServer.map { "\($0.name) \($0.termination!)" } ?? "the coordinator \(coordinator.wait(timeout: nil)!)"
                let recoverable = lostServer.map(crashed) ?? crashed(coordinator)
                guard recoverable, restartsLeft > 0 else {
                    if lostServer != nil {
                        return stopAll("\(what)\(restartsLeft == 0 ? " and no restarts are left (--restarts \(plan.restarts))" : "")")
                    }
                    break
                }
                restartsLeft -= 1
                // The parameter state lives in the coordinator's checkpoints: stop the coordinator and every
                // shard without goodbyes (workers keep their data and rejoin the new incarnation by themselves).
                for c in [coordinator!] + servers where c.isRunning { c.signal(SIGKILL) }
                for c in [coordinator!] + servers { c.wait(timeout: nil) }
                let resume = plan.hasCheckpoint()
                warn(
                    """
                    \(what); restarting the coordinator\(plan.servers > 1 ? " and parameter servers" : "") \
                    \(resume ? "from the last checkpoint" : "from the start (no checkpoint yet)") (\(restartsLeft) restart(s) left)
                    """
                )
                switch try startCoordinator(bind: control, resume: resume, stopRequested: stopRequested) {
                case .left(let outcome): return outcome
                case .right(let again): try startServers(again.control)
                }
                continue
            }
            // A worker that died (signal) or failed (non-zero exit) is started again; one told to stop exits 0.
            for (k, w) in workers.enumerated() where !w.isRunning && w.termination?.succeeded == false {
                guard restartsLeft > 0 else { continue }
                restartsLeft -= 1
                warn("\(w.name) \(w.termination!); starting it again (\(restartsLeft) restart(s) left)")
                workers[k] = try startWorker(k + 1, control)
            }
        }
        let exit = coordinator.wait(timeout: nil)!
        // Workers leave on the coordinator's shutdown message; give them a moment, then insist.
        let deadline = Date().addingTimeInterval(10)
        while children.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        stopChildren(quietly: true)
        return .finished(exit)
    }

    /// A child that died of a signal, or a coordinator that reported a recoverable failure.
    func crashed(_ c: ChildProcess) -> Bool {
        c.termination?.wasSignaled == true || (c === coordinator && c.termination == .exited(Self.recoverableExit))
    }

    /// Either an early outcome or the coordinator's control endpoint and status URL.
    enum Started {
        case left(LocalClusterOutcome)
        case right((control: String, status: String?))
    }

    /// Starts the coordinator and waits until it listens.
    func startCoordinator(bind: String, resume: Bool, stopRequested: () -> Int32?) throws -> Started {
        try? FileManager.default.removeItem(atPath: plan.endpointFile)
        coordinator = ChildProcess(
            executable: plan.executable, arguments: plan.coordinatorArguments(bind, statusBind, resume), output: .prefixed("coordinator"))
        try coordinator.start()
        let endpoints = EndpointFile.wait(for: plan.endpointFile, seconds: plan.listenDeadline) {
            coordinator.isRunning && stopRequested() == nil
        }
        if stopRequested() != nil { return .left(stopAll("interrupted")) }
        guard let endpoints else {
            if !coordinator.isRunning {
                let exit = coordinator.wait(timeout: nil)!
                coordinator.drainOutput()
                throw RuntimeError("the coordinator \(exit) before listening")
            }
            return .left(stopAll("the coordinator did not start listening within \(Int(plan.listenDeadline)) s"))
        }
        if let bound = endpoints.statusBind { statusBind = bound }
        return .right((endpoints.control, endpoints.status))
    }

    func startServers(_ control: String) throws {
        servers = []
        guard plan.servers > 1 else { return }
        for i in 1...plan.servers {
            let s = ChildProcess(executable: plan.executable, arguments: plan.serverArguments(i, control), output: .prefixed("server \(i)"))
            try s.start()
            servers.append(s)
        }
    }

    func startWorker(_ i: Int, _ control: String) throws -> ChildProcess {
        let w = ChildProcess(executable: plan.executable, arguments: plan.workerArguments(i, control), output: .prefixed("worker \(i)"))
        try w.start()
        return w
    }

    /// Stops every child (SIGTERM, then SIGKILL after the stop timeout) and says why.
    func stopAll(_ why: String) -> LocalClusterOutcome {
        warn("\(why); stopping \(children.filter(\.isRunning).count) process(es)")
        stopChildren(quietly: false)
        return .stopped(reason: why)
    }

    func stopChildren(quietly: Bool) {
        let running = children.filter(\.isRunning)
        for c in running { c.signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(plan.stopTimeout)
        while running.contains(where: \.isRunning) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        for c in running where c.isRunning {
            if !quietly { warn("\(c.name) (pid \(c.pid)) ignored SIGTERM; killing it") }
            c.stop(timeout: 0)
        }
        for c in children { c.drainOutput(timeout: 1) }
    }
}
