// Optimizers over the flat parameter vector: Adam (Kingma & Ba 2015, Keras formulation with
// epsilon outside the square root) and SGD with momentum. State is plain arrays for checkpoints.
import TensorKit

public struct OptimizerConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case adam, sgd }
    public var kind: Kind
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var momentum: Float
    /// Decoupled weight decay (AdamW style), 0 to disable.
    public var weightDecay: Float

    public init(
        kind: Kind = .adam, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-7, momentum: Float = 0.9, weightDecay: Float = 0
    ) {
        self.kind = kind
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.momentum = momentum
        self.weightDecay = weightDecay
    }
}

/// Everything needed to continue optimisation exactly: step count and moment vectors.
public struct OptimizerState: Equatable, Sendable {
    public var step: Int
    /// Adam first moment, or SGD velocity.
    public var first: [Float]
    /// Adam second moment (empty for SGD).
    public var second: [Float]

    public init(step: Int, first: [Float], second: [Float]) {
        self.step = step
        self.first = first
        self.second = second
    }
}

public struct Optimizer: Sendable {
    public let config: OptimizerConfig
    public var state: OptimizerState

    public init(config: OptimizerConfig, parameterCount: Int) {
        self.config = config
        let zeros = [Float](repeating: 0, count: parameterCount)
        state = OptimizerState(step: 0, first: zeros, second: config.kind == .adam ? zeros : [])
    }

    public init(config: OptimizerConfig, state: OptimizerState) {
        self.config = config
        self.state = state
    }

    /// One update of `parameters` with the mean gradient `gradient` and this step's learning rate.
    public mutating func apply(
        gradient: UnsafeBufferPointer<Float>, to parameters: UnsafeMutableBufferPointer<Float>,
        learningRate lr: Float
    ) {
        precondition(gradient.count == parameters.count && parameters.count == state.first.count)
        state.step += 1
        let n = parameters.count
        let g = gradient.baseAddress!
        let p = parameters.baseAddress!
        let decay = 1 - lr * config.weightDecay
        switch config.kind {
        case .adam:
            let t = state.step
            let b1 = config.beta1
            let b2 = config.beta2
            let eps = config.epsilon
            let alpha = Float(Double(lr) * (1 - PortableMath.pow(Double(b2), t)).squareRoot() / (1 - PortableMath.pow(Double(b1), t)))
            state.first.withUnsafeMutableBufferPointer { mb in
                state.second.withUnsafeMutableBufferPointer { vb in
                    let m = mb.baseAddress!
                    let v = vb.baseAddress!
                    for i in 0..<n {
                        let gi = g[i]
                        m[i] += (gi - m[i]) * (1 - b1)
                        v[i] += (gi * gi - v[i]) * (1 - b2)
                        p[i] = p[i] * decay - alpha * m[i] / (v[i].squareRoot() + eps)
                    }
                }
            }
        case .sgd:
            let mu = config.momentum
            state.first.withUnsafeMutableBufferPointer { vb in
                let v = vb.baseAddress!
                for i in 0..<n {
                    v[i] = mu * v[i] + g[i]
                    p[i] = p[i] * decay - lr * v[i]
                }
            }
        }
    }
}
