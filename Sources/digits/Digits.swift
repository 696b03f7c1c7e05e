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

/// Log lines as a person reads them: the message alone on stderr, prefixed by level when it matters.
struct PlainLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = ProcessInfo.processInfo.environment["DIGITS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt
    ) {
        let prefix = level >= .warning ? "\(level): " : ""
        Console.error("\(prefix)\(message)\n")
    }
}
