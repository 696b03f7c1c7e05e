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
    /// Conv -> ReLU [-> MaxPool] runs fused in training (see ConvBlock): the block starting, and the
    /// block ending, at each layer index.
    let blockStarting: [ConvBlock?]
    let blockEnding: [ConvBlock?]
    var blocks: [ConvBlock] { blockStarting.compactMap { $0 } }
    /// In training, a Flatten (a copy in NHWC) is skipped: the layer after it reads the Flatten's input
    /// buffer and writes its dX into the Flatten's dX buffer. `trainingSource[i]` is the activation (and
    /// delta) index layer i reads (writes) in training.
    let skippedInTraining: [Bool]
    let trainingSource: [Int]

    public convenience init(spec: ModelSpec, layers: [any Layer]) {
        self.init(spec: spec, layers: layers, fuse: true)
    }

    /// `fuse: false` runs every layer on its own in training too (tests compare both).
    init(spec: ModelSpec, layers: [any Layer], fuse: Bool) {
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
        var starting = [ConvBlock?](repeating: nil, count: layers.count)
        var ending = starting
        var i = 0
        while fuse && i < layers.count {
            if let block = ConvBlock(layers: layers, at: i) {
                starting[i] = block
                ending[block.last] = block
                i += block.count
            } else {
                i += 1
            }
        }
        blockStarting = starting
        blockEnding = ending
        var skipped = [Bool](repeating: false, count: layers.count)
        var source = Array(0..<layers.count)
        for j in layers.indices {
            skipped[j] = fuse && layers[j] is Flatten && j + 1 < layers.count
            if j > 0 && skipped[j - 1] { source[j] = source[j - 1] }
        }
        skippedInTraining = skipped
        trainingSource = source
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
    /// In training, fused blocks (see ConvBlock) and skipped Flatten layers do not write their intermediate
    /// activations; inference writes every activation.
    @discardableResult
    public func forward(
        _ ws: Workspace, batch: Int, training: Bool, rng: CounterRNG, epoch: Int,
        parameters: UnsafePointer<Float>
    ) -> UnsafeMutablePointer<Float> {
        precondition(batch <= ws.capacity, "batch \(batch) exceeds workspace capacity \(ws.capacity)")
        var i = 0
        while i < layers.count {
            let start = ws.profile ? DispatchTime.now().uptimeNanoseconds : 0
            var next = i + 1
            let x = ws.activations[training ? trainingSource[i] : i]
            if training && skippedInTraining[i] {
                // Nothing to do: the next layer reads this layer's input.
            } else if training, let block = blockStarting[i] {
                block.forward(ws, x: x, batch: batch, parameters: parameters + offsets[i])
                next = i + block.count
            } else {
                let ctx = LayerContext(
                    batch: batch, training: training, rng: rng, epoch: epoch,
                    sampleIDs: UnsafePointer(ws.sampleIDs), layerIndex: i)
                layers[i].forward(
                    x: x, y: ws.activations[i + 1], parameters: parameters + offsets[i],
                    scratch: ws.scratch[i], context: ctx)
            }
            if ws.profile { ws.forwardNanoseconds[i] += DispatchTime.now().uptimeNanoseconds - start }
            i = next
        }
        return ws.activations[layers.count]
    }

    /// One micro-batch: forward, softmax cross-entropy (summed over samples), backward.
    /// Overwrites `workspace.gradients` with the gradient of the summed loss.
    public func trainMicroBatch(
        _ ws: Workspace, batch: Int, rng: CounterRNG, epoch: Int,
        parameters: UnsafePointer<Float>, labelSmoothing: Float = 0
    ) -> (loss: Double, correct: Int) {
        let logits = forward(ws, batch: batch, training: true, rng: rng, epoch: epoch, parameters: parameters)
        let last = layers.count
        let result = SoftmaxCrossEntropy.forwardBackward(
            logits: logits, labels: ws.labels, batch: batch, classes: classes,
            probabilities: ws.probabilities, dLogits: ws.deltas[last], labelSmoothing: labelSmoothing)
        ws.gradients.update(repeating: 0, count: parameterCount)
        var i = layers.count - 1
        while i >= 0 {
            let start = ws.profile ? DispatchTime.now().uptimeNanoseconds : 0
            var first = i
            if let block = blockEnding[i] { first = block.first }
            let source = trainingSource[first]
            let dX = source == 0 ? nil : ws.deltas[source]
            if skippedInTraining[i] {
                // Nothing to do: the next layer wrote this layer's dX.
            } else if let block = blockEnding[i] {
                block.backward(
                    ws, x: ws.activations[source], dX: dX, batch: batch, parameters: parameters + offsets[first],
                    dParameters: ws.gradients + offsets[first])
            } else {
                let ctx = LayerContext(
                    batch: batch, training: true, rng: rng, epoch: epoch,
                    sampleIDs: UnsafePointer(ws.sampleIDs), layerIndex: i)
                layers[i].backward(
                    x: ws.activations[source], y: ws.activations[i + 1], dY: ws.deltas[i + 1],
                    dX: dX, parameters: parameters + offsets[i],
                    dParameters: ws.gradients + offsets[i], scratch: ws.scratch[i], context: ctx)
            }
            if ws.profile { ws.backwardNanoseconds[first] += DispatchTime.now().uptimeNanoseconds - start }
            i = first - 1
        }
        return result
    }

    /// Inference: probabilities (batch, classes) into `workspace.probabilities`; returns loss sum and correct count
    /// against `workspace.labels` when `withLabels`.
    @discardableResult
    public func evaluate(_ ws: Workspace, batch: Int, parameters: UnsafePointer<Float>, withLabels: Bool) -> (loss: Double, correct: Int) {
        let logits = forward(ws, batch: batch, training: false, rng: CounterRNG(seed: 0), epoch: 0, parameters: parameters)
        if withLabels {
            return SoftmaxCrossEntropy.forwardBackward(
                logits: logits, labels: ws.labels, batch: batch, classes: classes,
                probabilities: ws.probabilities, dLogits: nil)
        }
        var zero = [UInt8](repeating: 0, count: batch)
        _ = zero.withUnsafeMutableBufferPointer { l in
            SoftmaxCrossEntropy.forwardBackward(
                logits: logits, labels: l.baseAddress!, batch: batch, classes: classes,
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
    /// In training, the activations and deltas inside a fused conv block (the conv and ReLU outputs) and
    /// the output and delta of a Flatten layer are not written; a block's time is profiled under its conv layer.
    public let deltas: [UnsafeMutablePointer<Float>]
    public let scratch: [UnsafeMutablePointer<Float>]
    public let probabilities: UnsafeMutablePointer<Float>
    public let labels: UnsafeMutablePointer<UInt8>
    /// Global dataset indices of the samples in the current batch (keys per-sample randomness).
    public let sampleIDs: UnsafeMutablePointer<Int32>
    /// Flat gradient of the current micro-batch, laid out like the parameters.
    public let gradients: UnsafeMutablePointer<Float>
    /// One image's conv output (or its gradient) inside a fused conv block, 64-byte aligned.
    let blockBuffer: UnsafeMutablePointer<Float>
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
        let buffer = floats((model.blocks.map(\.bufferCount).max() ?? 0) + 16)
        blockBuffer = buffer + (64 - Int(UInt(bitPattern: buffer) % 64)) % 64 / MemoryLayout<Float>.stride
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
