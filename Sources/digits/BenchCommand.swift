// `digits bench`: training throughput, GFLOP/s against the measured SGEMM ceiling, the cost and
// precision of the exact fixed-point gradient sum, and peak memory.
import ArgumentParser
import Foundation
import MNISTData
import NeuralNet
import TensorKit
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure training throughput on this machine.")

    @Option(help: "keras-example, pytorch-example or a spec file.") var model: String = "keras-example"
    @Option(help: "Compute threads.") var threads: Int = 1
    @Option(help: "Batch size.") var batch: Int = 128
    @Option(name: .customLong("micro-batch"), help: "Micro-batch size.") var microBatch: Int = 16
    @Option(help: "Timed steps (after 3 warm-up steps).") var steps: Int = 40
    @Option(help: "Seconds spent measuring the SGEMM ceiling (0 to skip).") var sgemmSeconds: Double = 1
    @OptionGroup var dataOptions: DataOptions
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Also time each layer's forward and backward pass (one thread).") var profile = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if batch < 1 || microBatch < 1 || microBatch > batch { throw ValidationError("need 1 <= --micro-batch <= --batch") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
    }

    func run() throws {
        let spec = try TrainConfig.loadModelSpec(model)
        let net = try Sequential(spec: spec)
        // Real images when they can be found without downloading; throughput does not depend on pixel values.
        let dataset: Dataset
        let dataNote: String
        if let location = try? DataLocator.resolve(flag: dataOptions.data, allowDownload: false),
            let loaded = try? MNISTFiles.load(directory: location.directory)
        {
            dataset = loaded.train
            dataNote = location.directory
        } else {
            dataset = try Benchmark.syntheticDataset(count: 4096)
            dataNote = "synthetic"
        }
        var settings = BenchmarkSettings()
        (settings.threads, settings.batch, settings.microBatch, settings.steps) = (threads, batch, microBatch, steps)
        settings.sgemmSeconds = sgemmSeconds
        let result = try Benchmark.run(settings, net: net, dataset: dataset, dataNote: dataNote)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        let mflop = String(format: "%.1f", Double(net.trainingFLOPs) / 1e6)
        print("\(spec.name): \(net.parameterCount) parameters, \(mflop) MFLOP per training image")
        print(
            String(
                format: "threads %d, batch %d (micro-batches of %d): %.0f images/s, %.2f ms/step, %.1f GFLOP/s", threads, batch, microBatch,
                result.imagesPerSecond, result.stepMilliseconds, result.gflops))
        if let ceiling = result.sgemmGflops {
            print(
                String(
                    format: "SGEMM ceiling on %d thread(s) (OpenBLAS %@, 1024^3): %.1f GFLOP/s -> %.0f%% of it", threads, BLAS.coreName,
                    ceiling, 100 * result.gflops / ceiling))
        }
        print(
            String(
                format: "exact fixed-point sum: %.2f%% of step time; max |error| vs Float64 sum %.2e (Float32 summation: %.2e)",
                result.fixedPointOverheadPercent, result.fixedPointMaxAbsError, result.float32SumMaxAbsError))
        print(String(format: "peak RSS %.1f MB", result.peakRssMB))
        if profile { for line in Benchmark.profile(microBatch: microBatch, net: net, dataset: dataset) { print(line) } }
    }
}
