// The `digits` command: a tree of small commands (swift-argument-parser). Each subcommand lives
// in its own file; shared options are option groups in Options.swift.
import ArgumentParser
import Foundation
import Logging
import TensorKit
import Training

@main
enum Main {
    static func main() async {
        _ = Stopwatch.processStart  // time zero for seconds_to_99 and wall_seconds
        BLAS.useSingleThread()  // parallelism is across micro-batches, never inside a GEMM
        setvbuf(stdout, nil, _IOLBF, 0)
        // A closed pipe (the launcher went away) fails the write instead of killing the process.
        signal(SIGPIPE, SIG_IGN)
        LoggingSystem.bootstrap { label in PlainLogHandler(label: label) }
        await Digits.main()
    }
}

struct Digits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digits",
        abstract: "Train, evaluate and use convolutional networks for handwritten digits (MNIST).",
        version: "0.1.0",
        subcommands: [
            DataCommand.self, Train.self, ClusterCommand.self, CoordinatorCommand.self, WorkerCommand.self, ServerCommand.self,
            LoadTestCommand.self,
            Evaluate.self, Predict.self, Export.self, ReportCommand.self, Serve.self, Bench.self, GradCheck.self, Keys.self, Sweep.self,
            Doctor.self
        ]
    )
}
