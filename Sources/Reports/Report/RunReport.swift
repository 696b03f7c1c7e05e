// `digits report`: one self-contained HTML page per run (runs/NAME/report/index.html) with its
// figures as files beside it: learning curves with the best epoch and early stop marked, the
// confusion matrix, per-class precision/recall/F1, test predictions, the most confident
// mistakes, the data, per-worker throughput for cluster runs, config, checksums and timings.
// Loading and writing are separate from rendering, which is pure.
import Foundation
import MNISTData
import Training

public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The files of a finished run that the report reads.
public struct RunFiles {
    public var path: String
    public var summary: RunSummary
    public var history: [EpochRecord]
    /// config.json as written (nil if absent).
    public var configJSON: String?
    public var workers: [WorkerThroughputRecord]
    /// Lines of workers.jsonl that could not be read (an append cut short when a coordinator was killed).
    public var skippedWorkerLines = 0
    /// Event files under tensorboard/.
    public var tensorboardFiles: [String]

    public init(
        path: String, summary: RunSummary, history: [EpochRecord], configJSON: String?, workers: [WorkerThroughputRecord],
        tensorboardFiles: [String]
    ) {
        self.path = path
        self.summary = summary
        self.history = history
        self.configJSON = configJSON
        self.workers = workers
        self.tensorboardFiles = tensorboardFiles
    }

    /// Reads summary.json, metrics.jsonl and the optional config.json, workers.jsonl.
    /// - Throws: `ReportError` naming the file and what is wrong with it.
    public static func load(_ path: String) throws -> RunFiles {
        let run = RunDirectory(path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw ReportError("\(path): no such run directory")
        }
        guard let summaryData = FileManager.default.contents(atPath: run.summary) else {
            throw ReportError("\(run.summary): missing; expected the summary.json of a finished run (train or cluster)")
        }
        let summary: RunSummary
        do { summary = try JSONDecoder().decode(RunSummary.self, from: summaryData) } catch {
            throw ReportError("\(run.summary): not a Digits run summary (\(Self.reason(error)))")
        }
        guard let metricsData = FileManager.default.contents(atPath: run.metrics) else {
            throw ReportError("\(run.metrics): missing; expected one JSON line per epoch")
        }
        let history = try jsonLines(EpochRecord.self, metricsData, path: run.metrics, skipBadLines: false).records
        let config = FileManager.default.contents(atPath: run.config).map { String(decoding: $0, as: UTF8.self) }
        var workers: [WorkerThroughputRecord] = []
        var skipped = 0
        if let w = FileManager.default.contents(atPath: path + "/workers.jsonl") {
            // An append log: a killed coordinator may leave a cut line, which is skipped (and counted).
            (workers, skipped) = try jsonLines(WorkerThroughputRecord.self, w, path: path + "/workers.jsonl", skipBadLines: true)
        }
        let tb = ((try? FileManager.default.contentsOfDirectory(atPath: path + "/tensorboard")) ?? []).filter { $0.contains("tfevents") }
            .sorted()
        var files = RunFiles(path: path, summary: summary, history: history, configJSON: config, workers: workers, tensorboardFiles: tb)
        files.skippedWorkerLines = skipped
        return files
    }

    static func jsonLines<T: Decodable>(_ type: T.Type, _ data: Data, path: String, skipBadLines: Bool) throws -> (
        records: [T], skipped: Int
    ) {
        var out: [T] = []
        var skipped = 0
        for (i, line) in data.split(separator: 0x0a).enumerated() where !line.allSatisfy({ $0 == 0x20 || $0 == 0x0d }) {
            do { out.append(try JSONDecoder().decode(T.self, from: Data(line))) } catch {
                if skipBadLines {
                    skipped += 1
                    continue
                }
                throw ReportError("\(path): line \(i + 1) is not a valid record (\(reason(error)))")
            }
        }
        return (out, skipped)
    }

    static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing key \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "wrong type at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }
}

/// Everything a report shows, already computed.
public struct ReportInputs {
    public var run: RunFiles
    public var train: Dataset
    public var test: Dataset
    public var dataDirectory: String
    public var checksums: [ChecksumStatus]
    /// Test-set predictions of the saved model, in test-set order.
    public var predictions: [Prediction]
    public var metrics: ClassificationMetrics
    public var modelName: String
    public var modelWeightsSHA256: String
    public var generated: Date

    public init(
        run: RunFiles, train: Dataset, test: Dataset, dataDirectory: String, checksums: [ChecksumStatus], predictions: [Prediction],
        metrics: ClassificationMetrics, modelName: String, modelWeightsSHA256: String, generated: Date = Date()
    ) {
        self.run = run
        self.train = train
        self.test = test
        self.dataDirectory = dataDirectory
        self.checksums = checksums
        self.predictions = predictions
        self.metrics = metrics
        self.modelName = modelName
        self.modelWeightsSHA256 = modelWeightsSHA256
        self.generated = generated
    }
}

public enum RunReport {
    public struct File {
        public var name: String
        public var bytes: [UInt8]
    }

    /// Every file of the report: figures/... and index.html (last).
    public static func render(_ r: ReportInputs) -> [File] {
        var files: [File] = []
        func add(_ name: String, _ text: String) { files.append(File(name: name, bytes: Array(text.utf8))) }
        let s = r.run.summary
        let markers = Figures.markers(bestEpoch: s.bestEpoch, stoppedEarly: s.stoppedEarly, epochsRun: s.epochsRun)
        add("figures/loss.svg", Figures.lossCurves(r.run.history, markers: markers))
        add("figures/accuracy.svg", Figures.accuracyCurves(r.run.history, markers: markers))
        add("figures/confusion.svg", Figures.confusion(r.metrics.confusion))
        add("figures/class-balance.svg", Figures.classBalance(train: r.train.classCounts(), test: r.test.classCounts()))
        files.append(File(name: "figures/samples.png", bytes: Figures.sampleGrid(r.train, count: 48, columns: 12).png))
        files.append(
            File(name: "figures/predictions.png", bytes: Figures.predictionGrid(r.test, r.predictions, count: 60, columns: 12).png))
        let mistakes = Figures.confidentMistakes(r.predictions, count: 30)
        if !mistakes.isEmpty {
            files.append(File(name: "figures/mistakes.png", bytes: Figures.mistakeGrid(r.test, mistakes, columns: 10).png))
        }
        if !r.run.workers.isEmpty { add("figures/workers.svg", Figures.workerThroughput(r.run.workers)) }
        add("index.html", html(r, mistakes: mistakes))
        return files
    }

    /// Writes the rendered files into `directory` (created; files replaced one by one).
    public static func write(_ files: [File], to directory: String) throws {
        for f in files {
            let path = directory + "/" + f.name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try SealedFile.writeAtomically(f.bytes, to: path)
        }
    }

    static func f4(_ x: Double) -> String { String(format: "%.4f", x) }
    static func opt(_ x: Double?, _ format: String = "%.4f") -> String { x.map { String(format: format, $0) } ?? "-" }

    static func figure(_ src: String, alt: String, caption: String) -> String {
        "<figure><img src=\"\(HTML.escape(src))\" alt=\"\(HTML.escape(alt))\"><figcaption>\(HTML.escape(caption))</figcaption></figure>\n"
    }

    static func html(_ r: ReportInputs, mistakes: [Prediction]) -> String {
        let s = r.run.summary
        let name = (r.run.path as NSString).lastPathComponent
        let m = r.metrics
        var b = ""
        b += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        b += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        b += "<title>Digits report: \(HTML.escape(name))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n"
        b += "<header><h1>Run <code>\(HTML.escape(name))</code></h1>\n"
        b +=
            """
            <p>\(HTML.escape(s.model)) (\(s.parameters) parameters), seed \(s.seed), batch \(s.batchSize) in micro-batches of \
            \(s.microBatch), 
            """
        b += s.workers > 1 || !r.run.workers.isEmpty ? "\(s.workers) worker(s)" : "\(s.threads) thread(s)"
        b += ". Report generated \(HTML.escape(ISO8601DateFormatter().string(from: r.generated))).</p></header>\n"

        // Headline numbers.
        b += "<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">\n"
        let cards: [(String, String)] = [
            ("test accuracy", String(format: "%.2f%%", 100 * s.testAccuracy)), ("test loss", f4(s.testLoss)),
            ("epochs", "\(s.epochsRun)\(s.stoppedEarly ? " (stopped early)" : "")"), ("best epoch", s.bestEpoch.map(String.init) ?? "-"),
            ("wall time", String(format: "%.1f s", s.wallSeconds)), ("to 99% test accuracy", opt(s.secondsTo99, "%.1f s")),
            ("training images/s", String(format: "%.0f", s.trainImagesPerSecond))
        ]
        for (k, v) in cards {
            b += "<div class=\"card\"><div class=\"v\">\(HTML.escape(v))</div><div class=\"k\">\(HTML.escape(k))</div></div>\n"
        }
        b += "</div>\n"
        let agree = abs(m.accuracy - s.testAccuracy) < 1e-9
        b += "<p id=\"evaluation\">The saved model, evaluated again for this report on \(m.total) test images: accuracy "
        b += "\(String(format: "%.4f", m.accuracy)), loss \(f4(m.meanLoss))"
        b +=
            agree
            ? " (as in summary.json).</p>\n"
            : " <strong class=\"warn\">(summary.json says \(f4(s.testAccuracy)): the model file and the summary disagree)</strong>.</p>\n"
        b += "</section>\n"

        b += "<section id=\"curves\"><h2>Learning curves</h2>\n<div class=\"row\">\n"
        b += figure(
            "figures/loss.svg", alt: "loss per epoch",
            caption: "Loss per epoch (metrics.jsonl). Dashed green: best epoch; dashed red: where early stopping ended training.")
        b += figure("figures/accuracy.svg", alt: "accuracy per epoch", caption: "Accuracy per epoch.")
        b += "</div></section>\n"

        b += "<section id=\"classes\"><h2>Per-class results</h2>\n<div class=\"row\">\n"
        b += figure(
            "figures/confusion.svg", alt: "confusion matrix",
            caption: "Rows: true class; columns: predicted class. Blue: correct; red: mistakes.")
        var rows = m.perClass.enumerated().map { i, c in ["\(i)", f4(c.precision), f4(c.recall), f4(c.f1), "\(c.support)"] }
        rows.append(["macro avg", f4(m.macro.precision), f4(m.macro.recall), f4(m.macro.f1), "\(m.macro.support)"])
        rows.append(["weighted avg", f4(m.weighted.precision), f4(m.weighted.recall), f4(m.weighted.f1), "\(m.weighted.support)"])
        b +=
            "<div>"
            + HTML.table(headers: ["class", "precision", "recall", "F1", "support"], rows: rows, numeric: [1, 2, 3, 4], id: "per-class")
        let top = m.topConfusions(5)
        if !top.isEmpty {
            b +=
                "<p>Most frequent confusions: " + top.map { "\($0.label) → \($0.predicted) (\($0.count))" }.joined(separator: ", ")
                + ".</p>"
        }
        b += "</div></div></section>\n"

        b += "<section id=\"predictions\"><h2>Test predictions</h2>\n"
        b += figure(
            "figures/predictions.png", alt: "test predictions",
            caption:
                """
                The first \(min(60, r.predictions.count)) test images: predicted digit and its confidence; green frame = correct, red \
                = wrong.
                """
        )
        if mistakes.isEmpty {
            b += "<p>No mistakes on the test set.</p>\n"
        } else {
            b += figure(
                "figures/mistakes.png", alt: "most confident mistakes",
                caption: "The \(mistakes.count) most confident mistakes: true > predicted, and the confidence in the wrong answer.")
        }
        b += "</section>\n"

        if !r.run.workers.isEmpty {
            let names = Set(r.run.workers.map(\.worker)).count
            b += "<section id=\"workers\"><h2>Cluster workers</h2>\n"
            b += figure(
                "figures/workers.svg", alt: "throughput per worker",
                caption: "Images per second of each of the \(names) worker(s), from their heartbeats (workers.jsonl)."
                    + (r.run.skippedWorkerLines > 0 ? " \(r.run.skippedWorkerLines) unreadable line(s) of workers.jsonl skipped." : ""))
            b += "</section>\n"
        }

        b += "<section id=\"epochs\"><h2>Epochs and timings</h2>\n"
        b += HTML.table(
            headers: [
                "epoch", "step", "train loss", "train acc", "val loss", "val acc", "test loss", "test acc", "images/s", "epoch s",
                "elapsed s"
            ],
            rows: r.run.history.map { e in
                [
                    "\(e.epoch)\(e.epoch == s.bestEpoch ? " (best)" : "")", "\(e.step)", f4(e.trainLoss), f4(e.trainAccuracy),
                    opt(e.valLoss),
                    opt(e.valAccuracy), opt(e.testLoss), opt(e.testAccuracy), String(format: "%.0f", e.imagesPerSecond),
                    String(format: "%.1f", e.epochSeconds), String(format: "%.1f", e.elapsedSeconds)
                ]
            }, numeric: Set(1...10), id: "epoch-table")
        b += "</section>\n"

        b +=
            """
            <section id=\"data\"><h2>Data</h2>\n<p>\(r.train.count) training and \(r.test.count) test images from \
            <code>\(HTML.escape(r.dataDirectory))</code>.</p>\n<div class=\"row\">\n
            """
        b += figure("figures/class-balance.svg", alt: "class distribution", caption: "Images per class, training and test set.")
        b += figure("figures/samples.png", alt: "training samples", caption: "The first 48 training images with their labels.")
        b += "</div>\n<h3>Checksums (SHA-256 of the decompressed files)</h3>\n"
        b += HTML.table(
            headers: ["file", "SHA-256", "status"],
            rows: r.checksums.map { c in
                [
                    c.file, c.actual,
                    c.ok.map { $0 ? "ok (matches the published MNIST file)" : "MISMATCH (expected \(c.expected ?? "?"))" } ?? "no reference"
                ]
            }, id: "checksums")
        b += "</section>\n"

        b += "<section id=\"run\"><h2>Run</h2>\n"
        b += HTML.keyValues([
            ("run directory", r.run.path), ("model", "\(r.modelName), weights_sha256 \(r.modelWeightsSHA256)"),
            ("weights_sha256 (summary.json)", s.weightsSHA256), ("recipe hash", s.recipeHash), ("BLAS core", s.blasCore),
            ("resumed from", s.resumedFrom ?? "-"),
            (
                "TensorBoard",
                r.run.tensorboardFiles.isEmpty
                    ? "no event files" : "tensorboard --logdir \(r.run.path)/tensorboard (\(r.run.tensorboardFiles.count) event file(s))"
            )
        ])
        b += "<h3>summary.json</h3>\n" + summaryTable(s)
        if let c = r.run.configJSON {
            b += "<h3>config.json</h3>\n<pre id=\"config\">\(HTML.escape(c))</pre>\n"
        }
        b += "</section>\n</body>\n</html>\n"
        return b
    }

    /// summary.json as key/value rows, under its own keys (per-class rows and the confusion matrix are shown above).
    static func summaryTable(_ s: RunSummary) -> String {
        func avg(_ m: ClassMetrics) -> String {
            "precision \(f4(m.precision)), recall \(f4(m.recall)), f1 \(f4(m.f1)), support \(m.support)"
        }
        let g = { (x: Double) in String(format: "%.6g", x) }
        return HTML.keyValues([
            ("model", s.model), ("parameters", "\(s.parameters)"), ("test_accuracy", g(s.testAccuracy)), ("test_loss", g(s.testLoss)),
            ("macro_avg", avg(s.macroAvg)), ("weighted_avg", avg(s.weightedAvg)), ("epochs_run", "\(s.epochsRun)"),
            ("best_epoch", s.bestEpoch.map(String.init) ?? "null"), ("stopped_early", "\(s.stoppedEarly)"),
            ("wall_seconds", g(s.wallSeconds)),
            ("train_images_per_second", g(s.trainImagesPerSecond)), ("seconds_to_99", s.secondsTo99.map(g) ?? "null"),
            ("weights_sha256", s.weightsSHA256), ("seed", "\(s.seed)"), ("batch_size", "\(s.batchSize)"),
            ("micro_batch", "\(s.microBatch)"),
            ("threads", "\(s.threads)"), ("workers", "\(s.workers)"), ("recipe_hash", s.recipeHash), ("blas_core", s.blasCore),
            ("data_dir", s.dataDirectory), ("resumed_from", s.resumedFrom ?? "null"),
            ("per_class, confusion_matrix", "shown under Per-class results")
        ])
    }

    static let css = """
        body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1320px;
               padding: 0 16px; color: #222; background: #fafafa; }
        h1 { margin-bottom: 4px; } h1 code { font-size: inherit; }
        h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
        code, pre { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 13px; }
        pre { background: #fff; border: 1px solid #ddd; padding: 10px; overflow-x: auto; max-height: 420px; }
        .cards { display: flex; flex-wrap: wrap; gap: 12px; }
        .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px; min-width: 130px; }
        .card .v { font-size: 22px; font-weight: bold; } .card .k { color: #666; font-size: 13px; }
        .row { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
        figure { margin: 8px 0; background: #fff; border: 1px solid #ddd; padding: 8px; width: min-content; }
        figure img { display: block; }
        figcaption { color: #555; font-size: 13px; margin-top: 6px; }
        table { border-collapse: collapse; background: #fff; font-size: 14px; margin: 8px 0; }
        th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        thead th { background: #f0f0f0; } table.kv th { background: #f6f6f6; font-weight: normal; color: #444; }
        .warn { color: #c0392b; }

        """
}
