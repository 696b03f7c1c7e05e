// Training's records built the way a run directory holds them: from their JSON.
import Foundation
import Training

enum Fixtures {
    static func decode<T: Decodable>(_ type: T.Type, _ object: [String: Any]) -> T {
        try! JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: object))
    }

    static func epoch(
        _ epoch: Int, step: Int, trainLoss: Double = 1, trainAccuracy: Double = 0.5, valLoss: Double? = 1,
        valAccuracy: Double? = 0.5, learningRate: Double = 0.001, epochSeconds: Double = 1, imagesPerSecond: Double = 1
    ) -> EpochRecord {
        var o: [String: Any] = [
            "epoch": epoch, "step": step, "train_loss": trainLoss, "train_accuracy": trainAccuracy,
            "learning_rate": learningRate, "epoch_seconds": epochSeconds, "elapsed_seconds": Double(epoch),
            "images_per_second": imagesPerSecond
        ]
        if let valLoss { o["val_loss"] = valLoss }
        if let valAccuracy { o["val_accuracy"] = valAccuracy }
        return decode(EpochRecord.self, o)
    }

    static func summary(_ metrics: ClassificationMetrics, workers: Int) -> RunSummary {
        let enc = JSONEncoder()
        func obj<T: Encodable>(_ v: T) -> Any { try! JSONSerialization.jsonObject(with: enc.encode(v)) }
        return decode(
            RunSummary.self,
            [
                "model": "keras-example", "parameters": 10, "test_accuracy": metrics.accuracy, "test_loss": 0.3,
                "per_class": obj(PerClassSummary.rows(metrics)), "macro_avg": obj(metrics.macro), "weighted_avg": obj(metrics.weighted),
                "confusion_matrix": metrics.confusion, "epochs_run": 2, "best_epoch": 1, "stopped_early": false, "wall_seconds": 3.0,
                "train_images_per_second": 100.0, "weights_sha256": "abc", "seed": 1, "batch_size": 32, "micro_batch": 8, "threads": 1,
                "workers": workers, "recipe_hash": "r", "blas_core": "Zen", "data_dir": "/d"
            ])
    }
}

extension Fixtures {
    static func prediction(_ index: Int, label: Int, predicted: Int, confidence: Float) -> Prediction {
        decode(Prediction.self, ["index": index, "label": label, "predicted": predicted, "confidence": Double(confidence)])
    }
}
