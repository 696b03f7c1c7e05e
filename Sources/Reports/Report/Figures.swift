// The figures of the data and of a run, built from plain values (datasets, metrics records,
// predictions): PNG canvases for image grids, SVG strings for charts.
import Foundation
import MNISTData
import Training

public enum Figures {
    /// The first `count` images of `dataset` with their labels, `columns` per row.
    public static func sampleGrid(_ dataset: Dataset, count: Int = 60, columns: Int = 12, title: String? = nil) -> Canvas {
        let n = min(count, dataset.count)
        let size = dataset.imageSize
        let tiles = (0..<n).map { i in
            ImageGrid.Tile(pixels: dataset.images[i * size..<(i + 1) * size], caption: "\(dataset.labels[i])")
        }
        var layout = ImageGrid.Layout(columns: columns, side: dataset.rows, scale: 2, title: title)
        layout.frame = 1
        return ImageGrid.render(tiles, layout: layout)
    }

    /// Images per class in the training and test sets, side by side.
    public static func classBalance(train: [Int], test: [Int]) -> String {
        let classes = max(train.count, test.count)
        var chart = BarChart(
            title: "Class distribution", xLabel: "class", yLabel: "images",
            categories: (0..<classes).map(String.init),
            series: [
                .init(name: "train (\(train.reduce(0, +)))", color: Palette.color(0), values: train.map(Double.init)),
                .init(name: "test (\(test.reduce(0, +)))", color: Palette.color(1), values: test.map(Double.init))
            ])
        chart.width = 720
        return chart.svg()
    }

    /// Early-stopping markers for learning curves: the best epoch, and where training stopped.
    public static func markers(bestEpoch: Int?, stoppedEarly: Bool, epochsRun: Int) -> [LineChart.Marker] {
        var m: [LineChart.Marker] = []
        if let b = bestEpoch, b > 0 { m.append(.init(x: Double(b), label: "best epoch \(b)", color: "#2a9d3f")) }
        if stoppedEarly { m.append(.init(x: Double(epochsRun), label: "early stop (epoch \(epochsRun))", color: "#c0392b")) }
        return m
    }

    /// Loss per epoch: train, validation and (when recorded) test.
    public static func lossCurves(_ history: [EpochRecord], markers: [LineChart.Marker]) -> String {
        curves(
            history, title: "Loss per epoch", yLabel: "cross-entropy loss", markers: markers,
            [("train", { $0.trainLoss }), ("validation", { $0.valLoss }), ("test", { $0.testLoss })], yRange: nil)
    }

    /// Accuracy per epoch: train, validation and (when recorded) test.
    public static func accuracyCurves(_ history: [EpochRecord], markers: [LineChart.Marker]) -> String {
        curves(
            history, title: "Accuracy per epoch", yLabel: "accuracy", markers: markers,
            [("train", { $0.trainAccuracy }), ("validation", { $0.valAccuracy }), ("test", { $0.testAccuracy })], yRange: nil)
    }

    static func curves(
        _ history: [EpochRecord], title: String, yLabel: String, markers: [LineChart.Marker],
        _ fields: [(String, (EpochRecord) -> Double?)], yRange: ClosedRange<Double>?
    ) -> String {
        var series: [LineChart.Series] = []
        for (i, (name, value)) in fields.enumerated() {
            let points = history.compactMap { r in value(r).map { (x: Double(r.epoch), y: $0) } }
            if !points.isEmpty { series.append(.init(name: name, color: Palette.color(i), points: points, dashed: name == "test")) }
        }
        var chart = LineChart(title: title, xLabel: "epoch", yLabel: yLabel, series: series)
        chart.markers = markers
        chart.integerX = true
        chart.yRange = yRange
        return chart.svg()
    }

    /// The confusion matrix with counts (rows: true class, columns: predicted).
    public static func confusion(_ matrix: [[Int]]) -> String {
        let labels = matrix.indices.map(String.init)
        return Heatmap(
            title: "Confusion matrix (test set)", rowLabels: labels, columnLabels: labels, values: matrix,
            xLabel: "predicted class", yLabel: "true class"
        ).svg()
    }

    static func percent(_ c: Float) -> String {
        c >= 0.9995 ? "100%" : String(format: "%.1f%%", 100 * c)
    }

    /// Test images with the predicted digit and its confidence, framed green when right, red when wrong.
    public static func predictionGrid(_ dataset: Dataset, _ predictions: [Prediction], count: Int = 60, columns: Int = 12) -> Canvas {
        let size = dataset.imageSize
        let tiles = predictions.prefix(count).map { p in
            ImageGrid.Tile(
                pixels: dataset.images[p.index * size..<(p.index + 1) * size], caption: "\(p.predicted) \(percent(p.confidence))",
                captionColor: p.predicted == p.label ? .correct : .wrong, frame: p.predicted == p.label ? .correct : .wrong)
        }
        return ImageGrid.render(tiles, layout: ImageGrid.Layout(columns: columns, side: dataset.rows, scale: 2))
    }

    /// Wrong predictions, most confident first.
    public static func confidentMistakes(_ predictions: [Prediction], count: Int) -> [Prediction] {
        Array(
            predictions.filter { $0.predicted != $0.label }
                .sorted { $0.confidence != $1.confidence ? $0.confidence > $1.confidence : $0.index < $1.index }.prefix(count))
    }

    /// The most confident mistakes: "T4 P9" (true 4, predicted 9) and the confidence.
    public static func mistakeGrid(_ dataset: Dataset, _ mistakes: [Prediction], columns: Int = 10) -> Canvas {
        let size = dataset.imageSize
        let tiles = mistakes.map { p in
            ImageGrid.Tile(
                pixels: dataset.images[p.index * size..<(p.index + 1) * size],
                caption: "\(p.label)>\(p.predicted) \(percent(p.confidence))", captionColor: .wrong, frame: .wrong)
        }
        var layout = ImageGrid.Layout(columns: columns, side: dataset.rows, scale: 2)
        layout.gap = 14
        return ImageGrid.render(tiles, layout: layout)
    }

    /// Images per second of each worker over the run (cluster runs).
    public static func workerThroughput(_ records: [WorkerThroughputRecord]) -> String {
        let t0 = records.map(\.wallTime).min() ?? 0
        let ids = Array(Set(records.map(\.worker))).sorted()
        let series = ids.enumerated().map { i, id -> LineChart.Series in
            let rs = records.filter { $0.worker == id }.sorted { $0.wallTime < $1.wallTime }
            return .init(
                name: "worker \(id) (\(rs.first?.name ?? ""))", color: Palette.color(i),
                points: rs.map { ($0.wallTime - t0, $0.imagesPerSecond) })
        }
        var chart = LineChart(
            title: "Throughput per worker", xLabel: "seconds since the first sample", yLabel: "images / s", series: series)
        chart.showPoints = records.count <= 200
        let top = (records.map(\.imagesPerSecond).max() ?? 1) * 1.1
        chart.yRange = 0...max(top, 1)
        chart.width = 640
        return chart.svg()
    }
}
