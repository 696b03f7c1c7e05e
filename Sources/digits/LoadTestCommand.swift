// `digits loadtest`: the flags, their validation and the printing; the load test itself is the
// LoadTest library (a real coordinator child under production workers with a precomputed gradient).
import ArgumentParser
import ClusterRuntime
import Foundation
import LoadTest
import Supervision
import Training

struct LoadTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Load-test the coordinator's parameter server with simulated workers on loopback; measure the raw transport ceiling.",
        discussion: LoadTest.discussion)

    @Option(help: "Simulated workers (all in this process, on one thread; 1...256).") var workers: Int = 16
    @Option(help: "Seconds of load, counted from the first step.") var seconds: Double = 10
    @Option(help: "Model whose gradients are pushed: keras-example or pytorch-example.") var model: String = "keras-example"
    @Option(help: "Batch size (samples per optimizer step).") var batch: Int = 128
    @Option(name: .customLong("micro-batch"), help: "Micro-batch size (one gradient each).") var microBatch: Int = 16
    @Option(help: "MNIST directory for the coordinator (default: MNIST found without downloading, else a synthetic set).") var data: String?
    @Flag(help: "Use a synthetic training set even when MNIST is present.") var synthetic = false
    @Option(name: .customLong("synthetic-images"), help: "Training images in the synthetic set.") var syntheticImages: Int = 60000
    @Flag(help: "Only measure the raw DEALER<->ROUTER round-trip ceiling (no coordinator).") var raw = false
    @Option(name: .customLong("raw-seconds"), help: "Seconds per raw round-trip measurement (0 skips them).") var rawSeconds: Double = 1
    @Option(name: .customLong("raw-window"), help: "Raw round trips kept in flight (1 = strict ping-pong).") var rawWindow: Int = 1
    @Option(
        name: .customLong("start-deadline"),
        help: "Seconds for the coordinator to listen, then again for every worker to be welcomed and the first step to open.")
    var startDeadline: Double = 60
    @Flag(help: "Print one JSON object.") var json = false
    @Option(
        name: .customLong("inject-duplicates"),
        help: ArgumentHelp("Send every Nth gradient message twice (checks that the exactly-once check catches it).", visibility: .hidden))
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
        var s = LoadTestSettings(executable: ProcessProbe.executablePath)
        (s.workers, s.seconds, s.model, s.batch, s.microBatch) = (workers, seconds, model, batch, microBatch)
        (s.data, s.synthetic, s.syntheticImages) = (data, synthetic, syntheticImages)
        (s.raw, s.rawSeconds, s.rawWindow, s.startDeadline, s.injectDuplicates) = (
            raw, rawSeconds, rawWindow, startDeadline, injectDuplicates
        )
        let report: LoadTestReport
        do {
            report = try LoadTest.run(s) { line in Console.error("loadtest: \(line)\n") }
        } catch let e as LoadTestError {
            throw CLIError(e.description)
        }
        if json {
            print(String(decoding: try report.json(), as: UTF8.self))
        } else {
            print(report.text)
        }
        if report.failed, let load = report.load {
            throw CLIError("the parameter server lost, rejected or double-counted micro-batches: \(load.exactlyOnceDetail)")
        }
    }
}
