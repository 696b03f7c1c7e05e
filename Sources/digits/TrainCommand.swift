// `digits train`: single-process training with checkpoints, metrics and a summary.
import ArgumentParser
import Foundation
import Logging
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model in this process (threads across micro-batches).")

    @OptionGroup var options: TrainOptions
    @OptionGroup var dataOptions: DataOptions

    func run() throws {
        let logger = Logger(label: "digits.train")
        let config = try options.resolvedConfig()
        if config.training.mode == .async {
            throw CLIError(
                "--mode async applies micro-batches as workers deliver them; it needs a cluster (digits cluster or digits coordinator)")
        }
        let run = try options.runDirectory(for: config)
        let trainer = try options.makeTrainer(config: config, run: run, data: dataOptions, logger: logger)
        printSummary(try trainer.run(in: run), run: run)
    }
}
