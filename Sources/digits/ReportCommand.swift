// `digits report --run runs/NAME`: evaluates the run's saved model on the test set and writes
// runs/NAME/report/index.html with its figures (Reports target).
import ArgumentParser
import Foundation
import MNISTData
import Reports
import Supervision
import Training

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a finished run (learning curves, confusion matrix, predictions, data, config) into RUN/report/.")

    @Option(name: .customLong("run"), help: "The run directory (runs/NAME) holding summary.json, metrics.jsonl and model.digits.")
    var runPath: String
    @Option(help: "Directory with the MNIST files. Default: the run's data directory if it still exists, else the usual search.") var data:
        String?
    @Option(help: "Where to write the report (default: RUN/report).") var out: String?
    @Option(help: "Compute threads for the evaluation (0 = one per core).") var threads: Int = 0
    @Flag(help: "Open the report in the default browser (xdg-open) when written.") var open = false

    func validate() throws {
        if threads < 0 { throw ValidationError("--threads must be >= 0, found \(threads)") }
    }

    func run() throws {
        // Read and check everything before writing anything.
        let files: RunFiles
        do { files = try RunFiles.load(runPath) } catch let e as ReportError { throw CLIError(e.description) }
        let run = RunDirectory(runPath)
        guard FileManager.default.fileExists(atPath: run.model) else {
            throw CLIError("\(run.model): missing; expected the model.digits written at the end of training")
        }
        let (model, net) = try ModelFile.read(path: run.model)
        var dataFlag = data
        if dataFlag == nil, FileManager.default.fileExists(atPath: files.summary.dataDirectory) { dataFlag = files.summary.dataDirectory }
        let location = try DataLocator.resolve(flag: dataFlag)
        let (train, test) = try MNISTFiles.load(directory: location.directory, classes: net.classes)
        let checksums = try Checksums.verify(directory: location.directory)
        let threads = self.threads > 0 ? self.threads : ProcessInfo.processInfo.activeProcessorCount
        let evaluation = Evaluator.evaluate(
            model: net, parameters: model.weights, dataset: test, normalization: model.header.normalization,
            batch: 64, threads: threads, keepPredictions: true)
        let inputs = ReportInputs(
            run: files, train: train, test: test, dataDirectory: location.directory, checksums: checksums,
            predictions: evaluation.predictions, metrics: evaluation.metrics, modelName: model.header.spec.name,
            modelWeightsSHA256: model.header.weightsSHA256)
        let rendered = RunReport.render(inputs)
        let directory = out ?? runPath + "/report"
        try RunReport.write(rendered, to: directory)
        let index = URL(fileURLWithPath: directory + "/index.html").standardizedFileURL
        print(String(format: "test accuracy %.4f on %d images (evaluated now)", evaluation.metrics.accuracy, evaluation.metrics.total))
        print("wrote \(directory)/index.html and \(rendered.count - 1) figures in \(directory)/figures")
        if open {
            let opener = ["/usr/bin/xdg-open", "/usr/bin/open"].first { FileManager.default.isExecutableFile(atPath: $0) }
            if let opener {
                try? ChildProcess(executable: opener, arguments: [index.absoluteString], output: .inherit).start()
            } else {
                print("no xdg-open here; open \(index.absoluteString) in a browser")
            }
        }
    }
}
