// `digits sweep`: runs every trial of a sweep as its own run directory (a child `digits train`, or
// `digits cluster --workers N`), skips trials that already finished (resumable; an interrupted trial
// continues from its checkpoint), and writes results.csv and results.html sorted by validation accuracy.
import ArgumentParser
import ClusterRuntime
import Foundation
import Training

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grid or random search over learning rate, batch size, dropout, model and augmentation; resumable.")

    @Option(help: "Sweep config (TOML): [sweep] base/method/trials/seed/epochs and the [space] lists.") var config: String = "Config/sweep.toml"
    @Option(help: "Sweep directory (one run directory per trial, results.csv, results.html). Default: runs/sweep-<time>.") var out: String?
    @Option(help: "Train each trial on a local cluster of N worker processes (digits cluster); default: digits train in one process.")
    var workers: Int?
    @Option(parsing: .unconditional, help: "Compute threads of each in-process trial (0 = one per core).") var threads: Int?
    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1, found \(workers)") }
        if let threads, threads < 0 { throw ValidationError("--threads must be >= 0, found \(threads)") }
    }

    func run() throws {
        StopSignal.install()
        let sweep = try SweepConfig.load(path: config)
        let trials = sweep.trialList()
        let dir = out ?? "runs/sweep-\(TrainOptions.timestamp())"
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dataArgs: [String] = []
        if let d = dataOptions.data { dataArgs += ["--data", d] }
        if let d = dataOptions.dataset { dataArgs += ["--dataset", d] }
        print("sweep: \(trials.count) trial(s) (\(sweep.method.rawValue)) into \(dir)\(workers.map { ", each on \($0) worker(s)" } ?? "")")
        var results: [SweepResult] = []
        for trial in trials {
            let runDir = dir + "/" + trial.name
            if let done = SweepResult.read(trial: trial, directory: runDir) {
                print("sweep: \(trial.name): already done (val_accuracy \(done.valAccuracy.map { String(format: "%.4f", $0) } ?? "-")), skipped")
                results.append(done)
                continue
            }
            var args = ["--out", runDir] + trial.arguments
            if let base = sweep.base { args = ["--config", base] + args }
            if let threads, workers == nil { args += ["--threads", "\(threads)"] }
            let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: runDir + "/checkpoints")) ?? []
            if checkpoints.contains(where: { $0.hasSuffix(".ckpt") }) { args.append("--resume") }
            let command = (workers.map { ["cluster", "--workers", "\($0)"] } ?? ["train"]) + args + dataArgs
            print("sweep: \(trial.name): digits \(command.joined(separator: " "))")
            let logPath = dir + "/logs/" + trial.name + ".log"
            FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: exe)
            process.arguments = command
            process.standardOutput = log
            process.standardError = log
            try process.run()
            while process.isRunning {
                if StopSignal.requested != nil {
                    process.terminate()
                    process.waitUntilExit()
                    try? writeReports(results, dir: dir)
                    throw CLIError("sweep interrupted during \(trial.name); run the same command again to continue")
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            try? log.close()
            if process.terminationStatus == 0, let r = SweepResult.read(trial: trial, directory: runDir) {
                print(String(format: "sweep: %@: val_accuracy %@ test_accuracy %@ (%.1f s)", trial.name,
                             r.valAccuracy.map { String(format: "%.4f", $0) } ?? "-", r.testAccuracy.map { String(format: "%.4f", $0) } ?? "-",
                             r.wallSeconds ?? 0))
                results.append(r)
            } else {
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                let reason = text.split(separator: "\n").last(where: { $0.contains("Error") }).map(String.init)
                    ?? "exit status \(process.terminationStatus)"
                print("sweep: \(trial.name): FAILED: \(reason) (log: \(logPath))")
                results.append(SweepResult(trial: trial, status: "failed: \(reason)"))
            }
            try writeReports(results, dir: dir)
        }
        try writeReports(results, dir: dir)
        print("sweep: wrote \(dir)/results.csv and \(dir)/results.html")
        if let best = SweepResult.sorted(results).first, best.valAccuracy != nil {
            print("sweep: best \(best.trial.name): val_accuracy \(String(format: "%.4f", best.valAccuracy!))")
        }
        if results.contains(where: { $0.status != "ok" }) { throw ExitCode(1) }
    }

    func writeReports(_ results: [SweepResult], dir: String) throws {
        try SealedFile.writeAtomically(Array(SweepReport.csv(results).utf8), to: dir + "/results.csv")
        try SealedFile.writeAtomically(Array(SweepReport.html(results, title: "Sweep \(URL(fileURLWithPath: dir).lastPathComponent)").utf8),
                                       to: dir + "/results.html")
    }
}
