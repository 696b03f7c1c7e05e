// Where a worker's micro-batch gradients come from: the model (training), or one fixed gradient
// (load on the protocol and the parameter server, with the worker's protocol code unchanged).
import NeuralNet

/// Where a worker's micro-batch gradients come from.
public enum GradientSource {
    /// Forward and backward passes of the model over the assigned samples: training (the default).
    case computed
    /// The same finite gradient for every micro-batch and nothing computed: load on the protocol
    /// and the parameter server without the cost of training (`digits loadtest`).
    case precomputed(PrecomputedGradient)
}

/// A fixed gradient, shared by any number of workers on one thread, with a fixed loss per sample.
public final class PrecomputedGradient {
    let values: UnsafeMutableBufferPointer<Float>
    let lossPerSample: Double
    /// Parameter counts of the model specs this gradient was checked against.
    private var checked: [(spec: ModelSpec, count: Int)] = []

    /// `values` must be finite (a server refuses anything else).
    public init(values: [Float], lossPerSample: Double) {
        precondition(values.allSatisfy(\.isFinite) && lossPerSample.isFinite, "a precomputed gradient must be finite")
        self.values = .allocate(capacity: values.count)
        _ = self.values.initialize(from: values)
        self.lossPerSample = lossPerSample
    }

    deinit { values.deallocate() }

    public var count: Int { values.count }

    /// The parameter count of `spec` (its model built once per spec).
    func parameterCount(of spec: ModelSpec) throws -> Int {
        if let known = checked.first(where: { $0.spec == spec }) { return known.count }
        let n = try Sequential(spec: spec).parameterCount
        checked.append((spec, n))
        return n
    }
}
