// Tests of inference: the server's answers equal answers computed without Digits' network code
// (by hand for a one-layer model, by a naive Double forward pass for keras-example), the JSON
// answer round-trips, and concurrent requests give the same bits as serial ones.
import Foundation
import MNISTData
import NeuralNet
import Training
import XCTest

@testable import Serving

final class PredictorTests: XCTestCase {
    private func predictor() throws -> Predictor {
        let model = try Sequential(spec: .kerasExample)
        let file = try ModelFile(
            spec: .kerasExample, normalization: .mnistStandard, weights: model.initialParameters(seed: 7), metadata: [:])
        return try Predictor(file: file, model: model)
    }

    /// A few distinct images of different sizes and polarities.
    private func images() -> [GrayImage] {
        (0..<6).map { k in
            let side = 28 + 20 * k
            var pixels = [UInt8](repeating: k % 2 == 0 ? 0 : 255, count: side * side)
            for y in (side / 5)..<(side * 4 / 5) {
                for x in (side / 3 + k)..<(side / 2 + 2 * k) { pixels[y * side + x] = k % 2 == 0 ? 255 : 0 }
            }
            return GrayImage(width: side, height: side, pixels: pixels)
        }
    }

    /// One dense layer from the 28x28 input to 2 classes, unit normalisation (x = byte / 255), with
    /// weights chosen so the answer can be worked out on paper: class 0's logit is always 0; class 1's
    /// is ln 3 - 1 + (ink in the top 14 rows) / 4 - (ink in the bottom 14 rows) / 4, ink counted in
    /// full-white pixels.
    func testAOneLayerModelGivesTheHandComputedProbabilities() throws {
        let spec = ModelSpec(name: "by-hand", classes: 2, layers: [.dense(2, activation: "softmax")])
        var weights = [Float](repeating: 0, count: 784 * 2 + 2)
        for p in 0..<784 { weights[p * 2 + 1] = p < 14 * 28 ? 0.25 : -0.25 }  // kernel [784][2]
        weights[784 * 2 + 1] = Float(log(3.0) - 1)  // bias of class 1
        let predictor = try Predictor(
            file: ModelFile(spec: spec, normalization: .unit, weights: weights, metadata: [:]), model: try Sequential(spec: spec))

        func image(background: UInt8, ink: UInt8, at pixels: [Int]) -> GrayImage {
            var bytes = [UInt8](repeating: background, count: 784)
            for p in pixels { bytes[p] = ink }
            return GrayImage(width: 28, height: 28, pixels: bytes)
        }
        let top = [3 * 28 + 5, 3 * 28 + 6, 10 * 28 + 20, 13 * 28 + 27]
        let bottom = [14 * 28, 20 * 28 + 14, 20 * 28 + 15, 27 * 28 + 27]
        let e = M_E
        let cases: [(what: String, image: GrayImage, p1: Double)] = [
            // logit ln 3 - 1: p1 = 3 / (e + 3) = 0.52463
            ("blank", image(background: 0, ink: 0, at: []), 3 / (e + 3)),
            // logit ln 3: p1 = 3 / 4
            ("4 white pixels on top", image(background: 0, ink: 255, at: top), 0.75),
            // logit ln 3 - 2: p1 = 3 / (e^2 + 3) = 0.28878
            ("4 white pixels at the bottom", image(background: 0, ink: 255, at: bottom), 3 / (e * e + 3)),
            // dark ink on light paper is inverted first: the same as white ink on black
            ("4 black pixels at the bottom of a white page", image(background: 255, ink: 0, at: bottom), 3 / (e * e + 3)),
            // all 8: logit ln 3 - 1 again
            ("4 white pixels on top and 4 at the bottom", image(background: 0, ink: 255, at: top + bottom), 3 / (e + 3))
        ]
        let predictions = predictor.predict(cases.map(\.image))
        XCTAssertEqual(predictions.count, cases.count)
        for (c, prediction) in zip(cases, predictions) {
            XCTAssertEqual(prediction.probabilities.count, 2, c.what)
            XCTAssertEqual(Double(prediction.probabilities[1]), c.p1, accuracy: 1e-6, c.what)
            XCTAssertEqual(Double(prediction.probabilities[0]), 1 - c.p1, accuracy: 1e-6, c.what)
            XCTAssertEqual(prediction.digit, c.p1 > 0.5 ? 1 : 0, c.what)
            XCTAssertEqual(Double(prediction.confidence), max(c.p1, 1 - c.p1), accuracy: 1e-6, c.what)
            XCTAssertEqual(
                prediction.input, c.what.contains("white page") ? cases[2].image.pixels : c.image.pixels,
                "\(c.what): a 28x28 light-on-dark image reaches the model unchanged")
        }
    }

    /// keras-example's forward pass written out naively in Double from the spec and the Keras weight
    /// layout (conv kernel [kh][kw][in][out] then bias; dense kernel [in][out] then bias), without any
    /// of Digits' kernels: x = (byte / 255 - mean) / std, valid 3x3 convolutions with ReLU, 2x2 max
    /// pooling, NHWC flatten, dense, softmax.
    static func naiveForward(_ image: [UInt8], spec: ModelSpec, weights: [Float], normalization: Normalization) -> [Double] {
        var (h, w, c) = (spec.input[0], spec.input[1], spec.input[2])
        var x = image.map { (Double($0) / 255 - Double(normalization.mean)) / Double(normalization.std) }  // [h][w][c]
        var offset = 0
        func weight(_ i: Int) -> Double { Double(weights[offset + i]) }
        for layer in spec.layers {
            switch layer.type {
            case "conv2d":
                let k = layer.kernel ?? 3
                let f = layer.filters!
                precondition((layer.stride ?? 1) == 1 && (layer.padding ?? "valid") == "valid", "naive conv: valid, stride 1 only")
                let (oh, ow) = (h - k + 1, w - k + 1)
                var y = [Double](repeating: 0, count: oh * ow * f)
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        for o in 0..<f {
                            var sum = weight(k * k * c * f + o)  // bias
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    for i in 0..<c {
                                        sum += x[((oy + ky) * w + ox + kx) * c + i] * weight(((ky * k + kx) * c + i) * f + o)
                                    }
                                }
                            }
                            y[(oy * ow + ox) * f + o] = layer.activation == "relu" ? max(sum, 0) : sum
                        }
                    }
                }
                offset += k * k * c * f + f
                (x, h, w, c) = (y, oh, ow, f)
            case "maxpool2d":
                let s = layer.size ?? 2
                let (oh, ow) = (h / s, w / s)
                var y = [Double](repeating: -.infinity, count: oh * ow * c)
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        for i in 0..<c {
                            for dy in 0..<s {
                                for dx in 0..<s {
                                    y[(oy * ow + ox) * c + i] = max(y[(oy * ow + ox) * c + i], x[((oy * s + dy) * w + ox * s + dx) * c + i])
                                }
                            }
                        }
                    }
                }
                (x, h, w) = (y, oh, ow)
            case "flatten", "dropout":
                break  // NHWC order is already the flat order; dropout is the identity at inference
            case "dense":
                let units = layer.units!
                let inputs = x.count
                var y = [Double](repeating: 0, count: units)
                for o in 0..<units {
                    var sum = weight(inputs * units + o)
                    for i in 0..<inputs { sum += x[i] * weight(i * units + o) }
                    y[o] = layer.activation == "relu" ? max(sum, 0) : sum
                }
                offset += inputs * units + units
                (x, h, w, c) = (y, 1, 1, units)
            default:
                preconditionFailure("naive forward: no \(layer.type)")
            }
        }
        precondition(offset == weights.count, "naive forward used \(offset) of \(weights.count) weights")
        let top = x.max()!
        let exps = x.map { exp($0 - top) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }

    func testKerasExamplePredictionsMatchANaiveForwardPass() throws {
        let p = try predictor()
        let imgs = images()
        let predictions = p.predict(imgs)
        XCTAssertEqual(predictions.count, imgs.count)
        var naive: [[UInt8]: [Double]] = [:]  // some sizes preprocess to the same 28x28
        for (k, (image, prediction)) in zip(imgs, predictions).enumerated() {
            XCTAssertEqual(prediction.input, DigitPreprocessor.prepare(image), "image \(k): the 28x28 the model saw")
            let expected =
                naive[prediction.input]
                ?? Self.naiveForward(
                    prediction.input, spec: .kerasExample, weights: p.weights,
                    normalization: .mnistStandard)
            naive[prediction.input] = expected
            XCTAssertEqual(prediction.probabilities.count, 10)
            let worst = zip(prediction.probabilities, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            XCTAssertLessThan(worst, 1e-5, "image \(k): Digits \(prediction.probabilities) vs naive \(expected)")
            XCTAssertEqual(prediction.probabilities.reduce(0, +), 1, accuracy: 1e-5)
            // The digit is the most probable class (ties within rounding may go either way).
            XCTAssertGreaterThanOrEqual(
                expected[prediction.digit], expected.max()! - 1e-5, "image \(k): digit \(prediction.digit), naive \(expected)")
            XCTAssertEqual(prediction.confidence, prediction.probabilities[prediction.digit])
        }
        // Different inputs get different answers: the check is not on a constant output.
        XCTAssertGreaterThan(naive.count, 1)
        XCTAssertEqual(Set(predictions.map(\.probabilities)).count, naive.count)
    }

    func testConcurrentPredictionsEqualSerialOnes() throws {
        let p = try predictor()
        let imgs = images()
        let serial = imgs.map { p.predict([$0])[0] }
        let results = ResultsBox(count: 48)
        DispatchQueue.concurrentPerform(iterations: 48) { i in
            results.set(i, p.predict([imgs[i % imgs.count]])[0])
        }
        for i in 0..<48 { XCTAssertEqual(results.get(i), serial[i % imgs.count], "request \(i)") }
    }

    func testResponseJSON() throws {
        let p = try predictor()
        let predictions = p.predict(Array(images().prefix(2)))
        let single =
            try JSONSerialization.jsonObject(
                with: Data(PredictResponse.json([predictions[0]], isBatch: false, latencyMs: 1.5, model: p.name))) as! [String: Any]
        XCTAssertEqual(single["digit"] as? Int, predictions[0].digit)
        XCTAssertEqual((single["probabilities"] as? [Double])?.count, 10)
        XCTAssertEqual(single["latency_ms"] as? Double, 1.5)
        XCTAssertEqual(single["model"] as? String, "keras-example")
        let png = try XCTUnwrap(Data(base64Encoded: single["input_png"] as! String))
        XCTAssertEqual(
            try PNG.decodeGray(Array(png), path: "input_png").pixels, predictions[0].input, "input_png is the 28x28 the model saw")

        let batch =
            try JSONSerialization.jsonObject(with: Data(PredictResponse.json(predictions, isBatch: true, latencyMs: 2, model: p.name)))
            as! [String: Any]
        XCTAssertEqual(batch["count"] as? Int, 2)
        let items = try XCTUnwrap(batch["predictions"] as? [[String: Any]])
        XCTAssertEqual(items.map { $0["digit"] as? Int }, predictions.map(\.digit))

        let error = try JSONSerialization.jsonObject(with: Data(PredictResponse.error("bad \"input\""))) as! [String: Any]
        XCTAssertEqual(error as? [String: String], ["error": "bad \"input\""])
    }
}

private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [DigitPrediction?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: DigitPrediction) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }
    func get(_ i: Int) -> DigitPrediction? {
        lock.lock()
        defer { lock.unlock() }
        return values[i]
    }
}
