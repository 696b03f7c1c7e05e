// Tests of inference: the server's answers equal the Evaluator's on the same preprocessed input,
// the JSON answer round-trips, and concurrent requests give the same bits as serial ones.
import Foundation
import XCTest
import MNISTData
import NeuralNet
import Training
@testable import Serving

final class PredictorTests: XCTestCase {
    private func predictor() throws -> Predictor {
        let model = try Sequential(spec: .kerasExample)
        let file = try ModelFile(spec: .kerasExample, normalization: .mnistStandard, weights: model.initialParameters(seed: 7), metadata: [:])
        return try Predictor(file: file, model: model)
    }

    /// A few distinct images of different sizes and polarities.
    private func images() -> [GrayImage] {
        (0..<6).map { k in
            let side = 28 + 20 * k
            var pixels = [UInt8](repeating: k % 2 == 0 ? 0 : 255, count: side * side)
            for y in (side / 5)..<(side * 4 / 5) { for x in (side / 3 + k)..<(side / 2 + 2 * k) { pixels[y * side + x] = k % 2 == 0 ? 255 : 0 } }
            return GrayImage(width: side, height: side, pixels: pixels)
        }
    }

    func testPredictionsMatchTheEvaluator() throws {
        let p = try predictor()
        let imgs = images()
        let predictions = p.predict(imgs)
        let reference = Evaluator.probabilities(model: p.model, parameters: p.weights, images: imgs.map(DigitPreprocessor.prepare),
                                                normalization: .mnistStandard)
        XCTAssertEqual(predictions.count, imgs.count)
        for (prediction, expected) in zip(predictions, reference) {
            XCTAssertEqual(prediction.probabilities, expected)
            XCTAssertEqual(prediction.probabilities.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertEqual(prediction.digit, expected.indices.max { expected[$0] < expected[$1] })
            XCTAssertEqual(prediction.confidence, expected[prediction.digit])
        }
        XCTAssertEqual(predictions[0].input, DigitPreprocessor.prepare(imgs[0]))
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
        let single = try JSONSerialization.jsonObject(with: Data(PredictResponse.json([predictions[0]], isBatch: false, latencyMs: 1.5, model: p.name))) as! [String: Any]
        XCTAssertEqual(single["digit"] as? Int, predictions[0].digit)
        XCTAssertEqual((single["probabilities"] as? [Double])?.count, 10)
        XCTAssertEqual(single["latency_ms"] as? Double, 1.5)
        XCTAssertEqual(single["model"] as? String, "keras-example")
        let png = try XCTUnwrap(Data(base64Encoded: single["input_png"] as! String))
        XCTAssertEqual(try PNG.decodeGray(Array(png), path: "input_png").pixels, predictions[0].input, "input_png is the 28x28 the model saw")

        let batch = try JSONSerialization.jsonObject(with: Data(PredictResponse.json(predictions, isBatch: true, latencyMs: 2, model: p.name))) as! [String: Any]
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
    func set(_ i: Int, _ value: DigitPrediction) { lock.lock(); values[i] = value; lock.unlock() }
    func get(_ i: Int) -> DigitPrediction? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
