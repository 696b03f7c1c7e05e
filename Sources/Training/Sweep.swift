// Hyper-parameter sweeps: the search space (Config/sweep.toml), the list of trials (a grid or a
// seeded random sample), each trial's command-line overrides, and the results table (CSV, and HTML
// with an SVG chart) sorted by validation accuracy. Pure code: `digits sweep` runs the trials.
import Foundation
import TensorKit

public struct SweepConfig: Codable, Equatable, Sendable {
    public enum Method: String, ConfigChoice { case grid, random }
    /// Base training config (absolute path), or nil for Config/train.toml / the defaults.
    public var base: String?
    public var method: Method = .grid
    /// Random search: number of trials. Grid: at most this many (0 = the whole grid).
    public var trials: Int = 0
    public var seed: UInt64 = 1
    /// Epochs of every trial (nil: the base config's).
    public var epochs: Int?
    public var learningRates: [Double] = []
    public var batchSizes: [Int] = []
    public var dropouts: [Double] = []
    public var models: [String] = []
    public var augment: [Bool] = []

    public init() {}

    public static func load(path: String) throws -> SweepConfig {
        var file = try TOMLSection.file(path, what: "sweep config")
        for key in file.table.keys where !["sweep", "space"].contains(key) {
            throw ConfigError("\(path): unknown section or key '\(key)' (known sections: sweep, space)")
        }
        var c = SweepConfig()
        if var sweep = try file.section("sweep") {
            c = try sweep.decode(
                over: c, keys: ["base": "base", "method": "method", "trials": "trials", "seed": "seed", "epochs": "epochs"])
            try sweep.finish()
        }
        if var space = try file.section("space") {
            c = try space.decode(
                over: c,
                keys: [
                    "learning_rate": "learningRates", "batch_size": "batchSizes", "dropout": "dropouts",
                    "model": "models", "augment": "augment"
                ])
            try space.finish()
        }
        if let b = c.base, !b.hasPrefix("/") {
            c.base = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(b).path
        }
        try c.validate(path: path)
        return c
    }

    func validate(path: String) throws {
        func fail(_ m: String) -> ConfigError { ConfigError("\(path): \(m)") }
        if trials < 0 { throw fail("sweep.trials must be >= 0, found \(trials)") }
        if method == .random && trials < 1 { throw fail("sweep.trials must be at least 1 for a random search") }
        if let epochs, epochs < 1 { throw fail("sweep.epochs must be at least 1, found \(epochs)") }
        if let bad = learningRates.first(where: { !($0 > 0 && $0.isFinite) }) {
            throw fail("space.learning_rate values must be positive, found \(bad)")
        }
        if let bad = batchSizes.first(where: { $0 < 1 }) { throw fail("space.batch_size values must be positive, found \(bad)") }
        if let bad = dropouts.first(where: { !($0 >= 0 && $0 < 1) }) { throw fail("space.dropout values must be in [0, 1), found \(bad)") }
        if gridSize == 1 && learningRates.isEmpty && batchSizes.isEmpty && dropouts.isEmpty && models.isEmpty && augment.isEmpty {
            throw fail("[space] is empty: list at least one of learning_rate, batch_size, dropout, model, augment")
        }
    }

    var gridSize: Int {
        [learningRates.count, batchSizes.count, dropouts.count, models.count, augment.count].map { max($0, 1) }.reduce(1, *)
    }

    /// The trials in order: the grid (model slowest, augment fastest), or `trials` seeded random picks.
    public func trialList() -> [SweepTrial] {
        let axes = [
            max(models.count, 1), max(batchSizes.count, 1), max(learningRates.count, 1), max(dropouts.count, 1), max(augment.count, 1)
        ]
        func make(_ idx: [Int], number: Int) -> SweepTrial {
            SweepTrial(
                number: number, model: models.isEmpty ? nil : models[idx[0]], batchSize: batchSizes.isEmpty ? nil : batchSizes[idx[1]],
                learningRate: learningRates.isEmpty ? nil : learningRates[idx[2]], dropout: dropouts.isEmpty ? nil : dropouts[idx[3]],
                augment: augment.isEmpty ? nil : augment[idx[4]], epochs: epochs)
        }
        switch method {
        case .grid:
            var out: [SweepTrial] = []
            let total = axes.reduce(1, *)
            for n in 0..<total {
                var rest = n
                var idx = [Int](repeating: 0, count: axes.count)
                for a in stride(from: axes.count - 1, through: 0, by: -1) {
                    idx[a] = rest % axes[a]
                    rest /= axes[a]
                }
                out.append(make(idx, number: n + 1))
                if trials > 0 && out.count == trials { break }
            }
            return out
        case .random:
            let rng = CounterRNG(seed: seed)
            return (0..<trials).map { k in
                make(axes.indices.map { a in rng.index(below: axes[a], .sampling, 0x5357_4550, UInt32(k), UInt32(a)) }, number: k + 1)
            }
        }
    }
}

/// One configuration of a sweep: the overrides on top of the base config (nil: the base's value).
public struct SweepTrial: Equatable, Sendable {
    public var number: Int
    public var model: String?
    public var batchSize: Int?
    public var learningRate: Double?
    public var dropout: Double?
    public var augment: Bool?
    public var epochs: Int?

    /// Directory name, e.g. "t03-keras-example-b128-lr0.003-d0.5-aug".
    public var name: String {
        var parts = [String(format: "t%02d", number)]
        if let model { parts.append(URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent) }
        if let batchSize { parts.append("b\(batchSize)") }
        if let learningRate { parts.append("lr\(Self.number(learningRate))") }
        if let dropout { parts.append("d\(Self.number(dropout))") }
        if let augment { parts.append(augment ? "aug" : "noaug") }
        return parts.joined(separator: "-")
    }

    static func number(_ x: Double) -> String {
        var s = String(format: "%g", x)
        if s.hasPrefix("0.") { s = String(s) }
        return s
    }

    /// `digits train` flags for this trial (after --config and --out).
    public var arguments: [String] {
        var a: [String] = []
        if let model { a += ["--model", model] }
        if let batchSize { a += ["--batch", "\(batchSize)"] }
        if let learningRate { a += ["--lr", Self.number(learningRate)] }
        if let dropout { a += ["--dropout", Self.number(dropout)] }
        if let augment { a.append(augment ? "--augment" : "--no-augment") }
        if let epochs { a += ["--epochs", "\(epochs)"] }
        return a
    }
}

/// One row of the results table.
public struct SweepResult: Equatable, Sendable {
    public var trial: SweepTrial
    public var status: String
    public var valAccuracy: Double?
    public var testAccuracy: Double?
    public var epochs: Int?
    public var wallSeconds: Double?
    public var secondsTo99: Double?
    public var weights: String?

    public init(trial: SweepTrial, status: String) {
        self.trial = trial
        self.status = status
    }

    /// Reads a finished trial's summary.json and metrics.jsonl; nil if the run has no summary.
    public static func read(trial: SweepTrial, directory: String) -> SweepResult? {
        guard let data = FileManager.default.contents(atPath: directory + "/summary.json"),
            let summary = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        var r = SweepResult(trial: trial, status: "ok")
        r.testAccuracy = summary["test_accuracy"] as? Double
        r.epochs = summary["epochs_run"] as? Int
        r.wallSeconds = summary["wall_seconds"] as? Double
        r.secondsTo99 = summary["seconds_to_99"] as? Double
        r.weights = (summary["weights_sha256"] as? String).map { String($0.prefix(12)) }
        let best = summary["best_epoch"] as? Int
        if let text = FileManager.default.contents(atPath: directory + "/metrics.jsonl").flatMap({ String(data: $0, encoding: .utf8) }) {
            let records = text.split(separator: "\n").compactMap { try? JSONDecoder().decode(EpochRecord.self, from: Data($0.utf8)) }
            let chosen = best.flatMap { b in records.first { $0.epoch == b } } ?? records.last
            r.valAccuracy = chosen?.valAccuracy
        }
        return r
    }

    /// Best validation accuracy first; rows without one last, then by trial number.
    public static func sorted(_ rows: [SweepResult]) -> [SweepResult] {
        rows.sorted { a, b in
            switch (a.valAccuracy, b.valAccuracy) {
            case (let x?, let y?) where x != y: return x > y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.trial.number < b.trial.number
            }
        }
    }
}

public enum SweepReport {
    static let columns = [
        "rank", "trial", "model", "batch_size", "learning_rate", "dropout", "augment", "val_accuracy", "test_accuracy",
        "epochs", "wall_seconds", "seconds_to_99", "weights_sha256", "status"
    ]

    static func cells(_ r: SweepResult, rank: Int) -> [String] {
        func f(_ x: Double?, _ format: String) -> String { x.map { String(format: format, $0) } ?? "" }
        return [
            "\(rank)", r.trial.name, r.trial.model ?? "(base)", r.trial.batchSize.map(String.init) ?? "(base)",
            r.trial.learningRate.map(SweepTrial.number) ?? "(base)", r.trial.dropout.map(SweepTrial.number) ?? "(base)",
            r.trial.augment.map { $0 ? "on" : "off" } ?? "(base)", f(r.valAccuracy, "%.4f"), f(r.testAccuracy, "%.4f"),
            r.epochs.map(String.init) ?? "", f(r.wallSeconds, "%.1f"), f(r.secondsTo99, "%.1f"), r.weights ?? "", r.status
        ]
    }

    /// CSV (RFC 4180 quoting), rows sorted by validation accuracy.
    public static func csv(_ rows: [SweepResult]) -> String {
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = columns.joined(separator: ",") + "\n"
        for (i, r) in SweepResult.sorted(rows).enumerated() { out += cells(r, rank: i + 1).map(quote).joined(separator: ",") + "\n" }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A self-contained HTML page: a bar chart (SVG) of validation and test accuracy per trial and the table.
    public static func html(_ rows: [SweepResult], title: String) -> String {
        let sorted = SweepResult.sorted(rows)
        let accs = sorted.flatMap { [$0.valAccuracy, $0.testAccuracy].compactMap { $0 } }
        let lo = max(0, ((accs.min() ?? 0) * 100 - 0.5).rounded(.down) / 100)
        let hi = min(1, ((accs.max() ?? 1) * 100 + 0.2).rounded(.up) / 100)
        let barH = 18.0
        let gap = 8.0
        let left = 300.0
        let width = 460.0
        let height = Double(sorted.count) * (2 * barH + gap) + 50
        func x(_ a: Double) -> Double { left + width * (a - lo) / max(hi - lo, 1e-9) }
        var svg =
            """
            <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 80))\" height=\"\(Int(height))\" \
            font-family=\"sans-serif\" font-size=\"12\">\n
            """
        svg += "<text x=\"\(left)\" y=\"14\">accuracy (axis \(String(format: "%.3f", lo)) to \(String(format: "%.3f", hi)))</text>\n"
        svg +=
            """
            <rect x=\"\(left + width - 150)\" y=\"4\" width=\"12\" height=\"12\" fill=\"#3b6fb6\"/><text x=\"\(left + width - 134)\" \
            y=\"14\">validation</text>\n
            """
        svg +=
            """
            <rect x=\"\(left + width - 60)\" y=\"4\" width=\"12\" height=\"12\" fill=\"#e08a2c\"/><text x=\"\(left + width - 44)\" \
            y=\"14\">test</text>\n
            """
        for (i, r) in sorted.enumerated() {
            let y = 30 + Double(i) * (2 * barH + gap)
            svg += "<text x=\"\(left - 6)\" y=\"\(y + barH + 4)\" text-anchor=\"end\">\(escape(r.trial.name))</text>\n"
            for (k, (value, color)) in [(r.valAccuracy, "#3b6fb6"), (r.testAccuracy, "#e08a2c")].enumerated() {
                guard let v = value else { continue }
                let yy = y + Double(k) * barH
                svg += String(
                    format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"><title>%@</title></rect>", left, yy,
                    max(1, x(v) - left), barH - 2, color, String(format: "%.4f", v))
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\">%.4f</text>\n", x(v) + 4, yy + barH - 5, v)
            }
        }
        svg += "</svg>"
        var table = "<table>\n<tr>" + columns.map { "<th>\($0)</th>" }.joined() + "</tr>\n"
        for (i, r) in sorted.enumerated() { table += "<tr>" + cells(r, rank: i + 1).map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        table += "</table>"
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
            td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}</style>
            </head><body>
            <h1>\(escape(title))</h1>
            <p>\(sorted.count) trial(s), sorted by validation accuracy (the test accuracy is shown, never used to rank).</p>
            \(svg)
            \(table)
            </body></html>

            """
    }
}
