import Foundation
import FoundationXML
import MNISTData
import TestSupport
import Training
import XCTest

@testable import Reports

/// Parses SVG as XML; collects (attributes, text) of every element.
final class XMLCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String], text: String)] = []
    var stack: [Int] = []
    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]
    ) {
        elements.append((name, attributes, ""))
        stack.append(elements.count - 1)
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let i = stack.last { elements[i].text += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { stack.removeLast() }

    static func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> XMLCollector? {
        let c = XMLCollector()
        let p = XMLParser(data: Data(svg.utf8))
        p.delegate = c
        guard p.parse() else {
            XCTFail("not well-formed XML: \(p.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
            return nil
        }
        return c
    }
}

final class RenderTests: XCTestCase {
    func testFontHasSevenRowsOfFiveAndDistinctDigits() {
        for (c, rows) in BitmapFont.glyphs {
            XCTAssertEqual(rows.count, 7, "\(c)")
            XCTAssertTrue(rows.allSatisfy { $0.count == 5 && $0.allSatisfy { "01".contains($0) } }, "\(c)")
        }
        let digits = (0...9).map { BitmapFont.glyph(Character("\($0)")) }
        XCTAssertEqual(Set(digits.map { "\($0)" }).count, 10)
        XCTAssertEqual(BitmapFont.glyph("a"), BitmapFont.glyph("A"))
        XCTAssertEqual(BitmapFont.glyph("~"), BitmapFont.glyph("?"))
        XCTAssertEqual(BitmapFont.width("99%", scale: 2), (3 * 6 - 1) * 2)
    }

    func testCanvasTextAndPNGRoundTrip() throws {
        var c = Canvas(width: 20, height: 10)
        c.text("1", x: 2, y: 1, color: .black)
        // "1": row 0 is 00100, so (2+2, 1) is ink and (2, 1) is not.
        XCTAssertEqual(c.color(x: 4, y: 1), .black)
        XCTAssertEqual(c.color(x: 2, y: 1), .white)
        XCTAssertEqual(c.color(x: 19, y: 9), .white)
        let decoded = try PNG.decodeGray(c.png, path: "canvas")
        XCTAssertEqual(decoded.width, 20)
        XCTAssertEqual(decoded.height, 10)
        XCTAssertEqual(decoded.pixels[1 * 20 + 4], 0)
        XCTAssertEqual(decoded.pixels[1 * 20 + 2], 255)
    }

    func testPredictionGridFramesCorrectGreenAndWrongRed() throws {
        let data = SyntheticData.dataset(count: 4, seed: 1, name: "t")
        let preds = [
            Fixtures.prediction(0, label: 0, predicted: 0, confidence: 0.99),
            Fixtures.prediction(1, label: 1, predicted: 7, confidence: 0.6)
        ]
        let canvas = Figures.predictionGrid(data, preds, count: 2, columns: 2)
        let layout = ImageGrid.Layout(columns: 2, side: 28, scale: 2)
        let a = layout.origin(of: 0)
        let b = layout.origin(of: 1)
        XCTAssertEqual(canvas.color(x: a.x, y: a.y), .correct)
        XCTAssertEqual(canvas.color(x: b.x + 1, y: b.y + 1), .wrong)
        // The image itself is drawn inside the frame, each source pixel as a 2x2 block.
        let v = data.images[1 * 784 + 0]
        XCTAssertEqual(canvas.color(x: b.x + layout.frame + 1, y: b.y + layout.frame + 1), Color(v, v, v))
        let png = canvas.png
        let decoded = try PNG.decodeGray(png, path: "grid")
        XCTAssertEqual(decoded.width, canvas.width)
        XCTAssertEqual(decoded.height, canvas.height)
        // Luminance of the red frame pixel: 0.299*210 + 0.587*40 + 0.114*40 = 90.8.
        XCTAssertEqual(Int(decoded.pixels[(b.y + 1) * canvas.width + b.x + 1]), 91)
    }

    func testConfidentMistakesAreWrongAndSortedByConfidence() {
        let preds = [
            Fixtures.prediction(0, label: 1, predicted: 1, confidence: 1.0),
            Fixtures.prediction(1, label: 2, predicted: 3, confidence: 0.7),
            Fixtures.prediction(2, label: 4, predicted: 9, confidence: 0.95),
            Fixtures.prediction(3, label: 5, predicted: 6, confidence: 0.5)
        ]
        XCTAssertEqual(Figures.confidentMistakes(preds, count: 2).map(\.index), [2, 1])
    }

    func testHeatmapIsWellFormedAndShowsEveryCount() throws {
        let m = [[980, 0, 3], [1, 1130, 12], [7, 0, 1001]]
        let svg = Heatmap(
            title: "C <&> \"q\"", rowLabels: ["0", "1", "2"], columnLabels: ["0", "1", "2"], values: m, xLabel: "p", yLabel: "t"
        ).svg()
        let xml = try XCTUnwrap(XMLCollector.parse(svg))
        let counts = xml.elements.filter { $0.attributes["class"] == "count" }
        XCTAssertEqual(counts.count, 9)
        for c in counts {
            let r = Int(c.attributes["data-row"]!)!
            let col = Int(c.attributes["data-col"]!)!
            XCTAssertEqual(Int(c.text), m[r][col], "cell \(r),\(col)")
        }
        XCTAssertTrue(xml.elements.contains { $0.name == "text" && $0.text == "C <&> \"q\"" }, "title escaped and read back")
        XCTAssertEqual(xml.elements.first?.name, "svg")
    }

    func testBarChartBarsCarryTheValues() throws {
        let svg = Figures.classBalance(train: [5, 6, 7], test: [1, 2, 3])
        let xml = try XCTUnwrap(XMLCollector.parse(svg))
        let bars = xml.elements.filter { $0.attributes["class"] == "bar" }
        XCTAssertEqual(bars.map { Double($0.attributes["data-value"]!)! }, [5, 1, 6, 2, 7, 3])
        // Taller bars for larger values.
        let heights = bars.map { Double($0.attributes["height"]!)! }
        XCTAssertLessThan(heights[0], heights[2])
        XCTAssertLessThan(heights[2], heights[4])
    }

    func testLearningCurvesMarkBestEpochAndEarlyStop() throws {
        let history = (1...5).map { e in
            Fixtures.epoch(
                e, step: e * 10, trainLoss: 1 / Double(e), trainAccuracy: 0.8 + 0.02 * Double(e),
                valLoss: 0.5 + 0.01 * Double(e * e - 4 * e),
                valAccuracy: 0.9)
        }
        let svg = Figures.lossCurves(history, markers: Figures.markers(bestEpoch: 2, stoppedEarly: true, epochsRun: 5))
        let xml = try XCTUnwrap(XMLCollector.parse(svg))
        XCTAssertTrue(xml.elements.contains { $0.text == "best epoch 2" })
        XCTAssertTrue(xml.elements.contains { $0.text == "early stop (epoch 5)" })
        XCTAssertEqual(xml.elements.filter { $0.name == "polyline" }.count, 2, "train and validation; no test loss recorded")
        XCTAssertEqual(xml.elements.filter { $0.name == "circle" }.count, 10)
    }

    func testNiceTicks() {
        let unit = Ticks.nice(min: 0, max: 1, count: 5)
        XCTAssertEqual(unit.count, 6)
        for (t, e) in zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1.0]) { XCTAssertEqual(t, e, accuracy: 1e-12) }
        XCTAssertEqual(Ticks.nice(min: 0, max: 7000, count: 5), [0, 2000, 4000, 6000])
        XCTAssertEqual(Ticks.label(0.25, step: 0.05), "0.25")
        XCTAssertEqual(Ticks.label(3, step: 1), "3")
    }

    /// The whole report rendered from synthetic inputs: every figure the page names is among the files.
    func testReportNamesOnlyFiguresItWrites() throws {
        let train = SyntheticData.dataset(count: 100, seed: 1, name: "train")
        let test = SyntheticData.dataset(count: 50, seed: 2, name: "test")
        var metrics = ClassificationMetrics(classes: 10)
        let preds = (0..<50).map { i in
            Fixtures.prediction(
                i, label: Int(test.labels[i]), predicted: i % 7 == 0 ? (Int(test.labels[i]) + 1) % 10 : Int(test.labels[i]),
                confidence: 0.9)
        }
        for p in preds { metrics.record(label: p.label, predicted: p.predicted) }
        let summary = Fixtures.summary(metrics, workers: 2)
        let history = (1...2).map { Fixtures.epoch($0, step: $0 * 3) }
        let workers = [
            WorkerThroughputRecord(wallTime: 10, step: 1, worker: 1, name: "w<1>", microBatches: 4, imagesPerSecond: 100),
            WorkerThroughputRecord(wallTime: 11, step: 2, worker: 1, name: "w<1>", microBatches: 8, imagesPerSecond: 120)
        ]
        let run = RunFiles(
            path: "/tmp/run<x>", summary: summary, history: history, configJSON: "{\"a\": \"<b>\"}", workers: workers, tensorboardFiles: [])
        let files = RunReport.render(
            ReportInputs(
                run: run, train: train, test: test, dataDirectory: "/d", checksums: [], predictions: preds,
                metrics: metrics, modelName: "keras-example", modelWeightsSHA256: "abc"))
        let names = Set(files.map(\.name))
        let html = String(decoding: files.last!.bytes, as: UTF8.self)
        XCTAssertEqual(files.last?.name, "index.html")
        let srcs = html.components(separatedBy: "src=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        XCTAssertEqual(Set(srcs), names.subtracting(["index.html"]))
        XCTAssertTrue(srcs.contains("figures/workers.svg") && srcs.contains("figures/mistakes.png"))
        XCTAssertFalse(html.contains("<b>") || html.contains("run<x>"), "content is escaped")
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no network resources")
        for f in files where f.name.hasSuffix(".svg") {
            XCTAssertNotNil(XMLCollector.parse(String(decoding: f.bytes, as: UTF8.self)), f.name)
        }
        for f in files where f.name.hasSuffix(".png") { XCTAssertNoThrow(try PNG.decodeGray(f.bytes, path: f.name)) }
    }
}

final class RunFilesTests: XCTestCase {
    func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }

    func testLoadReadsARunAndSkipsACutWorkersLine() throws {
        let dir = NSTemporaryDirectory() + "digits-runfiles-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunFiles.load(dir)) { XCTAssertTrue("\($0)".contains("summary.json"), "\($0)") }
        var metrics = ClassificationMetrics(classes: 10)
        metrics.record(label: 1, predicted: 1)
        try Fixtures.summary(metrics, workers: 2).encoded().write(to: URL(fileURLWithPath: dir + "/summary.json"))
        XCTAssertThrowsError(try RunFiles.load(dir)) { XCTAssertTrue("\($0)".contains("metrics.jsonl"), "\($0)") }
        let enc = JSONEncoder()
        let line = String(decoding: try enc.encode(Fixtures.epoch(1, step: 3)), as: UTF8.self)
        try write(line + "\n{\"epoch\": 2\n", dir + "/metrics.jsonl")
        XCTAssertThrowsError(try RunFiles.load(dir)) { XCTAssertTrue("\($0)".contains("metrics.jsonl: line 2"), "\($0)") }
        try write(line + "\n", dir + "/metrics.jsonl")
        let w = String(
            decoding: try enc.encode(
                WorkerThroughputRecord(wallTime: 1, step: 1, worker: 1, name: "a", microBatches: 2, imagesPerSecond: 3)),
            as: UTF8.self)
        try write(w + "\n" + w.prefix(20) + w + "\n" + w + "\n", dir + "/workers.jsonl")
        let files = try RunFiles.load(dir)
        XCTAssertEqual(files.history.count, 1)
        XCTAssertEqual(files.workers.count, 2)
        XCTAssertEqual(files.skippedWorkerLines, 1)
    }
}
