// The drawing page in a real browser: headless Chromium, driven over the DevTools protocol by
// scripts/browser/draw-digit.py, draws a 7 and a 0 with mouse events and a 1 with touch events on
// the canvas of the real `digits serve`, and must see each predicted digit appear in the DOM.
// Screenshots: .build/test-artifacts/serve/draw-<digit>-<input>.png.
import Foundation
import TestSupport
import XCTest

final class ServePageTests: XCTestCase {
    func testDrawingOnTheCanvasShowsThePredictedDigit() throws {
        // Both come with scripts/install-test-deps.sh: missing, they fail the test with that advice.
        let chromium = try ExternalTools.chromium()
        let python = try ExternalTools.python()
        let (model, _) = try TrainedModel.path()
        let server = try ServerProcess(model: model)
        defer { server.stop() }
        let artifacts = CLI.packageRoot.appendingPathComponent(".build/test-artifacts/serve").path
        try? FileManager.default.removeItem(atPath: artifacts)
        let script = CLI.packageRoot.appendingPathComponent("scripts/browser/draw-digit.py").path
        let r = try ExternalTools.run(
            python, [script, "--url", server.baseURL + "/", "--out", artifacts, "--chromium", chromium, "--timeout", "90"],
            timeout: 150)
        XCTAssertEqual(r.status, 0, "draw-digit.py failed:\n\(r.stderr)\nserver: \(server.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let results = try XCTUnwrap(object?["results"] as? [[String: Any]], r.stdout)
        XCTAssertEqual(results.map { $0["drawn"] as? String }, ["7", "0", "1"])
        for result in results {
            let drawn = result["drawn"] as! String
            let input = result["input"] as! String
            XCTAssertGreaterThan(result["ink_pixels"] as? Int ?? 0, 500, "the \(input) strokes drew ink on the canvas")
            XCTAssertEqual(result["digit"] as? String, drawn, "the page shows the digit drawn with \(input) events: \(result)")
            XCTAssertTrue((result["confidence"] as? String ?? "").hasPrefix("confidence "), "\(result)")
            // Rendered bar widths (fraction of the track): the drawn digit's bar is the long one.
            let bars = result["bars"] as? [Double] ?? []
            XCTAssertEqual(bars.count, 10)
            let k = try XCTUnwrap(Int(drawn), "drawn: \(drawn)")
            if bars.count == 10 {  // else the count assertion above has failed
                XCTAssertGreaterThan(bars[k], 0.5, "the bar of \(drawn) is drawn long: \(bars)")
                XCTAssertLessThan(bars.reduce(0, +), 1.01, "bars are probabilities: \(bars)")
            }
            let shot = try XCTUnwrap(result["screenshot"] as? String)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: shot))
            XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "screenshot \(shot) is a PNG")
            XCTAssertGreaterThan(bytes.count, 5000, "screenshot \(shot) has content")
        }
        print("serve page screenshots: \(artifacts)")
    }
}
