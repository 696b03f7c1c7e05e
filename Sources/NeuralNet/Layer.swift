// The layer protocol: forward directly above backward, raw NHWC buffers, gradients accumulated
// (+=) into the layer's slice of one flat gradient buffer (llm.c style).
import TensorKit

/// A named view into the flat parameter vector.
public struct ParameterView: Equatable, Codable, Sendable {
    public var name: String
    /// Keras layout: conv kernel (KH, KW, Cin, Cout), dense kernel (in, out), bias (n).
    public var shape: [Int]
    /// Offset in the model's flat parameter vector.
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// Per-call facts a layer may need besides its buffers.
public struct LayerContext {
    /// Samples in this call (the micro-batch size, or an inference batch).
    public var batch: Int
    /// Training mode enables dropout.
    public var training: Bool
    /// Counter-based randomness, keyed by the run's seed.
    public var rng: CounterRNG
    /// Epoch number (part of every random counter used in training).
    public var epoch: Int
    /// Global sample indices of the `batch` samples (dataset order), for per-sample randomness.
    public var sampleIDs: UnsafePointer<Int32>?
    /// Position of the layer in its model (part of random counters).
    public var layerIndex: Int

    public init(batch: Int, training: Bool, rng: CounterRNG, epoch: Int, sampleIDs: UnsafePointer<Int32>?, layerIndex: Int) {
        self.batch = batch
        self.training = training
        self.rng = rng
        self.epoch = epoch
        self.sampleIDs = sampleIDs
        self.layerIndex = layerIndex
    }
}

/// One layer of a `Sequential` model. Layers are immutable once built and hold no activations:
/// everything per call lives in the caller's buffers, so one model serves many threads.
public protocol Layer: AnyObject, Sendable {
    var inputShape: Shape3 { get }
    var outputShape: Shape3 { get }
    /// Number of Float parameters (0 for parameter-free layers).
    var parameterCount: Int { get }
    /// Views relative to the layer's first parameter (offsets start at 0).
    var parameterViews: [ParameterView] { get }
    /// Floats of per-call scratch for `batch` samples (kept between forward and backward).
    func scratchCount(batch: Int) -> Int
    /// Writes initial values into the layer's parameters.
    func initialize(_ parameters: UnsafeMutablePointer<Float>, rng: CounterRNG, layerIndex: Int)
    /// y = f(x). x: (batch, inputShape), y: (batch, outputShape).
    func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext)
    /// Given dY, accumulates dParameters (+=) and, if dX is non-nil, writes dX (overwriting).
    func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext)
}

extension Layer {
    public var parameterCount: Int { 0 }
    public var parameterViews: [ParameterView] { [] }
    public func scratchCount(batch: Int) -> Int { 0 }
    public func initialize(_ parameters: UnsafeMutablePointer<Float>, rng: CounterRNG, layerIndex: Int) {}
}

/// Glorot (Xavier) uniform or He normal initialisation from the counter-based RNG, element by
/// element, so the initial weights are a pure function of (seed, layer index, element index).
public enum WeightInit: String, Codable, Sendable {
    case glorotUniform = "glorot_uniform"
    case heNormal = "he_normal"

    func fill(_ p: UnsafeMutablePointer<Float>, count: Int, fanIn: Int, fanOut: Int, rng: CounterRNG, layerIndex: Int) {
        switch self {
        case .glorotUniform:
            let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
            for i in 0..<count {
                let w = rng.block(.weightInit, UInt32(layerIndex), UInt32(i))
                let u = CounterRNG.unitDouble(w[0], w[1])
                p[i] = Float((2 * u - 1) * limit)
            }
        case .heNormal:
            let std = (2.0 / Double(fanIn)).squareRoot()
            for i in 0..<count {
                p[i] = Float(rng.normal(.weightInit, UInt32(layerIndex), UInt32(i)) * std)
            }
        }
    }
}
