import Dispatch
import Foundation
import TensorKit
import XCTest

@testable import NeuralNet

/// The SIMD convolution kernels against the im2col + OpenBLAS reference, the SIMD pooling and dropout
/// paths against plain definitions, the fused conv blocks against the layers run one by one, and bitwise
/// determinism.
final class KernelTests: XCTestCase {
    /// |a - b| <= tolerance * max(1, |a|, |b|), element by element.
    func assertClose(
        _ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst: Float = 0
        var at = 0
        for i in 0..<min(a.count, b.count) {
            let e = abs(a[i] - b[i]) / max(1, abs(a[i]), abs(b[i]))
            if !(e <= worst) {
                worst = e
                at = i
            }
        }
        XCTAssertLessThanOrEqual(
            worst, tolerance, "\(what): worst at \(at): \(a.isEmpty ? 0 : a[at]) vs \(b.isEmpty ? 0 : b[at])",
            file: file, line: line)
    }

    func randoms(_ n: Int, _ rng: CounterRNG, stream: UInt32) -> [Float] {
        (0..<n).map { 2 * CounterRNG.unitFloat(rng.block(.sampling, stream, UInt32($0))[0]) - 1 }
    }

    /// Forward, then backward with dX and with dParameters pre-filled (backward must accumulate).
    func run(_ layer: any Layer, batch: Int, x: [Float], p: [Float], dY: [Float], dP0: [Float]) -> (y: [Float], dX: [Float], dP: [Float]) {
        var y = [Float](repeating: 0, count: batch * layer.outputShape.count)
        var dX = [Float](repeating: .nan, count: batch * layer.inputShape.count)
        var dP = dP0
        var scratch = [Float](repeating: .nan, count: max(layer.scratchCount(batch: batch), 1))
        let ctx = LayerContext(batch: batch, training: true, rng: CounterRNG(seed: 1), epoch: 0, sampleIDs: nil, layerIndex: 0)
        x.withUnsafeBufferPointer { x in
            p.withUnsafeBufferPointer { p in
                dY.withUnsafeBufferPointer { dY in
                    y.withUnsafeMutableBufferPointer { y in
                        dX.withUnsafeMutableBufferPointer { dX in
                            dP.withUnsafeMutableBufferPointer { dP in
                                scratch.withUnsafeMutableBufferPointer { s in
                                    layer.forward(
                                        x: x.baseAddress!, y: y.baseAddress!, parameters: p.baseAddress!, scratch: s.baseAddress!,
                                        context: ctx)
                                    layer.backward(
                                        x: x.baseAddress!, y: y.baseAddress!, dY: dY.baseAddress!, dX: dX.baseAddress!,
                                        parameters: p.baseAddress!, dParameters: dP.baseAddress!, scratch: s.baseAddress!, context: ctx)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, dX, dP)
    }

    /// The direct and (where it applies) Winograd convolutions against im2col + OpenBLAS.
    func testDirectAndWinogradConvolutionsMatchIm2colOnRandomShapes() {
        let rng = CounterRNG(seed: 2024)
        var tested = 0
        var winograd = 0
        for trial in 0..<80 {
            let w = rng.block(.sampling, 100, UInt32(trial))
            let kernel = [1, 2, 3, 3, 3, 5][Int(w[0] % 6)]
            let stride = w[1] % 3 == 0 ? 2 : 1
            let padding = Int(w[2] % 4) == 0 ? kernel / 2 + Int(w[2] / 4 % 2) : 0
            let channels = [1, 2, 3, 8, 16, 24, 32, 5][Int(w[3] % 8)]
            let filters = [8, 16, 24, 32, 40, 64][Int(w[0] / 8 % 6)]
            let height = kernel + Int(w[1] / 4 % 9)
            let width = kernel + Int(w[2] / 8 % 9)
            let batch = 1 + Int(w[3] / 8 % 3)
            let input = Shape3(height, width, channels)
            let direct = Conv2D(input: input, filters: filters, kernel: kernel, stride: stride, padding: padding, algorithm: .direct)
            let reference = Conv2D(input: input, filters: filters, kernel: kernel, stride: stride, padding: padding, algorithm: .im2col)
            let x = randoms(batch * input.count, rng, stream: UInt32(1000 + trial))
            let p = randoms(direct.parameterCount, rng, stream: UInt32(2000 + trial))
            let dY = randoms(batch * direct.outputShape.count, rng, stream: UInt32(3000 + trial))
            let dP0 = randoms(direct.parameterCount, rng, stream: UInt32(4000 + trial))
            let b = run(reference, batch: batch, x: x, p: p, dY: dY, dP0: dP0)
            let name = "conv \(input) k\(kernel) s\(stride) p\(padding) F\(filters) batch \(batch)"
            var candidates = [direct]
            if WinogradKernels.supports(direct.geometry) {
                candidates.append(Conv2D(input: input, filters: filters, kernel: kernel, algorithm: .winograd))
                winograd += 1
            }
            for layer in candidates {
                let a = run(layer, batch: batch, x: x, p: p, dY: dY, dP0: dP0)
                assertClose(a.y, b.y, "\(layer.algorithm) \(name) y")
                assertClose(a.dP, b.dP, "\(layer.algorithm) \(name) dW, db")
                assertClose(a.dX, b.dX, "\(layer.algorithm) \(name) dX")
            }
            tested += 1
        }
        XCTAssertEqual(tested, 80)
        // More Winograd shapes: odd and even sizes, batch 1-3, filter strips of 16 and 8.
        for trial in 0..<24 {
            let w = rng.block(.sampling, 200, UInt32(trial))
            let input = Shape3(3 + Int(w[0] % 12), 3 + Int(w[1] % 12), [8, 16, 24, 32][Int(w[2] % 4)])
            let filters = [8, 16, 24, 64][Int(w[3] % 4)]
            let batch = 1 + Int(w[0] / 16 % 3)
            let layer = Conv2D(input: input, filters: filters, kernel: 3, algorithm: .winograd)
            let reference = Conv2D(input: input, filters: filters, kernel: 3, algorithm: .im2col)
            let x = randoms(batch * input.count, rng, stream: UInt32(5000 + trial))
            let p = randoms(layer.parameterCount, rng, stream: UInt32(6000 + trial))
            let dY = randoms(batch * layer.outputShape.count, rng, stream: UInt32(7000 + trial))
            let dP0 = randoms(layer.parameterCount, rng, stream: UInt32(8000 + trial))
            let a = run(layer, batch: batch, x: x, p: p, dY: dY, dP0: dP0)
            let b = run(reference, batch: batch, x: x, p: p, dY: dY, dP0: dP0)
            let name = "winograd conv \(input) F\(filters) batch \(batch)"
            assertClose(a.y, b.y, "\(name) y")
            assertClose(a.dP, b.dP, "\(name) dW, db")
            assertClose(a.dX, b.dX, "\(name) dX")
            winograd += 1
        }
        XCTAssertGreaterThan(winograd, 24)
    }

    func testShapesPickTheExpectedConvolutionAlgorithm() {
        XCTAssertEqual(Conv2D(input: Shape3(28, 28, 1), filters: 32, kernel: 3).algorithm, .direct)
        XCTAssertEqual(Conv2D(input: Shape3(13, 13, 32), filters: 64, kernel: 3).algorithm, .winograd)
        XCTAssertEqual(Conv2D(input: Shape3(26, 26, 32), filters: 64, kernel: 3).algorithm, .winograd)
        XCTAssertEqual(Conv2D(input: Shape3(26, 26, 32), filters: 64, kernel: 3, padding: 1).algorithm, .direct)
        XCTAssertEqual(Conv2D(input: Shape3(26, 26, 32), filters: 64, kernel: 3, stride: 2).algorithm, .direct)
        XCTAssertEqual(Conv2D(input: Shape3(13, 13, 32), filters: 64, kernel: 5).algorithm, .direct)
        XCTAssertEqual(Conv2D(input: Shape3(13, 13, 32), filters: 10, kernel: 3).algorithm, .im2col)
        XCTAssertEqual(Conv2D(input: Shape3(7, 7, 32), filters: 64, kernel: 7).algorithm, .im2col)
    }

    /// The SIMD pooling paths (C % 8 == 0) against a plain reference.
    func testMaxPoolEightChannelPathsMatchAReference() {
        let rng = CounterRNG(seed: 5)
        for (trial, (shape, size, stride)) in [
            (Shape3(7, 6, 8), 2, 2), (Shape3(9, 9, 16), 3, 2), (Shape3(6, 6, 8), 3, 3),
            (Shape3(5, 7, 24), 2, 1)
        ].enumerated() {
            let pool = MaxPool2D(input: shape, size: size, stride: stride)
            let batch = 2
            let x = randoms(batch * shape.count, rng, stream: UInt32(50 + trial))
            let dY = randoms(batch * pool.outputShape.count, rng, stream: UInt32(60 + trial))
            let got = run(pool, batch: batch, x: x, p: [0], dY: dY, dP0: [0])
            var y = [Float](repeating: 0, count: dY.count)
            var dX = [Float](repeating: 0, count: x.count)
            let (oh, ow, c) = (pool.outputShape.height, pool.outputShape.width, shape.channels)
            for n in 0..<batch {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        for ch in 0..<c {
                            var best = -Float.infinity
                            var at = 0
                            for ky in 0..<size {
                                for kx in 0..<size {
                                    let i = ((n * shape.height + oy * stride + ky) * shape.width + ox * stride + kx) * c + ch
                                    if x[i] > best {
                                        best = x[i]
                                        at = i
                                    }
                                }
                            }
                            let o = ((n * oh + oy) * ow + ox) * c + ch
                            y[o] = best
                            dX[at] += dY[o]
                        }
                    }
                }
            }
            XCTAssertEqual(got.y, y, "pool \(shape) \(size)/\(stride) y")
            assertClose(got.dX, dX, tolerance: 1e-6, "pool \(shape) \(size)/\(stride) dX")
        }
    }

    func testDropoutMaskMatchesTheScalarDefinition() {
        let layer = Dropout(input: Shape3(1, 1, 77), rate: 0.3)
        let rng = CounterRNG(seed: 9)
        let x = randoms(2 * 77, rng, stream: 1)
        var y = [Float](repeating: 0, count: x.count)
        var mask = [Float](repeating: 0, count: x.count)
        let ids: [Int32] = [5, 1234]
        ids.withUnsafeBufferPointer { ids in
            let ctx = LayerContext(batch: 2, training: true, rng: rng, epoch: 3, sampleIDs: ids.baseAddress, layerIndex: 4)
            layer.forward(x: x, y: &y, parameters: [0], scratch: &mask, context: ctx)
        }
        let threshold = UInt32(Double(Float(0.3)) * 4_294_967_296.0)
        let stream = UInt32(3 * 256 + 4)
        for s in 0..<2 {
            for i in 0..<77 {
                let word = rng.block(.dropout, UInt32(ids[s]), stream, UInt32(i / 4))[i % 4]
                let m: Float = word >= threshold ? 1 / (1 - 0.3) : 0
                XCTAssertEqual(mask[s * 77 + i], m, "sample \(s) element \(i)")
                XCTAssertEqual(y[s * 77 + i], x[s * 77 + i] * m)
            }
        }
    }

    /// Gradients of one micro-batch: fused conv blocks (training) against every layer on its own.
    func testFusedConvBlocksMatchTheLayersRunOneByOne() throws {
        let specs = [
            GradientCheck.fusedBlocksSpec, .kerasExample, .pytorchExample,
            ModelSpec(
                name: "padded", input: [12, 12, 1], classes: 4,
                layers: [
                    .conv(8, padding: "same"), .pool(3), .conv(16, padding: "same"), .conv(24), .flatten, .dense(4)
                ])
        ]
        for spec in specs {
            let fused = try Sequential(spec: spec)
            let plain = Sequential(spec: spec, layers: fused.layers, fuse: false)
            XCTAssertFalse(fused.blocks.isEmpty, spec.name)
            XCTAssertTrue(plain.blocks.isEmpty)
            let params = fused.initialParameters(seed: 3)
            let batch = 3
            var results: [(loss: Double, logits: [Float], grad: [Float])] = []
            for model in [fused, plain] {
                let ws = Workspace(model: model, capacity: batch)
                let pixels = spec.input.reduce(1, *)
                for i in 0..<(batch * pixels) { ws.input[i] = CounterRNG.unitFloat(CounterRNG(seed: 4).block(.sampling, 0, UInt32(i))[0]) }
                for s in 0..<batch {
                    ws.labels[s] = UInt8(s % spec.classes)
                    ws.sampleIDs[s] = Int32(s * 11)
                }
                let r = params.withUnsafeBufferPointer {
                    model.trainMicroBatch(ws, batch: batch, rng: CounterRNG(seed: 5), epoch: 2, parameters: $0.baseAddress!)
                }
                let logits = Array(UnsafeBufferPointer(start: ws.activations[model.layers.count], count: batch * spec.classes))
                results.append((r.loss, logits, Array(UnsafeBufferPointer(start: ws.gradients, count: model.parameterCount))))
            }
            XCTAssertEqual(results[0].loss, results[1].loss, accuracy: 1e-9 * max(1, abs(results[1].loss)), spec.name)
            XCTAssertEqual(results[0].logits, results[1].logits, spec.name)
            assertClose(results[0].grad, results[1].grad, "\(spec.name) gradients")
        }
    }

    /// The same micro-batch gives the same gradient bits every time, in any workspace, on any thread.
    func testMicroBatchGradientsAreBitwiseReproducibleAcrossRunsAndThreads() throws {
        for spec in [ModelSpec.kerasExample, .pytorchExample] {
            let model = try Sequential(spec: spec)
            let params = model.initialParameters(seed: 8)
            let batch = 4
            @Sendable func gradient() -> [UInt32] {
                let ws = Workspace(model: model, capacity: batch)
                for i in 0..<(batch * 784) { ws.input[i] = CounterRNG.unitFloat(CounterRNG(seed: 6).block(.sampling, 0, UInt32(i))[0]) }
                for s in 0..<batch {
                    ws.labels[s] = UInt8(s)
                    ws.sampleIDs[s] = Int32(s)
                }
                var bits: [UInt32] = []
                for _ in 0..<2 {
                    _ = params.withUnsafeBufferPointer {
                        model.trainMicroBatch(ws, batch: batch, rng: CounterRNG(seed: 7), epoch: 1, parameters: $0.baseAddress!)
                    }
                    let g = UnsafeBufferPointer(start: ws.gradients, count: model.parameterCount).map(\.bitPattern)
                    if bits.isEmpty { bits = g } else { XCTAssertEqual(bits, g, "\(spec.name): second run in the same workspace") }
                }
                return bits
            }
            let here = gradient()
            final class Box: @unchecked Sendable { var bits: [UInt32] = [] }
            let there = Box()
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                there.bits = gradient()
                done.signal()
            }
            thread.start()
            done.wait()
            XCTAssertEqual(here, there.bits, "\(spec.name): another thread")
        }
    }
}
