// Conv2D -> ReLU [-> MaxPool2D] run as one pass per image during training.
//
// The unfused layers stream the full conv output through memory four to six times (conv writes it,
// ReLU reads and writes it, pooling reads it; backward the same again). Fused, each image's conv output
// lives only in a small per-image buffer (L2-resident): forward computes conv + bias + ReLU into it and
// pools from it; backward rebuilds the image's conv-output gradient there (pool routing and ReLU mask
// in one step) and feeds it straight to the dW and dX kernels. Conv output rows and columns that no
// pooling window covers get a zero gradient, so they are not computed at all.
//
// Values are those of the unfused layers (same kernels, same accumulation order; the skipped outputs
// would only have added exact zeros). In training, the block writes the activation of its last layer
// (and the pool's argmax scratch) and the delta before its first layer; the intermediate activations
// and deltas (conv output, ReLU output) are not written. Inference runs the layers one by one.
import TensorKit

final class ConvBlock: Sendable {
    /// Index of the conv layer in the model.
    let first: Int
    let conv: Conv2D
    let pool: MaxPool2D?
    /// The conv-output region that matters: the pooling windows' cover, else the whole output.
    let rows: Int
    let cols: Int

    /// Layers the block runs (conv, ReLU and the pool if any).
    var count: Int { pool == nil ? 2 : 3 }
    var last: Int { first + count - 1 }
    /// Floats of the per-image buffer the workspace provides.
    var bufferCount: Int { rows * cols * conv.filters }

    /// The block starting at layer `i`, if the layers there can be fused: a Conv2D running image by image
    /// (winograd or direct) whose dX, if needed (not the first layer), does too, a ReLU, and optionally a
    /// MaxPool2D with non-overlapping windows.
    init?(layers: [any Layer], at i: Int) {
        guard i + 1 < layers.count, let conv = layers[i] as? Conv2D, conv.algorithm != .im2col,
            let relu = layers[i + 1] as? ReLU, relu.inputShape == conv.outputShape,
            i == 0 || conv.algorithm == .winograd || ConvKernels.supportsInputGradient(conv.geometry)
        else { return nil }
        first = i
        self.conv = conv
        if i + 2 < layers.count, let p = layers[i + 2] as? MaxPool2D, p.size == p.stride, p.inputShape == conv.outputShape,
            p.inputShape.channels % 8 == 0
        {
            pool = p
            rows = p.outputShape.height * p.size
            cols = p.outputShape.width * p.size
        } else {
            pool = nil
            rows = conv.outputShape.height
            cols = conv.outputShape.width
        }
    }

    /// Training forward: the block's last activation (and the pool's argmax) from its first.
    /// `x` is the block's input (normally activations[first]).
    func forward(_ ws: Workspace, x: UnsafePointer<Float>, batch: Int, parameters: UnsafePointer<Float>) {
        let scratch = ws.scratch[first]
        let input = conv.prepareForward(x: x, parameters: parameters, scratch: scratch, batch: batch)
        for n in 0..<batch {
            if let pool {
                let out = pool.outputShape.count
                conv.forwardImage(
                    n, input: input, rows: rows, cols: cols, parameters: parameters, scratch: scratch,
                    y: nil, relu: ws.blockBuffer)
                pool.poolImage(
                    ws.blockBuffer, width: cols, y: ws.activations[first + 3] + n * out,
                    argmax: ws.scratch[first + 2] + n * out)
            } else {
                conv.forwardImage(
                    n, input: input, rows: rows, cols: cols, parameters: parameters, scratch: scratch,
                    y: nil, relu: ws.activations[first + 2] + n * conv.outputShape.count)
            }
        }
    }

    /// Training backward: accumulates the conv's dW and db and writes `dX`, the delta before the block
    /// (nil when the block starts the model), from the delta after it. `x` as given to `forward`.
    func backward(
        _ ws: Workspace, x: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>?, batch: Int,
        parameters: UnsafePointer<Float>, dParameters: UnsafeMutablePointer<Float>
    ) {
        let scratch = ws.scratch[first]
        conv.prepareBackward(parameters: parameters, scratch: scratch, inputGradient: dX != nil)
        let dY = ws.blockBuffer
        for n in 0..<batch {
            if let pool {
                let out = pool.outputShape.count
                pool.unpoolImage(
                    ws.deltas[first + 3] + n * out, argmax: ws.scratch[first + 2] + n * out,
                    reluOutput: ws.activations[first + 3] + n * out, dX: dY, height: rows, width: cols)
            } else {
                let out = conv.outputShape.count
                Elementwise.reluBackward(
                    y: ws.activations[first + 2] + n * out, dY: ws.deltas[first + 2] + n * out,
                    dX: dY, count: out)
            }
            conv.backwardImage(n, x: x, dY: dY, rows: rows, cols: cols, dX: dX, dParameters: dParameters, scratch: scratch)
        }
        conv.finishBackward(dParameters: dParameters, scratch: scratch)
    }
}
