import Foundation
// Finite-difference checks of every layer's backward and of the loss (central differences on
// tiny shapes; loss = sum(y * r) with a seeded random r; inputs kept away from ReLU kinks and
// pooling ties). Used by `digits gradcheck` and the test suite.
import TensorKit

public struct GradientCheckResult: Sendable, CustomStringConvertible {
    public var name: String
    /// Values compared (parameters and inputs).
    public var checked: Int
    /// Worst mismatch: its tensor, index, analytic and numeric derivative, error.
    public var worstTensor: String
    public var worstIndex: Int
    public var analytic: Double
    public var numeric: Double
    public var worstError: Double
    public var tolerance: Double
    public var passed: Bool { worstError <= tolerance }

    public var description: String {
        let status = passed ? "ok  " : "FAIL"
        return
            """
            \(status) \(name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(checked) values, worst \
            \(worstTensor)[\(worstIndex)]: analytic \(fmt(analytic)) numeric \(fmt(numeric)) error \(fmt(worstError)) (tolerance \
            \(fmt(tolerance)))
            """
    }

    private func fmt(_ x: Double) -> String {
        let s = String(format: "%.3e", x)
        return s
    }
}

public enum GradientCheck {
    /// Error measure: |a - n| / max(1, |a|, |n|), i.e. absolute near zero, relative for large values.
    static func error(_ a: Double, _ n: Double) -> Double { abs(a - n) / max(1, abs(a), abs(n)) }

    /// Checks one layer on a tiny batch. `input` supplies x given (index) -> value.
    public static func check(
        layer: any Layer, name: String, batch: Int = 2, seed: UInt64 = 7,
        step h: Float = 1e-2, tolerance: Double = 2e-3,
        input: ((Int) -> Float)? = nil,
        parameters setParameters: ((inout [Float]) -> Void)? = nil
    ) -> GradientCheckResult {
        let rng = CounterRNG(seed: seed)
        let nIn = batch * layer.inputShape.count
        let nOut = batch * layer.outputShape.count
        var x = (0..<nIn).map { i in input?(i) ?? Self.awayFromZero(rng, i, purpose: 0) }
        var params = [Float](repeating: 0, count: max(layer.parameterCount, 1))
        params.withUnsafeMutableBufferPointer { layer.initialize($0.baseAddress!, rng: rng, layerIndex: 3) }
        // Non-zero biases too, so their paths are exercised.
        for v in layer.parameterViews where v.name == "bias" {
            for j in 0..<v.count { params[v.offset + j] = 0.1 * Self.awayFromZero(rng, j, purpose: 9) }
        }
        setParameters?(&params)
        let r = (0..<nOut).map { i in Self.awayFromZero(rng, i, purpose: 2) }
        var scratch = [Float](repeating: 0, count: max(layer.scratchCount(batch: batch), 1))
        var ids = (0..<batch).map { Int32($0 * 17 + 3) }
        func context(_ ids: UnsafePointer<Int32>) -> LayerContext {
            LayerContext(batch: batch, training: true, rng: rng, epoch: 1, sampleIDs: ids, layerIndex: 3)
        }
        func loss() -> Double {
            var y = [Float](repeating: 0, count: nOut)
            x.withUnsafeBufferPointer { xb in
                params.withUnsafeBufferPointer { pb in
                    scratch.withUnsafeMutableBufferPointer { sb in
                        y.withUnsafeMutableBufferPointer { yb in
                            ids.withUnsafeBufferPointer { ib in
                                layer.forward(
                                    x: xb.baseAddress!, y: yb.baseAddress!, parameters: pb.baseAddress!,
                                    scratch: sb.baseAddress!, context: context(ib.baseAddress!))
                            }
                        }
                    }
                }
            }
            var s = 0.0
            for i in 0..<nOut { s += Double(y[i]) * Double(r[i]) }
            return s
        }
        // Analytic: forward, then backward with dY = r.
        var y = [Float](repeating: 0, count: nOut)
        var dX = [Float](repeating: 0, count: nIn)
        var dP = [Float](repeating: 0, count: params.count)
        x.withUnsafeBufferPointer { xb in
            params.withUnsafeBufferPointer { pb in
                scratch.withUnsafeMutableBufferPointer { sb in
                    y.withUnsafeMutableBufferPointer { yb in
                        ids.withUnsafeMutableBufferPointer { ib in
                            dX.withUnsafeMutableBufferPointer { dxb in
                                dP.withUnsafeMutableBufferPointer { dpb in
                                    r.withUnsafeBufferPointer { rb in
                                        let ctx = context(ib.baseAddress!)
                                        layer.forward(
                                            x: xb.baseAddress!, y: yb.baseAddress!, parameters: pb.baseAddress!,
                                            scratch: sb.baseAddress!, context: ctx)
                                        layer.backward(
                                            x: xb.baseAddress!, y: yb.baseAddress!, dY: rb.baseAddress!, dX: dxb.baseAddress!,
                                            parameters: pb.baseAddress!, dParameters: dpb.baseAddress!,
                                            scratch: sb.baseAddress!, context: ctx)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = GradientCheckResult(
            name: name, checked: 0, worstTensor: "-", worstIndex: 0, analytic: 0, numeric: 0,
            worstError: 0, tolerance: tolerance)
        func note(_ tensor: String, _ i: Int, _ a: Double, _ n: Double) {
            result.checked += 1
            let e = error(a, n)
            if e > result.worstError || result.checked == 1 {
                result.worstError = e
                result.worstTensor = tensor
                result.worstIndex = i
                result.analytic = a
                result.numeric = n
            }
        }
        for i in 0..<layer.parameterCount {
            let saved = params[i]
            params[i] = saved + h
            let up = loss()
            params[i] = saved - h
            let down = loss()
            params[i] = saved
            let tensor = layer.parameterViews.last(where: { $0.offset <= i })?.name ?? "param"
            note(tensor, i, Double(dP[i]), (up - down) / (2 * Double(h)))
        }
        for i in 0..<nIn {
            let saved = x[i]
            x[i] = saved + h
            let up = loss()
            x[i] = saved - h
            let down = loss()
            x[i] = saved
            note("input", i, Double(dX[i]), (up - down) / (2 * Double(h)))
        }
        return result
    }

    /// Softmax cross-entropy: dLoss/dLogits against central differences of the summed loss.
    public static func checkLoss(
        batch: Int = 3, classes: Int = 10, labelSmoothing: Float = 0, seed: UInt64 = 11,
        step h: Float = 1e-2, tolerance: Double = 2e-3
    ) -> GradientCheckResult {
        let rng = CounterRNG(seed: seed)
        var logits = (0..<(batch * classes)).map { i in 3 * Self.awayFromZero(rng, i, purpose: 4) }
        var labels = (0..<batch).map { UInt8($0 * 7 % classes) }
        var probs = [Float](repeating: 0, count: batch * classes)
        var d = [Float](repeating: 0, count: batch * classes)
        func run(_ dl: UnsafeMutablePointer<Float>?) -> Double {
            logits.withUnsafeBufferPointer { lb in
                labels.withUnsafeMutableBufferPointer { yb in
                    probs.withUnsafeMutableBufferPointer { pb in
                        SoftmaxCrossEntropy.forwardBackward(
                            logits: lb.baseAddress!, labels: yb.baseAddress!, batch: batch, classes: classes,
                            probabilities: pb.baseAddress!, dLogits: dl, labelSmoothing: labelSmoothing
                        ).loss
                    }
                }
            }
        }
        _ = d.withUnsafeMutableBufferPointer { run($0.baseAddress!) }
        var result = GradientCheckResult(
            name: labelSmoothing > 0 ? "softmax-xent (smoothed)" : "softmax-xent", checked: 0,
            worstTensor: "logits", worstIndex: 0, analytic: 0, numeric: 0, worstError: 0, tolerance: tolerance)
        for i in 0..<logits.count {
            let saved = logits[i]
            logits[i] = saved + h
            let up = run(nil)
            logits[i] = saved - h
            let down = run(nil)
            logits[i] = saved
            let n = (up - down) / (2 * Double(h))
            let a = Double(d[i])
            let e = error(a, n)
            result.checked += 1
            if e >= result.worstError {
                result = GradientCheckResult(
                    name: result.name, checked: result.checked, worstTensor: "logits", worstIndex: i, analytic: a, numeric: n,
                    worstError: e, tolerance: tolerance)
            }
        }
        return result
    }

    /// Every layer type in a few configurations, plus the loss.
    public static func all() -> [GradientCheckResult] {
        var results: [GradientCheckResult] = []
        results.append(check(layer: Conv2D(input: Shape3(6, 5, 2), filters: 3, kernel: 3), name: "conv2d 3x3 valid"))
        results.append(
            check(layer: Conv2D(input: Shape3(5, 6, 2), filters: 2, kernel: 3, stride: 2, padding: 1), name: "conv2d 3x3 stride2 pad1"))
        results.append(check(layer: Conv2D(input: Shape3(4, 4, 1), filters: 4, kernel: 2, padding: 1), name: "conv2d 2x2 pad1 C=1"))
        // The direct SIMD kernels (filters % 8 == 0): C=1 (dX through SGEMM + col2im), stride 2 with padding
        // and C=3, filter strips of 16 + 8 with the direct dX kernel (C=8), and padding with C=16 (padded dX).
        results.append(check(layer: Conv2D(input: Shape3(6, 5, 1), filters: 8, kernel: 3, algorithm: .direct), name: "conv2d direct C=1"))
        results.append(
            check(
                layer: Conv2D(input: Shape3(5, 6, 3), filters: 16, kernel: 3, stride: 2, padding: 1, algorithm: .direct),
                name: "conv2d direct stride2 pad1"))
        results.append(
            check(
                layer: Conv2D(input: Shape3(5, 5, 8), filters: 24, kernel: 3, algorithm: .direct),
                name: "conv2d direct C=8 F=24"))
        results.append(
            check(
                layer: Conv2D(input: Shape3(4, 5, 16), filters: 8, kernel: 3, padding: 1, algorithm: .direct),
                name: "conv2d direct pad1 C=16"))
        // Winograd F(2x2, 3x3): odd output sizes (partial tiles), filter strips of 16 + 8, C=16.
        results.append(
            check(
                layer: Conv2D(input: Shape3(7, 6, 8), filters: 24, kernel: 3, algorithm: .winograd),
                name: "conv2d winograd C=8 F=24"))
        results.append(
            check(
                layer: Conv2D(input: Shape3(6, 8, 16), filters: 8, kernel: 3, algorithm: .winograd),
                name: "conv2d winograd C=16 F=8"))
        results.append(check(layer: Dense(input: Shape3(1, 1, 7), units: 4), name: "dense"))
        results.append(check(layer: Dense(input: Shape3(1, 1, 5), units: 3, weightInit: .heNormal), name: "dense he_normal"))
        // Distinct values with gaps >> step so that no perturbation changes a window's maximum.
        let poolInput = Shape3(4, 6, 3)
        let n = 2 * poolInput.count
        let order = CounterRNG(seed: 5).permutation(count: n, purpose: .sampling, stream: 1)
        results.append(
            check(
                layer: MaxPool2D(input: poolInput, size: 2), name: "maxpool2d 2x2",
                input: { i in Float(order[i]) * 0.1 - Float(n) * 0.05 }))
        results.append(
            check(
                layer: MaxPool2D(input: Shape3(5, 5, 2), size: 3, stride: 2), name: "maxpool2d 3x3 stride2",
                input: { i in Float(CounterRNG(seed: 6).permutation(count: 100, purpose: .sampling, stream: 2)[i]) * 0.1 }))
        // Eight channels: the SIMD pooling paths (2x2 on an odd size leaves a row and a column uncovered).
        let pool8 = Shape3(5, 5, 8)
        let order8 = CounterRNG(seed: 8).permutation(count: 2 * pool8.count, purpose: .sampling, stream: 3)
        results.append(
            check(
                layer: MaxPool2D(input: pool8, size: 2), name: "maxpool2d 2x2 C=8",
                input: { i in Float(order8[i]) * 0.1 - Float(pool8.count) * 0.1 }))
        results.append(
            check(
                layer: MaxPool2D(input: pool8, size: 3, stride: 2), name: "maxpool2d 3x3 stride2 C=8",
                input: { i in Float(order8[i]) * 0.1 - Float(pool8.count) * 0.1 }))
        results.append(check(layer: ReLU(input: Shape3(3, 3, 2)), name: "relu"))
        results.append(check(layer: Dropout(input: Shape3(2, 3, 4), rate: 0.4), name: "dropout 0.4"))
        results.append(check(layer: Flatten(input: Shape3(2, 3, 2)), name: "flatten"))
        // Batch norm in training mode (batch statistics): conv-shaped and dense-shaped inputs, gamma and beta
        // set away from 1 and 0. The moving statistics are not read in training: their gradient is 0.
        results.append(
            check(
                layer: BatchNorm(input: Shape3(3, 2, 4)), name: "batchnorm conv (N=2)", step: 1e-2, tolerance: 3e-3,
                parameters: batchNormParameters))
        results.append(
            check(
                layer: BatchNorm(input: Shape3(1, 1, 5)), name: "batchnorm dense (N=4)", batch: 4, step: 1e-2,
                tolerance: 3e-3, parameters: batchNormParameters))
        results.append(checkLoss())
        results.append(checkLoss(labelSmoothing: 0.1))
        results.append(checkModel())
        // A smaller step: this model has many more ReLU and pooling kinks within reach of 1e-3 (and a
        // seed whose inputs keep every kink out of reach of 1e-4).
        results.append(checkModel(spec: fusedBlocksSpec, name: "model fused conv blocks", seed: 23, step: 1e-4))
        results.append(checkModel(spec: batchNormSpec, name: "model with batchnorm", seed: 29, step: 1e-3, batch: 3))
        return results
    }

    /// A whole small model: loss (softmax cross-entropy) against every parameter.
    public static func checkModel(
        spec: ModelSpec = smallModelSpec, name: String = "model conv-pool-dense", seed: UInt64 = 21,
        step h: Float = 1e-3, tolerance: Double = 5e-3, batch: Int = 2
    ) -> GradientCheckResult {
        let model = try! Sequential(spec: spec)
        let pixels = spec.input.reduce(1, *)
        let rng = CounterRNG(seed: seed)
        var params = model.initialParameters(seed: seed)
        let ws = Workspace(model: model, capacity: batch)
        for i in 0..<(batch * pixels) { ws.input[i] = Self.awayFromZero(rng, i, purpose: 7) }
        for s in 0..<batch { ws.labels[s] = UInt8((s + 1) % spec.classes) }
        // With batch norm the loss must see batch statistics too (the training function).
        let training = !model.batchNormLayers.isEmpty
        let grad: [Float] = params.withUnsafeBufferPointer { pb in
            _ = model.trainMicroBatch(ws, batch: batch, rng: rng, epoch: 0, parameters: pb.baseAddress!)
            return Array(UnsafeBufferPointer(start: ws.gradients, count: model.parameterCount))
        }
        func loss() -> Double {
            params.withUnsafeBufferPointer { pb in
                if training {
                    let logits = model.forward(ws, batch: batch, training: true, rng: rng, epoch: 0, parameters: pb.baseAddress!)
                    return SoftmaxCrossEntropy.forwardBackward(
                        logits: logits, labels: ws.labels, batch: batch, classes: model.classes,
                        probabilities: ws.probabilities, dLogits: nil
                    ).loss
                }
                return model.evaluate(ws, batch: batch, parameters: pb.baseAddress!, withLabels: true).loss
            }
        }
        var result = GradientCheckResult(
            name: name, checked: 0, worstTensor: "-", worstIndex: 0,
            analytic: 0, numeric: 0, worstError: 0, tolerance: tolerance)
        for i in 0..<model.parameterCount {
            let saved = params[i]
            params[i] = saved + h
            let up = loss()
            params[i] = saved - h
            let down = loss()
            params[i] = saved
            let n = (up - down) / (2 * Double(h))
            let a = Double(grad[i])
            let e = error(a, n)
            result.checked += 1
            if e >= result.worstError {
                let view = model.parameterViews.last(where: { $0.offset <= i })
                result.worstError = e
                result.worstIndex = i - (view?.offset ?? 0)
                result.worstTensor = view?.name ?? "param"
                result.analytic = a
                result.numeric = n
            }
        }
        return result
    }

    /// conv (im2col: 3 filters) -> ReLU -> pool -> dense.
    public static let smallModelSpec = ModelSpec(
        name: "gradcheck", input: [8, 8, 1], classes: 3,
        layers: [
            .conv(3), .pool(), .flatten, .dense(5, activation: "relu"), .dense(3, activation: "softmax")
        ])

    /// Three fused conv blocks in training: conv (direct, C=1) -> ReLU -> pool (16x16 -> 14x14 -> 7x7),
    /// conv (winograd, with dX) -> ReLU (7x7 -> 5x5), and conv (winograd) -> ReLU -> pool (5x5 -> 3x3 -> 1x1,
    /// the last conv row and column uncovered), then dense.
    public static let fusedBlocksSpec = ModelSpec(
        name: "gradcheck-fused", input: [16, 16, 1], classes: 3,
        layers: [
            .conv(8), .pool(), .conv(8), .conv(16), .pool(), .flatten, .dense(3, activation: "softmax")
        ])

    /// conv (fused with ReLU) -> batch norm -> pool -> dense -> batch norm -> ReLU -> dense (no dropout: the
    /// loss is re-evaluated in training mode).
    public static let batchNormSpec = ModelSpec(
        name: "gradcheck-bn", input: [8, 8, 1], classes: 3,
        layers: [
            .conv(4), .batchNorm, .pool(), .flatten, .dense(5), .batchNorm, LayerSpec(type: "relu"), .dense(3, activation: "softmax")
        ])

    /// gamma and beta away from their initial 1 and 0.
    static func batchNormParameters(_ p: inout [Float]) {
        let c = p.count / 4
        for j in 0..<c {
            p[j] = 0.5 + 0.25 * Float(j)
            p[c + j] = 0.1 * Float(j) - 0.2
            p[2 * c + j] = 0.3
            p[3 * c + j] = 2
        }
    }

    /// A value in ±[0.2, 1.0): never near a ReLU kink.
    static func awayFromZero(_ rng: CounterRNG, _ i: Int, purpose: UInt32) -> Float {
        let w = rng.block(.sampling, purpose, UInt32(i))
        let magnitude = 0.2 + 0.8 * CounterRNG.unitFloat(w[0])
        return (w[1] & 1) == 0 ? magnitude : -magnitude
    }
}
