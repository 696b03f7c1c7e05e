// Running a sweep: every trial as a child `digits train` (or `digits cluster --workers N`) into its
// own run directory, trials that already finished skipped (an interrupted one continues from its
// checkpoint), results.csv and results.html rewritten after each trial.
import Foundation
import Supervision

public struct SweepRunner {
    public let sweep: SweepConfig
    public let directory: String
    /// The digits binary that runs the trials.
    public let executable: String
    /// Each trial on a local cluster of this many workers (nil: in one process).
    public let workers: Int?
    /// Compute threads of each in-process trial.
    public let threads: Int?
    /// `--data` / `--dataset` arguments for every trial.
    public let dataArguments: [String]
    public var say: (String) -> Void = { print($0) }

    public init(sweep: SweepConfig, directory: String, executable: String, workers: Int?, threads: Int?, dataArguments: [String]) {
        self.sweep = sweep
        self.directory = directory
        self.executable = executable
        self.workers = workers
        self.threads = threads
        self.dataArguments = dataArguments
    }

    /// A sweep stopped by a signal during a trial (the reports hold the trials done so far).
    public struct Interrupted: Error, CustomStringConvertible {
        public let trial: String
        public var description: String { "sweep interrupted during \(trial); run the same command again to continue" }
    }

    /// Runs every trial not yet done; the results of all of them, in trial order.
    public func run(stopRequested: () -> Int32?) throws -> [SweepResult] {
        let dir = directory
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        var results: [SweepResult] = []
        for trial in sweep.trialList() {
            let runDir = dir + "/" + trial.name
            if let done = SweepResult.read(trial: trial, directory: runDir) {
                say(
                    """
                    sweep: \(trial.name): already done (val_accuracy \(done.valAccuracy.map { String(format: "%.4f", $0) } ?? "-")), \
                    skipped
                    """
                )
                results.append(done)
                continue
            }
            var args = ["--out", runDir] + trial.arguments
            if let base = sweep.base { args = ["--config", base] + args }
            if let threads, workers == nil { args += ["--threads", "\(threads)"] }
            let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: runDir + "/checkpoints")) ?? []
            if checkpoints.contains(where: { $0.hasSuffix(".ckpt") }) { args.append("--resume") }
            let command = (workers.map { ["cluster", "--workers", "\($0)"] } ?? ["train"]) + args + dataArguments
            say("sweep: \(trial.name): digits \(command.joined(separator: " "))")
            let logPath = dir + "/logs/" + trial.name + ".log"
            let child = ChildProcess(executable: executable, arguments: command, output: .file(logPath))
            try child.start()
            while child.isRunning {
                if stopRequested() != nil {
                    child.stop(timeout: 30)
                    try? writeReports(results)
                    throw Interrupted(trial: trial.name)
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            let exit = child.wait(timeout: nil)!
            if exit.succeeded, let r = SweepResult.read(trial: trial, directory: runDir) {
                say(
                    String(
                        format: "sweep: %@: val_accuracy %@ test_accuracy %@ (%.1f s)", trial.name,
                        r.valAccuracy.map { String(format: "%.4f", $0) } ?? "-", r.testAccuracy.map { String(format: "%.4f", $0) } ?? "-",
                        r.wallSeconds ?? 0))
                results.append(r)
            } else {
                let reason = child.logText.split(separator: "\n").last(where: { $0.contains("Error") }).map(String.init) ?? "\(exit)"
                say("sweep: \(trial.name): FAILED: \(reason) (log: \(logPath))")
                results.append(SweepResult(trial: trial, status: "failed: \(reason)"))
            }
            try writeReports(results)
        }
        try writeReports(results)
        return results
    }

    /// results.csv and results.html of `results`.
    public func writeReports(_ results: [SweepResult]) throws {
        try SealedFile.writeAtomically(Array(SweepReport.csv(results).utf8), to: directory + "/results.csv")
        try SealedFile.writeAtomically(
            Array(SweepReport.html(results, title: "Sweep \(URL(fileURLWithPath: directory).lastPathComponent)").utf8),
            to: directory + "/results.html")
    }
}
