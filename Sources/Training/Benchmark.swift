// What `digits bench` measures: training throughput of one model on this machine, its GFLOP/s
// against an SGEMM ceiling, the cost and precision of the exact fixed-point gradient sum, peak
// memory, and optionally each layer's forward and backward time.
import Foundation
import MNISTData
import NeuralNet
import TensorKit

public struct BenchmarkSettings: Sendable {
    public var threads = 1
    public var batch = 128
    public var microBatch = 16
    /// Timed steps, after 3 warm-up steps.
    public var steps = 40
    /// Seconds spent measuring the SGEMM ceiling (0 skips it).
    public var sgemmSeconds = 1.0
    public init() {}
}

public enum Benchmark {
    public struct Result: Encodable {
        public var model: String
        public var threads: Int
        public var batch: Int
        public var microBatch: Int
        public var steps: Int
        public var imagesPerSecond: Double
        public var stepMilliseconds: Double
        public var gflops: Double
        public var sgemmGflops: Double?
        public var fixedPointOverheadPercent: Double
        public var fixedPointMaxAbsError: Double
        public var float32SumMaxAbsError: Double
        public var peakRssMB: Double
        public var blasCore: String
        public var data: String
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

    /// `count` noise images with cycling labels, for machines without MNIST (throughput does not
    /// depend on pixel values).
    public static func syntheticDataset(count n: Int) throws -> Dataset {
        let rng = CounterRNG(seed: 1)
        return try Dataset(
            images: (0..<(n * 784)).map { UInt8(truncatingIfNeeded: rng.block(.sampling, 0, UInt32($0))[0]) },
            labels: (0..<n).map { UInt8($0 % 10) }, rows: 28, cols: 28, classes: 10, name: "synthetic")
    }

    /// Trains `net` for the settings' steps on `dataset` (names it `dataNote` in the result) and measures.
    public static func run(_ s: BenchmarkSettings, net: Sequential, dataset: Dataset, dataNote: String) throws -> Result {
        let (batch, microBatch, threads, steps) = (s.batch, s.microBatch, s.threads, s.steps)
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
        let gflops = Double(net.trainingFLOPs) * images / seconds / 1e9
        let (overhead, fpError, f32Error) = fixedPointCost(
            s, net: net, dataset: dataset, order: order, params: params, stepSeconds: seconds / Double(steps))
        let ceiling = s.sgemmSeconds > 0 ? sgemmCeiling(threads: threads, seconds: s.sgemmSeconds) : nil
        return Result(
            model: net.spec.name, threads: threads, batch: batch, microBatch: microBatch, steps: steps,
            imagesPerSecond: images / seconds, stepMilliseconds: 1000 * seconds / Double(steps), gflops: gflops,
            sgemmGflops: ceiling, fixedPointOverheadPercent: overhead, fixedPointMaxAbsError: fpError,
            float32SumMaxAbsError: f32Error, peakRssMB: ResourceUsage.peakRSSMegabytes(), blasCore: BLAS.coreName, data: dataNote)
    }

    /// Per-layer forward/backward milliseconds per micro-batch, single-threaded.
    public static func profile(microBatch: Int, net: Sequential, dataset: Dataset) -> [String] {
        let order = EpochPlan(trainIndices: Array(0..<dataset.count), batchSize: microBatch, microBatch: microBatch, seed: 1).order(
            epoch: 0)
        let params = net.initialParameters(seed: 1)
        var out: [String] = []
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
        out.append("\nper micro-batch of \(microBatch), one thread (ms):   forward  backward")
        var total = 0.0
        for (i, layer) in net.layers.enumerated() {
            let f = Double(ws.forwardNanoseconds[i]) / Double(rounds) / 1e6
            let b = Double(ws.backwardNanoseconds[i]) / Double(rounds) / 1e6
            total += f + b
            let name = "\(i) \(String(describing: type(of: layer))) \(layer.inputShape)->\(layer.outputShape)"
            out.append(name.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%8.3f  %8.3f", f, b))
        }
        out.append(String(format: "total %.3f ms per micro-batch -> %.0f images/s per thread", total, Double(microBatch) / total * 1000))
        return out
    }

    /// Time of the fixed-point accumulation per step as a share of the step, and its precision on one
    /// real step's micro-batch gradients against a Float64 sum (and, for scale, Float32 summation's error).
    static func fixedPointCost(
        _ s: BenchmarkSettings, net: Sequential, dataset: Dataset, order: [Int], params: [Float], stepSeconds: Double
    ) -> (Double, Double, Double) {
        let (batch, microBatch, threads) = (s.batch, s.microBatch, s.threads)
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
    public static func sgemmCeiling(threads: Int, seconds: Double) -> Double {
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
}
