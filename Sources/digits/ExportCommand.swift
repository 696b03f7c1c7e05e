// `digits export`: a model.digits as ONNX or Keras HDF5 (ModelExport builds the file; this reads,
// checks and writes atomically: a failure leaves --out as it was).
import ArgumentParser
import Foundation
import HDF5
import ModelExport
import Training

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a model.digits for other runtimes: ONNX (opset 13) or Keras HDF5 (.h5).",
        discussion: """
            Both take raw pixels: float32 [N, 28, 28, 1] (NHWC), intensities 0 to 255, light digit on a dark background \
            (as MNIST and as `digits predict` feeds the network after its preprocessing); the model's normalisation is part \
            of the exported graph. Both output softmax probabilities [N, classes].
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case onnx
        case kerasH5 = "keras-h5"
    }

    @Option(help: "A model.digits file.") var model: String
    @Option(help: "onnx or keras-h5 (default: from the --out extension, .onnx or .h5).") var format: Format?
    @Option(help: "The file to write (replaced if it exists).") var out: String

    func run() throws {
        let format = try resolvedFormat()
        try checkDestination()
        let (file, net) = try ModelFile.read(path: model)
        let plan: ExportPlan
        do {
            plan = try ExportPlan(
                model: net, weights: file.weights, normalization: file.header.normalization,
                format: format == .onnx ? "ONNX" : "Keras HDF5")
        } catch let error as ExportError {
            throw CLIError("\(model): \(error.message)")
        }
        let version = Digits.configuration.version
        var metadata: [(key: String, value: String)] = [("weights_sha256", file.header.weightsSHA256)]
        for key in file.header.metadata.keys.sorted() { metadata.append((key, file.header.metadata[key]!)) }
        try writeAtomically { temp in
            switch format {
            case .onnx:
                let onnx = ONNXExporter.model(plan, producerVersion: version, metadata: metadata)
                try Data(onnx.serialized()).write(to: URL(fileURLWithPath: temp))
            case .kerasH5:
                let keras = try KerasH5Exporter.export(plan, producer: "digits \(version)")
                try HDF5Writer.write(keras.root, to: temp)
            }
        }
        print(
            """
            wrote \(out) (\(format.rawValue), model '\(plan.name)', \(net.parameterCount) parameters, weights_sha256 \
            \(file.header.weightsSHA256.prefix(12)))
            """
        )
        print("input: \(ONNXExporter.inputDescription(plan))")
        print("output: float32 [N, \(plan.classes)] softmax probabilities")
    }

    func resolvedFormat() throws -> Format {
        if let format { return format }
        switch (out as NSString).pathExtension.lowercased() {
        case "onnx": return .onnx
        case "h5", "hdf5", "keras": return .kerasH5
        default:
            throw CLIError("--format not given and --out '\(out)' has no .onnx or .h5 extension: pass --format onnx or --format keras-h5")
        }
    }

    /// --out must name a file in an existing, writable directory.
    func checkDestination() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError("--out \(out): is a directory, expected a file path")
        }
        let directory = Self.directory(of: out)
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw CLIError("--out \(out): directory \(directory) does not exist")
        }
        guard isDirectory.boolValue else { throw CLIError("--out \(out): \(directory) is a file, expected a directory") }
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw CLIError("--out \(out): directory \(directory) is not writable")
        }
    }

    static func directory(of path: String) -> String {
        let d = (path as NSString).deletingLastPathComponent
        return d.isEmpty ? "." : d
    }

    /// Writes through a temporary file in the destination directory, then renames it over --out.
    func writeAtomically(_ body: (String) throws -> Void) throws {
        let name = (out as NSString).lastPathComponent
        let temp = (Self.directory(of: out) as NSString).appendingPathComponent(".\(name).tmp-\(getpid())")
        do {
            try body(temp)
            guard rename(temp, out) == 0 else {
                throw CLIError("--out \(out): cannot rename the finished file into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temp)
            if error is CLIError { throw error }
            throw CLIError("--out \(out): writing failed: \(error)")
        }
    }
}
