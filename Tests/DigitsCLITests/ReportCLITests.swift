import Foundation
import MNISTData
import TestSupport
import XCTest

/// Figures, the HTML report and TensorBoard event files, checked by their real consumers:
/// headless Chromium for the report, the `tensorboard` Python package for the event files.
final class ReportCLITests: XCTestCase {
    /// Screenshots and DOM dumps land here (kept after the test run).
    static var artifacts: String { CLI.packageRoot.appendingPathComponent(".build/test-artifacts/report").path }

    func epochRecords(_ run: String) throws -> [[String: Any]] {
        try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testDataShowWritesSampleGridAndClassBalance() throws {
        let data = try SyntheticData.writeDirectory(train: 100, test: 50)
        let out = CLI.tempDirectory("grid")
        let r = try CLI.run(["data", "show", "--data", data, "--grid", out + "/data-samples.png", "--grid-count", "24"])
        // Generated data is not MNIST: the checksum lines say MISMATCH and the exit status is 1; the figures are written first.
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("MISMATCH"), r.stdout)
        XCTAssertTrue(r.stdout.contains("wrote \(out)/data-balance.svg"), r.stdout)
        let png = try PNG.decodeGray([UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/data-samples.png"))), path: "grid")
        // 12 columns of 56-pixel images framed by 1 pixel with 6-pixel gaps; 2 rows.
        XCTAssertEqual(png.width, 6 + 12 * (58 + 6))
        XCTAssertGreaterThan(png.height, 2 * 58)
        let svg = try String(contentsOfFile: out + "/data-balance.svg", encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "class=\"bar\"").count - 1, 20, "10 classes x train and test")
        XCTAssertTrue(svg.contains("data-series=\"train (100)\" data-category=\"3\" data-value=\"10\""), svg)

        let bad = try CLI.run(["data", "show", "--data", data, "--grid", out + "/no/such/dir/x.png"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("Error:") && bad.stderr.contains("no/such/dir"), bad.stderr)
    }

    func testReportOfAMissingRunFailsWithoutWriting() throws {
        let dir = CLI.tempDirectory("noreport")
        let r = try CLI.run(["report", "--run", dir])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Error:") && r.stderr.contains("summary.json"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/report"))
    }

    /// A 2-worker cluster run and a single-process run on generated data: TensorBoard reads the
    /// scalars both wrote, and Chromium renders the cluster run's report with every figure loaded.
    func testTensorBoardReadsScalarsAndChromiumRendersTheReport() throws {
        let python = try ExternalTools.python()
        let chromium = try ExternalTools.chromium()
        let data = try SyntheticData.writeDirectory(train: 2400, test: 300)
        let out = CLI.tempDirectory("report")
        let recipe = [
            "--data", data, "--epochs", "3", "--batch", "32", "--micro-batch", "8", "--model", "keras-example", "--tensorboard-every", "5",
            "--lr", "0.00005"
        ]  // a slow learner, so the report has mistakes to show
        let train = try CLI.run(["train", "--out", out + "/train", "--threads", "2"] + recipe)
        XCTAssertEqual(train.status, 0, train.stderr)
        let cluster = try CLI.run(
            ["cluster", "--workers", "2", "--out", out + "/cluster", "--heartbeat-ms", "50", "--join-deadline", "60"] + recipe,
            timeout: 300)
        XCTAssertEqual(cluster.status, 0, cluster.stdout + cluster.stderr)

        // (1) TensorBoard's own reader finds every epoch scalar of metrics.jsonl at the epoch's last step.
        let script = """
            import json, sys
            from tensorboard.backend.event_processing import event_accumulator as ea
            out = {}
            for run in sys.argv[1:]:
                acc = ea.EventAccumulator(run + "/tensorboard", size_guidance={ea.SCALARS: 0})
                acc.Reload()
                out[run] = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
            print(json.dumps(out))
            """
        let py = try ExternalTools.run(python, ["-c", script, out + "/train", out + "/cluster"], timeout: 120)
        XCTAssertEqual(py.status, 0, py.stderr)
        let scalars = try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as! [String: [String: [[Double]]]]
        for run in [out + "/train", out + "/cluster"] {
            let tags = try XCTUnwrap(scalars[run], run)
            let records = try epochRecords(run)
            XCTAssertEqual(records.count, 3)
            for record in records {
                let step = Double(record["step"] as! Int)
                for key in ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "images_per_second"] {
                    let expected = record[key] as! Double
                    let points = try XCTUnwrap(tags["epoch/" + key], "\(run): no epoch/\(key) in \(tags.keys.sorted())")
                    let point = try XCTUnwrap(points.first { $0[0] == step }, "\(run): epoch/\(key) has no value at step \(step)")
                    XCTAssertEqual(point[1], Double(Float(expected)), accuracy: abs(expected) * 1e-6, "\(run) epoch/\(key) at step \(step)")
                }
            }
            let lastStep = Double(records.last!["step"] as! Int)
            let stepLoss = try XCTUnwrap(tags["step/loss"])
            XCTAssertEqual(stepLoss.map { $0[0] }, Array(stride(from: 5.0, through: lastStep, by: 5)), "every 5 steps")
            XCTAssertTrue(stepLoss.allSatisfy { $0[1] > 0 && $0[1] < 5 })
            XCTAssertTrue(try XCTUnwrap(tags["step/learning_rate"]).allSatisfy { abs($0[1] - 0.00005) < 1e-9 })
        }
        // The same recipe gives the same weights on one process and on the cluster, so the same epoch losses.
        XCTAssertEqual(
            scalars[out + "/train"]?["epoch/val_loss"]?.map { $0[1] }, scalars[out + "/cluster"]?["epoch/val_loss"]?.map { $0[1] })

        // workers.jsonl: both workers sampled.
        let workerLines = try String(contentsOfFile: out + "/cluster/workers.jsonl", encoding: .utf8).split(separator: "\n")
        let workerIDs = Set(
            try workerLines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["worker"] as! Int })
        XCTAssertEqual(workerIDs, [1, 2], "\(workerLines.count) throughput samples")

        // (2) The report, rendered by headless Chromium.
        let report = try CLI.run(["report", "--run", out + "/cluster"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let dir = out + "/cluster/report"
        let html = try String(contentsOfFile: dir + "/index.html", encoding: .utf8)
        let checker = """
            <script>
            window.addEventListener("load", function () {
              var lines = [];
              document.querySelectorAll("img").forEach(function (img) {
                var ok = img.complete && img.naturalWidth > 0 ? "ok" : "BROKEN";
                lines.push(img.getAttribute("src") + " " + ok + " " + img.naturalWidth + "x" + img.naturalHeight);
              });
              var pre = document.createElement("pre");
              pre.id = "image-check";
              pre.textContent = lines.join("\\n");
              document.body.appendChild(pre);
            });
            </script>
            """
        try (html.replacingOccurrences(of: "</body>", with: checker + "</body>")).write(
            toFile: dir + "/check.html", atomically: true, encoding: .utf8)
        let profile = CLI.tempDirectory("chromium-profile")
        let flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + profile]
        let dom = try ExternalTools.run(
            chromium, flags + ["--virtual-time-budget=5000", "--dump-dom", "file://" + dir + "/check.html"], timeout: 120)
        XCTAssertEqual(dom.status, 0, dom.stderr)
        try FileManager.default.createDirectory(atPath: Self.artifacts, withIntermediateDirectories: true)
        try dom.stdout.write(toFile: Self.artifacts + "/dom.html", atomically: true, encoding: .utf8)
        let check = try XCTUnwrap(
            dom.stdout.components(separatedBy: "<pre id=\"image-check\">").last?.components(separatedBy: "</pre>").first,
            "the image check did not run")
        let images = check.split(separator: "\n").map(String.init)
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/cluster/summary.json"))) as! [String: Any]
        let perfect = summary["test_accuracy"] as! Double == 1
        let expected =
            [
                "figures/loss.svg", "figures/accuracy.svg", "figures/confusion.svg", "figures/predictions.png",
                "figures/workers.svg", "figures/class-balance.svg", "figures/samples.png"
            ] + (perfect ? [] : ["figures/mistakes.png"])
        XCTAssertEqual(Set(images.map { String($0.split(separator: " ")[0]) }), Set(expected), check)
        for line in images { XCTAssertTrue(line.contains(" ok "), "image did not load: \(line)") }
        // What a person reads: the headline accuracy, the per-class table, the config, the checksums, the workers.
        XCTAssertTrue(dom.stdout.contains(String(format: "%.2f%%", 100 * (summary["test_accuracy"] as! Double))), "headline accuracy")
        for text in [
            "Learning curves", "id=\"per-class\"", "weighted avg", perfect ? "No mistakes on the test set" : "Most frequent confusions",
            "id=\"config\"", "id=\"checksums\"",
            "Cluster workers", summary["weights_sha256"] as! String
        ] {
            XCTAssertTrue(dom.stdout.contains(text), "report lacks \(text)")
        }
        let shot = Self.artifacts + "/report.png"
        try? FileManager.default.removeItem(atPath: shot)
        let s = try ExternalTools.run(
            chromium, flags + ["--window-size=1320,4200", "--screenshot=" + shot, "file://" + dir + "/index.html"], timeout: 120)
        XCTAssertEqual(s.status, 0, s.stderr)
        let png = try PNG.decodeGray([UInt8](Data(contentsOf: URL(fileURLWithPath: shot))), path: shot)
        XCTAssertEqual(png.width, 1320)
        XCTAssertGreaterThan(Set(png.pixels).count, 50, "the screenshot is not blank")
        try? FileManager.default.removeItem(atPath: dir + "/check.html")
    }
}
