// The numerics fingerprint: a hash of a canonical forward and backward pass on fixed inputs through
// every kernel path (two probe models that reach im2col, padded and unpadded direct convolution with both
// dX paths, Winograd, the fused conv blocks with and without pooling, batch norm, dropout, dense vector
// tiles and scalar tails), Adam and SGD updates and the portable elementary functions. Two processes with
// equal fingerprints compute the same bits; the coordinator refuses a peer whose fingerprint differs.
import TensorKit

public struct NumericsFingerprint: Equatable, Sendable, CustomStringConvertible {
    /// The kernel set: bump it whenever any kernel's operation order changes.
    public static let kernelSet = "ks2-x86-64-v3-fma"

    public let kernelSet: String
    /// 16 hex digits: a 64-bit hash of every output bit of the canonical pass.
    public let hash: String

    /// "<kernel set>/<hash>", as sent in a Hello and written to summary.json.
    public var description: String { "\(kernelSet)/\(hash)" }

    /// This process's fingerprint, computed once (a few milliseconds).
    public static let current: NumericsFingerprint = compute()

    /// Probe models: small, but every kernel path the presets use, and the odd shapes they do not.
    static let probes = [
        ModelSpec(
            name: "numerics-probe-odd", input: [8, 8, 1], classes: 10,
            layers: [
                LayerSpec(type: "conv2d", filters: 4, kernel: 3, padding: "same", activation: "relu"),  // im2col
                LayerSpec(type: "conv2d", filters: 8, kernel: 3, padding: "same", activation: "relu"),  // direct, dX by Gemm
                LayerSpec(type: "conv2d", filters: 8, kernel: 3, padding: "same", initializer: "he_normal"),  // direct, dX direct
                .batchNorm,
                LayerSpec(type: "conv2d", filters: 8, kernel: 3, activation: "relu"),  // winograd
                .pool(),
                .flatten, .dense(13, activation: "relu"), .batchNorm, .dropout(0.3), .dense(10, activation: "softmax")
            ]),
        // The presets' shapes, narrower: fused conv + ReLU + pool (direct, C = 1), conv + ReLU without a pool
        // and then with one (winograd), dropout, dense with 16-wide tiles.
        ModelSpec(
            name: "numerics-probe-mnist", input: [28, 28, 1], classes: 10,
            layers: [
                .conv(8), .pool(), .conv(16), .conv(16), .pool(), .dropout(0.25), .flatten, .dense(32, activation: "relu"),
                .dropout(0.5), .dense(10, activation: "softmax")
            ])
    ]

    public static func compute() -> NumericsFingerprint {
        var h = BitHasher()
        for spec in probes {
            // 17 samples: vector tiles of 16 and 8 plus a scalar tail in every product.
            for kind in [OptimizerConfig.Kind.adam, .sgd] { canonicalPass(spec, batch: 17, optimizer: kind, into: &h) }
        }
        for i in 0..<64 {
            let x = Double(i) * 0.37 - 11.5
            h.add(PortableMath.exp(Float(x)).bitPattern)
            h.add(PortableMath.log(Float(abs(x)) + 1e-3).bitPattern)
            h.add(PortableMath.exp(x).bitPattern)
            h.add(PortableMath.log(abs(x) + 1e-9).bitPattern)
            h.add(PortableMath.sin(x).bitPattern)
            h.add(PortableMath.cos(x).bitPattern)
            h.add(PortableMath.tan(x * 0.1).bitPattern)
            h.add(PortableMath.pow(0.999, i * 977).bitPattern)
            h.add(CounterRNG(seed: 11).normal(.weightInit, UInt32(i)).bitPattern)
        }
        return NumericsFingerprint(kernelSet: kernelSet, hash: h.hex)
    }

    /// Initial weights, one training micro-batch (forward, loss, backward), inference on the same batch,
    /// and two optimizer updates; every result's bits go into `h`.
    static func canonicalPass(_ spec: ModelSpec, batch: Int, optimizer kind: OptimizerConfig.Kind, into h: inout BitHasher) {
        guard let model = try? Sequential(spec: spec) else { preconditionFailure("fingerprint model \(spec.name) does not build") }
        let rng = CounterRNG(seed: 0x5EED)
        var parameters = model.initialParameters(seed: 0x5EED)
        let ws = Workspace(model: model, capacity: batch)
        let pixels = model.inputShape.count
        for i in 0..<batch * pixels {
            let w = rng.block(.sampling, UInt32(i))
            ws.input[i] = CounterRNG.unitFloat(w[0]) * 4 - 1
        }
        for s in 0..<batch {
            ws.labels[s] = UInt8(s % model.classes)
            ws.sampleIDs[s] = Int32(s * 7)
        }
        let (loss, correct) = parameters.withUnsafeBufferPointer {
            model.trainMicroBatch(ws, batch: batch, rng: rng, epoch: 1, parameters: $0.baseAddress!, labelSmoothing: 0.1)
        }
        h.add(loss.bitPattern)
        h.add(UInt64(correct))
        h.add(UnsafeBufferPointer(start: ws.gradients, count: model.parameterCount))
        let gradient = Array(UnsafeBufferPointer(start: ws.gradients, count: model.parameterCount))
        let eval = parameters.withUnsafeBufferPointer { model.evaluate(ws, batch: batch, parameters: $0.baseAddress!, withLabels: true) }
        h.add(eval.loss.bitPattern)
        h.add(UnsafeBufferPointer(start: ws.probabilities, count: batch * model.classes))
        var optimizer = Optimizer(
            config: OptimizerConfig(kind: kind, momentum: 0.9, weightDecay: 1e-4), parameterCount: model.parameterCount)
        for _ in 0..<2 {
            gradient.withUnsafeBufferPointer { g in
                parameters.withUnsafeMutableBufferPointer { optimizer.apply(gradient: g, to: $0, learningRate: 1e-3) }
            }
        }
        parameters.withUnsafeBufferPointer { h.add($0) }
    }
}

/// A 64-bit hash of a stream of words: (rotate, xor, multiply by an odd constant) per word, so any single
/// changed bit changes the result; then a final avalanche. A fingerprint, not a defence against forgery.
struct BitHasher {
    var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ word: UInt64) {
        state = ((state << 5 | state >> 59) ^ word) &* 0x9E37_79B9_7F4A_7C15
    }

    mutating func add(_ word: UInt32) { add(UInt64(word)) }

    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        for v in values { add(UInt64(v.bitPattern)) }
    }

    var hex: String {
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let s = String(z, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
