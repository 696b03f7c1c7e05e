// `digits evaluate` and `digits predict`: use a trained model.digits.
import ArgumentParser
import Foundation
import MNISTData
import ModelExport
import NeuralNet
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy, per-class precision/recall/F1 and the confusion matrix on the test set.")

    @Option(help: "A model.digits file.") var model: String
    @OptionGroup var dataOptions: DataOptions
    @Flag(help: "Print JSON instead of tables.") var json = false
    @Option(help: "Compute threads (0 = one per core).") var threads: Int = 0
    @Option(
        name: .customLong("probabilities-out"),
        help: "Also write every test image's class probabilities, in dataset order, as a float32 .npy file (N, classes).")
    var probabilitiesOut: String?

    struct Report: Encodable {
        var model: String
        var accuracy: Double
        var loss: Double
        var perClass: [PerClassSummary]
        var macroAvg: ClassMetrics
        var weightedAvg: ClassMetrics
        var confusionMatrix: [[Int]]
        var topConfusions: [[Int]]
        enum CodingKeys: String, CodingKey {
            case model, accuracy, loss
            case perClass = "per_class"
            case macroAvg = "macro_avg"
            case weightedAvg = "weighted_avg"
            case
                confusionMatrix = "confusion_matrix"
            case topConfusions = "top_confusions"
        }
    }

    func run() throws {
        let (file, net) = try ModelFile.read(path: model)
        let (_, _, test) = try dataOptions.load(classes: net.classes)
        let threads = self.threads > 0 ? self.threads : ProcessInfo.processInfo.activeProcessorCount
        let m = Evaluator.evaluate(
            model: net, parameters: file.weights, dataset: test, normalization: file.header.normalization,
            batch: 64, threads: threads
        ).metrics
        if let probabilitiesOut { try writeProbabilities(file: file, net: net, test: test, to: probabilitiesOut) }
        let perClass = PerClassSummary.rows(m)
        if json {
            try writeJSON(
                Report(
                    model: model, accuracy: m.accuracy, loss: m.meanLoss, perClass: perClass, macroAvg: m.macro,
                    weightedAvg: m.weighted, confusionMatrix: m.confusion,
                    topConfusions: m.topConfusions(10).map { [$0.label, $0.predicted, $0.count] }))
            return
        }
        print("\(file.header.spec.name): \(test.count) test images")
        print(String(format: "accuracy %.4f   loss %.4f", m.accuracy, m.meanLoss))
        print("\nclass  precision  recall  f1      support")
        for p in perClass {
            print(String(format: "%5d  %9.4f  %6.4f  %6.4f  %7d", p.label, p.precision, p.recall, p.f1, p.support))
        }
        print(String(format: "macro  %9.4f  %6.4f  %6.4f  %7d", m.macro.precision, m.macro.recall, m.macro.f1, m.macro.support))
        print(String(format: "wtd    %9.4f  %6.4f  %6.4f  %7d", m.weighted.precision, m.weighted.recall, m.weighted.f1, m.weighted.support))
        print("\nconfusion matrix (rows: true class, columns: predicted)")
        print(m.confusionTable())
        print("\ntop confusions (true -> predicted: count)")
        for c in m.topConfusions(5) { print("  \(c.label) -> \(c.predicted): \(c.count)") }
    }
}

extension Evaluate {
    /// Probabilities of every test image, computed in chunks, written as .npy (atomically).
    func writeProbabilities(file: ModelFile, net: Sequential, test: Dataset, to path: String) throws {
        let size = test.imageSize
        let classes = net.classes
        let chunk = 256
        var values = [Float](repeating: 0, count: test.count * classes)
        let ws = Workspace(model: net, capacity: chunk)
        file.weights.withUnsafeBufferPointer { params in
            test.images.withUnsafeBufferPointer { images in
                for start in stride(from: 0, to: test.count, by: chunk) {
                    let n = min(chunk, test.count - start)
                    file.header.normalization.apply(images.baseAddress! + start * size, to: ws.input, count: n * size)
                    net.evaluate(ws, batch: n, parameters: params.baseAddress!, withLabels: false)
                    for k in 0..<(n * classes) { values[start * classes + k] = ws.probabilities[k] }
                }
            }
        }
        do {
            try SealedFile.writeAtomically(NPYFile.encode(shape: [test.count, net.classes], values: values), to: path)
        } catch {
            throw CLIError("--probabilities-out \(path): \(error)")
        }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify image files (PNG or PGM; any size, dark-on-light or light-on-dark).")

    @Option(help: "A model.digits file.") var model: String
    @Argument(help: "Image files.") var images: [String]
    @Flag(help: "Print JSON.") var json = false

    struct Answer: Encodable {
        var file: String
        var digit: Int
        var confidence: Float
        var probabilities: [Float]
    }

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file") }
    }

    func run() throws {
        let (file, net) = try ModelFile.read(path: model)
        var inputs: [[UInt8]] = []
        for path in images { inputs.append(DigitPreprocessor.prepare(try ImageFile.readGray(path: path))) }
        let probabilities = Evaluator.probabilities(
            model: net, parameters: file.weights, images: inputs, normalization: file.header.normalization)
        let answers = zip(images, probabilities).map { path, p -> Answer in
            let best = p.indices.max { p[$0] < p[$1] }!
            return Answer(file: path, digit: best, confidence: p[best], probabilities: p)
        }
        if json {
            try writeJSON(answers)
            return
        }
        for a in answers { print(String(format: "%@: %d (confidence %.4f)", a.file, a.digit, a.confidence)) }
    }
}
