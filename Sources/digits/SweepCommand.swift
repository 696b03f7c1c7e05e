// `digits sweep`: the flags; SweepRunner (Training) runs every trial of a sweep as its own run
// directory (a child `digits train`, or `digits cluster --workers N`), skips trials that already
// finished (resumable), and writes results.csv and results.html sorted by validation accuracy.
import ArgumentParser
import ClusterRuntime
import Foundation
import Supervision
import Training

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grid or random search over learning rate, batch size, dropout, model and augmentation; resumable.")

    @Option(help: "Sweep config (TOML): [sweep] base/method/trials/seed/epochs and the [space] lists.") var config: String =
        "Config/sweep.toml"
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
        let dir = out ?? "runs/sweep-\(TrainOptions.timestamp())"
        var dataArgs: [String] = []
        if let d = dataOptions.data { dataArgs += ["--data", d] }
        if let d = dataOptions.dataset { dataArgs += ["--dataset", d] }
        print(
            """
            sweep: \(sweep.trialList().count) trial(s) (\(sweep.method.rawValue)) into \
            \(dir)\(workers.map { ", each on \($0) worker(s)" } ?? "")
            """
        )
        let runner = SweepRunner(
            sweep: sweep, directory: dir, executable: ProcessProbe.executablePath, workers: workers, threads: threads,
            dataArguments: dataArgs)
        let results: [SweepResult]
        do { results = try runner.run(stopRequested: { StopSignal.requested }) } catch let e as SweepRunner.Interrupted {
            throw CLIError(e.description)
        }
        print("sweep: wrote \(dir)/results.csv and \(dir)/results.html")
        if let best = SweepResult.sorted(results).first, best.valAccuracy != nil {
            print("sweep: best \(best.trial.name): val_accuracy \(String(format: "%.4f", best.valAccuracy!))")
        }
        if results.contains(where: { $0.status != "ok" }) { throw ExitCode(1) }
    }
}
