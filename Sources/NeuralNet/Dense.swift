// Fully connected layer: y (B, out) = x (B, in) x W (in, out) + b, Keras kernel layout.
import TensorKit

public final class Dense: Layer {
    public let inputShape: Shape3
    public let outputShape: Shape3
    public let units: Int
    public let weightInit: WeightInit
    var inputs: Int { inputShape.count }

    public init(input: Shape3, units: Int, weightInit: WeightInit = .glorotUniform) {
        precondition(units > 0)
        inputShape = input
        self.units = units
        self.weightInit = weightInit
        outputShape = Shape3(1, 1, units)
    }

    public var parameterCount: Int { inputs * units + units }
    public var parameterViews: [ParameterView] {
        [
            ParameterView(name: "kernel", shape: [inputs, units], offset: 0),
            ParameterView(name: "bias", shape: [units], offset: inputs * units)
        ]
    }

    public func initialize(_ parameters: UnsafeMutablePointer<Float>, rng: CounterRNG, layerIndex: Int) {
        weightInit.fill(parameters, count: inputs * units, fanIn: inputs, fanOut: units, rng: rng, layerIndex: layerIndex)
        (parameters + inputs * units).update(repeating: 0, count: units)
    }

    // x: (B, in)   y: (B, out)
    public func forward(
        x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, context: LayerContext
    ) {
        let bias = parameters + inputs * units
        for r in 0..<context.batch { (y + r * units).update(from: bias, count: units) }
        Gemm.multiply(m: context.batch, n: units, k: inputs, a: x, b: parameters, accumulate: true, c: y)
    }

    public func backward(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
        dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
        dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        context: LayerContext
    ) {
        // dW (in, out) += x^T (in, B) x dY (B, out)
        Gemm.multiply(transA: true, m: inputs, n: units, k: context.batch, a: x, b: dY, accumulate: true, c: dParameters)
        // db (out) += column sums of dY, rows in order (reversed only under the test switch
        // DIGITS_TEST_PERTURB_NUMERICS, which the numerics fingerprint must notice).
        let dBias = dParameters + inputs * units
        let last = context.batch - 1
        for i in 0..<context.batch {
            let r = NumericsSwitch.perturbed ? last - i : i
            for u in 0..<units { dBias[u] += dY[r * units + u] }
        }
        // dX (B, in) = dY (B, out) x W^T (out, in)
        if let dX {
            Gemm.multiply(transB: true, m: context.batch, n: inputs, k: units, a: dY, b: parameters, c: dX)
        }
    }
}
