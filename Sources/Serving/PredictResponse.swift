// The JSON answers of the server: predictions (one image, or a batch) and errors. Pure.
import Foundation
import MNISTData

public enum PredictResponse {
    struct Item: Encodable {
        var digit: Int
        var confidence: Float
        var probabilities: [Float]
        /// The 28x28 image the model saw, as a base64 greyscale PNG.
        var inputPNG: String
        enum CodingKeys: String, CodingKey { case digit, confidence, probabilities, inputPNG = "input_png" }
    }

    struct Single: Encodable {
        var item: Item
        var latencyMs: Double
        var model: String
        enum CodingKeys: String, CodingKey {
            case digit, confidence, probabilities, inputPNG = "input_png", latencyMs = "latency_ms", model
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(item.digit, forKey: .digit)
            try c.encode(item.confidence, forKey: .confidence)
            try c.encode(item.probabilities, forKey: .probabilities)
            try c.encode(item.inputPNG, forKey: .inputPNG)
            try c.encode(latencyMs, forKey: .latencyMs)
            try c.encode(model, forKey: .model)
        }
    }

    struct Batch: Encodable {
        var predictions: [Item]
        var count: Int
        var latencyMs: Double
        var model: String
        enum CodingKeys: String, CodingKey { case predictions, count, latencyMs = "latency_ms", model }
    }

    /// `{"digit", "confidence", "probabilities", "input_png", "latency_ms", "model"}` for one image,
    /// `{"predictions": [...], "count", "latency_ms", "model"}` for a batch.
    public static func json(_ predictions: [DigitPrediction], isBatch: Bool, latencyMs: Double, model: String) -> [UInt8] {
        let items = predictions.map {
            Item(
                digit: $0.digit, confidence: $0.confidence, probabilities: $0.probabilities,
                inputPNG: Data(PNG.encode(GrayImage(width: 28, height: 28, pixels: $0.input))).base64EncodedString())
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        if isBatch || items.count != 1 {
            data = try! encoder.encode(Batch(predictions: items, count: items.count, latencyMs: latencyMs, model: model))
        } else {
            data = try! encoder.encode(Single(item: items[0], latencyMs: latencyMs, model: model))
        }
        return Array(data)
    }

    /// `{"error": message}`.
    public static func error(_ message: String) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(["error": message]))
    }
}
