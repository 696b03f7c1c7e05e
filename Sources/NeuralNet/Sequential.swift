// A stack of layers over one flat parameter vector, and the per-thread workspace that holds a
// micro-batch's activations, deltas, scratch and flat gradient (allocated once, reused every step).
import Dispatch
import TensorKit

public final class Sequential: Sendable {
    public let spec: ModelSpec
    public let layers: [any Layer]
    /// Offset of each layer's first parameter in the flat vector.
    public let offsets: [Int]
    public let parameterCount: Int
    public let inputShape: Shape3
    public var classes: Int { spec.classes }

    public init(spec: ModelSpec, layers: [any Layer]) {
        self.spec = spec
        self.layers = layers
        var offsets: [Int] = []
        var total = 0
        for layer in layers {
            offsets.append(total)
            total += layer.parameterCount
        }
        self.offsets = offsets
        self.parameterCount = total
        self.inputShape = layers.first?.inputShape ?? Shape3(spec.input[0], spec.input[1], spec.input[2])
    }

    /// Named views of every parameter tensor, e.g. "0.conv2d.kernel" (layer index, type, tensor).
    public var parameterViews: [ParameterView] {
        var views: [ParameterView] = []
        for (i, layer) in layers.enumerated() {
            let type = String(describing: Swift.type(of: layer)).lowercased()
            for v in layer.parameterViews {
                views.append(ParameterView(name: "\(i).\(type).\(v.name)", shape: v.shape, offset: offsets[i] + v.offset))
            }
        }
        return views
    }

    /// Initial weights: a pure function of the seed.
    public func initialParameters(seed: UInt64) -> [Float] {
        var p = [Float](repeating: 0, count: parameterCount)
        let rng = CounterRNG(seed: seed)
        p.withUnsafeMutableBufferPointer { buf in
            for (i, layer) in layers.enumerated() where layer.parameterCount > 0 {
                layer.initialize(buf.baseAddress! + offsets[i], rng: rng, layerIndex: i)
            }
        }
        return p
    }

    /// Multiply-add FLOPs (x2) per sample for one forward pass.
    public var forwardFLOPs: Int {
        var flops = 0
        for layer in layers {
            if let conv = layer as? Conv2D {
                flops += 2 * conv.outputShape.count * conv.k
            } else if let dense = layer as? Dense {
                flops += 2 * dense.inputs * dense.units
            }
        }
        return flops
    }

    /// FLOPs per sample for a training step: forward, dW, and dX except for the first layer.
    public var trainingFLOPs: Int {
        var flops = 0
        for (i, layer) in layers.enumerated() {
            var f = 0
            if let conv = layer as? Conv2D { f = 2 * conv.outputShape.count * conv.k }
            if let dense = layer as? Dense { f = 2 * dense.inputs * dense.units }
            flops += f * (i == 0 ? 2 : 3)
        }
        return flops
    }

    /// Forward pass over `batch` samples already in `workspace.input`; returns the logits buffer.
    @discardableResult
    public func forward(_ ws: Workspace, batch: Int, training: Bool, rng: CounterRNG, epoch: Int,
                        parameters: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        precondition(batch <= ws.capacity, "batch \(batch) exceeds workspace capacity \(ws.capacity)")
        for (i, layer) in layers.enumerated() {
            let ctx = LayerContext(batch: batch, training: training, rng: rng, epoch: epoch,
                                   sampleIDs: UnsafePointer(ws.sampleIDs), layerIndex: i)
            let start = ws.profile ? DispatchTime.now().uptimeNanoseconds : 0
            layer.forward(x: ws.activations[i], y: ws.activations[i + 1], parameters: parameters + offsets[i],
                          scratch: ws.scratch[i], context: ctx)
            if ws.profile { ws.forwardNanoseconds[i] += DispatchTime.now().uptimeNanoseconds - start }
        }
        return ws.activations[layers.count]
    }

    /// One micro-batch: forward, softmax cross-entropy (summed over samples), backward.
    /// Overwrites `workspace.gradients` with the gradient of the summed loss.
    public func trainMicroBatch(_ ws: Workspace, batch: Int, rng: CounterRNG, epoch: Int,
                                parameters: UnsafePointer<Float>, labelSmoothing: Float = 0) -> (loss: Double, correct: Int) {
        let logits = forward(ws, batch: batch, training: true, rng: rng, epoch: epoch, parameters: parameters)
        let last = layers.count
        let result = SoftmaxCrossEntropy.forwardBackward(
            logits: logits, labels: ws.labels, batch: batch, classes: classes,
            probabilities: ws.probabilities, dLogits: ws.deltas[last], labelSmoothing: labelSmoothing)
        ws.gradients.update(repeating: 0, count: parameterCount)
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let ctx = LayerContext(batch: batch, training: true, rng: rng, epoch: epoch,
                                   sampleIDs: UnsafePointer(ws.sampleIDs), layerIndex: i)
            let start = ws.profile ? DispatchTime.now().uptimeNanoseconds : 0
            layers[i].backward(x: ws.activations[i], y: ws.activations[i + 1], dY: ws.deltas[i + 1],
                               dX: i == 0 ? nil : ws.deltas[i], parameters: parameters + offsets[i],
                               dParameters: ws.gradients + offsets[i], scratch: ws.scratch[i], context: ctx)
            if ws.profile { ws.backwardNanoseconds[i] += DispatchTime.now().uptimeNanoseconds - start }
        }
        return result
    }

    /// Inference: probabilities (batch, classes) into `workspace.probabilities`; returns loss sum and correct count
    /// against `workspace.labels` when `withLabels`.
    @discardableResult
    public func evaluate(_ ws: Workspace, batch: Int, parameters: UnsafePointer<Float>, withLabels: Bool) -> (loss: Double, correct: Int) {
        let logits = forward(ws, batch: batch, training: false, rng: CounterRNG(seed: 0), epoch: 0, parameters: parameters)
        if withLabels {
            return SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: ws.labels, batch: batch, classes: classes,
                                                       probabilities: ws.probabilities, dLogits: nil)
        }
        var zero = [UInt8](repeating: 0, count: batch)
        _ = zero.withUnsafeMutableBufferPointer { l in
            SoftmaxCrossEntropy.forwardBackward(logits: logits, labels: l.baseAddress!, batch: batch, classes: classes,
                                                probabilities: ws.probabilities, dLogits: nil)
        }
        return (0, 0)
    }
}

/// Buffers for one thread running micro-batches of up to `capacity` samples.
public final class Workspace: @unchecked Sendable {
    public let capacity: Int
    /// activations[0] is the input; activations[i + 1] is layer i's output.
    public let activations: [UnsafeMutablePointer<Float>]
    /// deltas[i] is dLoss/dActivations[i] (deltas[0] is never written).
    public let deltas: [UnsafeMutablePointer<Float>]
    public let scratch: [UnsafeMutablePointer<Float>]
    public let probabilities: UnsafeMutablePointer<Float>
    public let labels: UnsafeMutablePointer<UInt8>
    /// Global dataset indices of the samples in the current batch (keys per-sample randomness).
    public let sampleIDs: UnsafeMutablePointer<Int32>
    /// Flat gradient of the current micro-batch, laid out like the parameters.
    public let gradients: UnsafeMutablePointer<Float>
    public let parameterCount: Int
    /// When set, forward/backward time per layer accumulates into the arrays below.
    public var profile = false
    public var forwardNanoseconds: [UInt64]
    public var backwardNanoseconds: [UInt64]
    private var owned: [UnsafeMutableRawPointer] = []

    public init(model: Sequential, capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.parameterCount = model.parameterCount
        var owned: [UnsafeMutableRawPointer] = []
        func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(n, 1))
            p.initialize(repeating: 0, count: Swift.max(n, 1))
            owned.append(UnsafeMutableRawPointer(p))
            return p
        }
        var shapes = [model.inputShape]
        shapes += model.layers.map(\.outputShape)
        activations = shapes.map { floats($0.count * capacity) }
        deltas = shapes.map { floats($0.count * capacity) }
        scratch = model.layers.map { floats($0.scratchCount(batch: capacity)) }
        probabilities = floats(model.classes * capacity)
        gradients = floats(model.parameterCount)
        labels = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        labels.initialize(repeating: 0, count: capacity)
        sampleIDs = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        sampleIDs.initialize(repeating: 0, count: capacity)
        self.owned = owned
        forwardNanoseconds = [UInt64](repeating: 0, count: model.layers.count)
        backwardNanoseconds = [UInt64](repeating: 0, count: model.layers.count)
    }

    deinit {
        for p in owned { p.deallocate() }
        labels.deallocate()
        sampleIDs.deallocate()
    }

    public var input: UnsafeMutablePointer<Float> { activations[0] }
}
