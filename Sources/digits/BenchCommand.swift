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

    struct Result: Encodable {
        var model: String
        var threads: Int
        var batch: Int
        var microBatch: Int
        var steps: Int
        var imagesPerSecond: Double
        var stepMilliseconds: Double
        var gflops: Double
        var sgemmGflops: Double?
        var fixedPointOverheadPercent: Double
        var fixedPointMaxAbsError: Double
        var float32SumMaxAbsError: Double
        var peakRssMB: Double
        var blasCore: String
        var data: String
        enum CodingKeys: String, CodingKey {
            case model, threads, batch
            case microBatch = "micro_batch"
            case steps
            case imagesPerSecond = "images_per_second"
            case
                stepMilliseconds = "step_ms"
            case gflops
            case sgemmGflops = "sgemm_gflops"
            case
                fixedPointOverheadPercent = "fixed_point_overhead_percent"
            case fixedPointMaxAbsError = "fixed_point_max_abs_error"
            case
                float32SumMaxAbsError = "float32_sum_max_abs_error"
            case peakRssMB = "peak_rss_mb"
            case blasCore = "blas_core"
            case data
        }
    }

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
            let n = 4096
            let rng = CounterRNG(seed: 1)
            dataset = try Dataset(
                images: (0..<(n * 784)).map { UInt8(truncatingIfNeeded: rng.block(.sampling, 0, UInt32($0))[0]) },
                labels: (0..<n).map { UInt8($0 % 10) }, rows: 28, cols: 28, classes: 10, name: "synthetic")
            dataNote = "synthetic"
        }
        let plan = EpochPlan(trainIndices: Array(0..<dataset.count), batchSize: batch, microBatch: microBatch, seed: 1)
        let order = plan.order(epoch: 0)
        let runner = StepRunner(
            model: net, microBatch: microBatch, batchSize: batch, threads: threads, normalization: .unit, labelSmoothing: 0)
        var params = net.initialParameters(seed: 1)
        var optimizer = Optimizer(config: OptimizerConfig(), parameterCount: net.parameterCount)
        let rng = CounterRNG(seed: 1)
        func step(_ s: Int) throws {
            let k = s % plan.stepsPerEpoch
            _ = try runner.run(
                order: order, microBatches: plan.microBatches(step: k), dataset: dataset, epoch: 0, step: k, rng: rng, parameters: params)
            params.withUnsafeMutableBufferPointer { p in
                runner.meanGradient.withUnsafeBufferPointer { optimizer.apply(gradient: $0, to: p, learningRate: 1e-3) }
            }
        }
        for s in 0..<3 { try step(s) }
        let start = Stopwatch.now()
        for s in 0..<steps { try step(3 + s) }
        let seconds = Stopwatch.seconds(since: start)
        let images = Double(steps * batch)
        let imagesPerSecond = images / seconds
        let gflops = Double(net.trainingFLOPs) * images / seconds / 1e9

        let (overhead, fpError, f32Error) = fixedPointCost(
            net: net, dataset: dataset, order: order, params: params, stepSeconds: seconds / Double(steps))
        let ceiling = sgemmSeconds > 0 ? Self.sgemmCeiling(threads: threads, seconds: sgemmSeconds) : nil
        let result = Result(
            model: spec.name, threads: threads, batch: batch, microBatch: microBatch, steps: steps,
            imagesPerSecond: imagesPerSecond, stepMilliseconds: 1000 * seconds / Double(steps), gflops: gflops,
            sgemmGflops: ceiling, fixedPointOverheadPercent: overhead, fixedPointMaxAbsError: fpError,
            float32SumMaxAbsError: f32Error, peakRssMB: Self.peakRSSMegabytes(), blasCore: BLAS.coreName, data: dataNote)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print(
            """
            \(spec.name): \(net.parameterCount) parameters, \(String(format: "%.1f", Double(net.trainingFLOPs) / 1e6)) MFLOP per \
            training image
            """
        )
        print(
            String(
                format: "threads %d, batch %d (micro-batches of %d): %.0f images/s, %.2f ms/step, %.1f GFLOP/s", threads, batch, microBatch,
                imagesPerSecond, result.stepMilliseconds, gflops))
        if let ceiling {
            print(
                String(
                    format: "SGEMM ceiling on %d thread(s) (OpenBLAS %@, 1024^3): %.1f GFLOP/s -> %.0f%% of it", threads, BLAS.coreName,
                    ceiling, 100 * gflops / ceiling))
        }
        print(
            String(
                format: "exact fixed-point sum: %.2f%% of step time; max |error| vs Float64 sum %.2e (Float32 summation: %.2e)", overhead,
                fpError, f32Error))
        print(String(format: "peak RSS %.1f MB", result.peakRssMB))
        if profile { printProfile(net: net, dataset: dataset, order: order, params: params) }
    }

    /// Per-layer forward/backward milliseconds per micro-batch, single-threaded.
    func printProfile(net: Sequential, dataset: Dataset, order: [Int], params: [Float]) {
        let computer = MicroBatchComputer(model: net, capacity: microBatch, normalization: .unit, labelSmoothing: 0)
        let rounds = 50
        params.withUnsafeBufferPointer { p in
            order.withUnsafeBufferPointer { o in
                for k in 0..<(rounds + 5) {
                    if k == 5 { computer.workspace.profile = true }
                    let r = ((k * microBatch) % (order.count - microBatch))..<((k * microBatch) % (order.count - microBatch) + microBatch)
                    _ = computer.compute(
                        samples: UnsafeBufferPointer(rebasing: o[r]), dataset: dataset, epoch: 0, rng: CounterRNG(seed: 1),
                        parameters: p.baseAddress!)
                }
            }
        }
        let ws = computer.workspace
        print("\nper micro-batch of \(microBatch), one thread (ms):   forward  backward")
        var total = 0.0
        for (i, layer) in net.layers.enumerated() {
            let f = Double(ws.forwardNanoseconds[i]) / Double(rounds) / 1e6
            let b = Double(ws.backwardNanoseconds[i]) / Double(rounds) / 1e6
            total += f + b
            let name = "\(i) \(String(describing: type(of: layer))) \(layer.inputShape)->\(layer.outputShape)"
            print(name.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%8.3f  %8.3f", f, b))
        }
        print(String(format: "total %.3f ms per micro-batch -> %.0f images/s per thread", total, Double(microBatch) / total * 1000))
    }

    /// Time of the fixed-point accumulation per step as a share of the step, and its precision on one
    /// real step's micro-batch gradients against a Float64 sum (and, for scale, Float32 summation's error).
    func fixedPointCost(net: Sequential, dataset: Dataset, order: [Int], params: [Float], stepSeconds: Double) -> (Double, Double, Double) {
        let computer = MicroBatchComputer(model: net, capacity: microBatch, normalization: .unit, labelSmoothing: 0)
        let micro = (batch + microBatch - 1) / microBatch
        var grads: [[Float]] = []
        params.withUnsafeBufferPointer { p in
            order.withUnsafeBufferPointer { o in
                for k in 0..<micro {
                    let r = (k * microBatch)..<min((k + 1) * microBatch, batch)
                    _ = computer.compute(
                        samples: UnsafeBufferPointer(rebasing: o[r]), dataset: dataset, epoch: 0, rng: CounterRNG(seed: 1),
                        parameters: p.baseAddress!)
                    grads.append(Array(UnsafeBufferPointer(start: computer.workspace.gradients, count: net.parameterCount)))
                }
            }
        }
        var sum = GradientSum(count: net.parameterCount)
        let start = Stopwatch.now()
        let repeats = 5
        for _ in 0..<repeats {
            sum.reset()
            for g in grads { g.withUnsafeBufferPointer { _ = sum.add($0, samples: microBatch) } }
        }
        let perStep = Stopwatch.seconds(since: start) / Double(repeats) / Double(threads)
        var mean = [Float](repeating: 0, count: net.parameterCount)
        mean.withUnsafeMutableBufferPointer { sum.mean(into: $0) }
        var fpError = 0.0
        var f32Error = 0.0
        let n = Double(micro * microBatch)
        for i in 0..<net.parameterCount {
            var exact = 0.0
            var f32: Float = 0
            for g in grads {
                exact += Double(g[i])
                f32 += g[i]
            }
            exact /= n
            fpError = max(fpError, abs(Double(mean[i]) - exact))
            f32Error = max(f32Error, abs(Double(f32 / Float(n)) - exact))
        }
        return (100 * perStep / stepSeconds, fpError, f32Error)
    }

    /// Aggregate single-threaded SGEMM rate with `threads` concurrent 1024^3 products.
    static func sgemmCeiling(threads: Int, seconds: Double) -> Double {
        let n = 1024
        let a = [Float](repeating: 0.5, count: n * n)
        let b = [Float](repeating: 0.25, count: n * n)
        var flops = [Double](repeating: 0, count: threads)
        var elapsed = [Double](repeating: 0, count: threads)
        flops.withUnsafeMutableBufferPointer { f in
            elapsed.withUnsafeMutableBufferPointer { e in
                let (f, e) = (f, e)
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    var c = [Float](repeating: 0, count: n * n)
                    c.withUnsafeMutableBufferPointer { cb in
                        BLAS.sgemm(m: n, n: n, k: n, a: a, b: b, c: cb.baseAddress!)  // warm-up
                        let start = Stopwatch.now()
                        var count = 0
                        repeat {
                            BLAS.sgemm(m: n, n: n, k: n, a: a, b: b, c: cb.baseAddress!)
                            count += 1
                        } while Stopwatch.seconds(since: start) < seconds
                        e[t] = Stopwatch.seconds(since: start)
                        f[t] = 2 * Double(n * n * n) * Double(count)
                    }
                }
            }
        }
        return (0..<threads).reduce(0) { $0 + flops[$1] / elapsed[$1] } / 1e9
    }

    static func peakRSSMegabytes() -> Double { ResourceUsage.peakRSSMegabytes() }
}
