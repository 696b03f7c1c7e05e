import Foundation
import TestSupport
import XCTest

/// The coordinator's live status page, /metrics and /healthz during a real `digits cluster --workers 2`
/// run, read by the consumers people use: Prometheus' text parser (prometheus_client) and Chromium.
final class StatusPageCLITests: XCTestCase {
    /// Screenshots of the page land here (kept after the test run).
    static var artifacts: String { CLI.packageRoot.path + "/.build/test-artifacts/status" }

    struct RunningCluster {
        let process: Process
        let log: String
        let url: String
        let out: String

        var text: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// Stops the launcher with SIGTERM (the way Ctrl-C does) and waits for it.
        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// A cluster that trains far longer than the test looks at it (the test stops it), with the
    /// status page on an OS-chosen loopback port.
    func startCluster() throws -> RunningCluster {
        let data = try SyntheticData.writeDirectory(train: 1000, test: 100)
        let out = CLI.tempDirectory("status") + "/run"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = [
            "cluster", "--workers", "2", "--data", data, "--out", out, "--status-bind", "127.0.0.1:0", "--epochs", "60",
            "--batch", "32", "--micro-batch", "8", "--model", "keras-example", "--no-early-stopping", "--join-deadline", "60"
        ]
        let log = NSTemporaryDirectory() + "digits-status-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardError = p.standardOutput
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        var url: String?
        while url == nil && Date() < deadline && p.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: "cluster: status page on ") {
                url = text[r.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let cluster = RunningCluster(process: p, log: log, url: url ?? "", out: out)
        guard let url, url.hasPrefix("http://127.0.0.1:"), url.hasSuffix("/") else {
            cluster.stop()
            XCTFail("no status URL printed: \(cluster.text.suffix(3000))")
            throw HTTPGet.Failure(description: "no status URL")
        }
        return cluster
    }

    /// Waits until /healthz reports training with at least `steps` steps done.
    func waitForTraining(_ c: RunningCluster, steps: Int = 1, seconds: Double = 120) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        var last: [String: Any] = [:]
        while Date() < deadline && c.process.isRunning {
            if let r = try? HTTPGet.fetch(c.url + "healthz", timeout: 5), r.status == 200,
                let json = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            {
                last = json
                if json["state"] as? String == "training", (json["global_step"] as? Int ?? 0) >= steps { return json }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("no training with \(steps) step(s) within \(seconds) s; last health \(last); log: \(c.text.suffix(3000))")
        throw HTTPGet.Failure(description: "not training")
    }

    /// /metrics parsed by prometheus_client: family name -> (type, [(sample name, labels, value)]).
    func scrape(_ c: RunningCluster) throws -> [String: (type: String, samples: [(name: String, labels: [String: String], value: Double)])]
    {
        let r = try HTTPGet.fetch(c.url + "metrics")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.contentType.hasPrefix("text/plain"), r.contentType)
        let file = NSTemporaryDirectory() + "digits-metrics-\(UUID().uuidString).txt"
        try r.body.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for f in text_string_to_metric_families(open(sys.argv[1]).read()):
                out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
            print(json.dumps(out))
            """
        let py = try ExternalTools.run(try ExternalTools.python(), ["-c", script, file], timeout: 60)
        XCTAssertEqual(py.status, 0, py.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [String: [String: Any]], py.stdout)
        return json.mapValues { f in
            (
                f["type"] as? String ?? "",
                (f["samples"] as? [[Any]] ?? []).map { s in
                    (s[0] as? String ?? "", s[1] as? [String: String] ?? [:], (s[2] as? NSNumber)?.doubleValue ?? .nan)
                }
            )
        }
    }

    func value(
        _ families: [String: (type: String, samples: [(name: String, labels: [String: String], value: Double)])], _ family: String,
        sample: String? = nil, labels: [String: String] = [:]
    ) -> Double? {
        families[family]?.samples.first { $0.name == (sample ?? family) && $0.labels == labels }?.value
    }

    func testMetricsScrapedDuringAClusterRunParseAndAdvance() throws {
        let c = try startCluster()
        defer { c.stop() }
        _ = try waitForTraining(c, steps: 2)
        let first = try scrape(c)
        // The second scrape after the first epoch ended, so validation accuracy is real.
        let deadline = Date().addingTimeInterval(90)
        var second = first
        repeat {
            Thread.sleep(forTimeInterval: 1)
            second = try scrape(c)
        } while (value(second, "digits_epochs_completed") ?? 0) < 1 && Date() < deadline && c.process.isRunning

        for (family, type) in [
            ("digits_steps_completed", "counter"), ("digits_images_per_second", "gauge"),
            ("digits_push_latency_seconds", "histogram"), ("digits_rejected_messages", "counter"),
            ("digits_workers_alive", "gauge"), ("digits_epoch", "gauge"), ("digits_validation_accuracy", "gauge")
        ] {
            XCTAssertEqual(second[family]?.type, type, "\(family) in \(second.keys.sorted())")
        }
        XCTAssertEqual(value(first, "digits_workers_alive"), 2)
        XCTAssertEqual(value(second, "digits_workers_alive"), 2)
        let steps1 = try XCTUnwrap(value(first, "digits_steps_completed", sample: "digits_steps_completed_total"))
        let steps2 = try XCTUnwrap(value(second, "digits_steps_completed", sample: "digits_steps_completed_total"))
        XCTAssertGreaterThanOrEqual(steps1, 1)
        XCTAssertGreaterThan(steps2, steps1, "steps advance between scrapes")
        XCTAssertGreaterThan(value(second, "digits_images_per_second") ?? 0, 0)
        XCTAssertGreaterThanOrEqual(value(second, "digits_epochs_completed") ?? 0, 1, "an epoch ended within 90 s: \(c.text.suffix(2000))")
        XCTAssertGreaterThanOrEqual(value(second, "digits_epoch") ?? 0, 2)
        let accuracy = try XCTUnwrap(value(second, "digits_validation_accuracy"))
        XCTAssertTrue(accuracy > 0 && accuracy <= 1, "validation accuracy \(accuracy)")
        // Each accepted push is one latency sample; the histogram's buckets are cumulative.
        let count = try XCTUnwrap(value(second, "digits_push_latency_seconds", sample: "digits_push_latency_seconds_count"))
        XCTAssertGreaterThanOrEqual(count, steps2 * 3, "4 pushes per full step (32 / 8), 1 for an epoch's short last step")
        let buckets = (second["digits_push_latency_seconds"]?.samples ?? []).filter { $0.name == "digits_push_latency_seconds_bucket" }
        XCTAssertEqual(buckets.last?.labels["le"], "+Inf")
        XCTAssertEqual(buckets.last?.value, count)
        XCTAssertEqual(buckets.map(\.value), buckets.map(\.value).sorted(), "cumulative buckets")
        XCTAssertEqual(
            value(second, "digits_rejected_messages", sample: "digits_rejected_messages_total", labels: ["reason": "malformed"]), 0)
        XCTAssertTrue(c.text.contains("[coordinator] status page on \(c.url)"), "the coordinator prints the URL too")
    }

    /// Chromium renders the page: what a person sees lists both workers and moves while training runs.
    func testStatusPageRendersWorkersAndUpdatesInChromium() throws {
        let chromium = try ExternalTools.chromium()
        try FileManager.default.createDirectory(atPath: Self.artifacts, withIntermediateDirectories: true)
        let c = try startCluster()
        defer { c.stop() }
        _ = try waitForTraining(c, steps: 2)

        func render(_ n: Int) throws -> String {
            let profile = CLI.tempDirectory("chromium-profile")
            defer { try? FileManager.default.removeItem(atPath: profile) }
            let common = [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)",
                "--virtual-time-budget=3000", "--window-size=1280,1100", "--hide-scrollbars"
            ]
            let dom = try ExternalTools.run(chromium, common + ["--dump-dom", c.url], timeout: 90)
            XCTAssertEqual(dom.status, 0, dom.stderr)
            let shot = Self.artifacts + "/status-\(n).png"
            try? FileManager.default.removeItem(atPath: shot)
            let s = try ExternalTools.run(chromium, common + ["--screenshot=\(shot)", c.url], timeout: 90)
            XCTAssertEqual(s.status, 0, s.stderr)
            let size = ((try? FileManager.default.attributesOfItem(atPath: shot))?[.size] as? NSNumber)?.intValue ?? 0
            XCTAssertGreaterThan(size, 10_000, "screenshot \(shot)")
            return dom.stdout
        }
        func attribute(_ html: String, id: String, _ name: String) -> String? {
            guard let tag = html.range(of: "id=\"\(id)\"") else { return nil }
            let start = html[..<tag.lowerBound].lastIndex(of: "<") ?? tag.lowerBound
            let end = html[tag.upperBound...].firstIndex(of: ">") ?? html.endIndex
            let element = html[start..<end]
            guard let r = element.range(of: "\(name)=\"") else { return nil }
            return String(element[r.upperBound...].prefix { $0 != "\"" })
        }
        /// name -> state of the rows of the rendered workers table (not the page's script).
        func workerRows(_ html: String) -> [String: String] {
            var rows: [String: String] = [:]
            guard let start = html.range(of: "<table id=\"workers\""), let end = html[start.upperBound...].range(of: "</table>") else {
                return rows
            }
            var rest = html[start.upperBound..<end.lowerBound]
            while let r = rest.range(of: "data-worker-name=\"") {
                let name = String(rest[r.upperBound...].prefix { $0 != "\"" })
                let after = rest[r.upperBound...]
                if let s = after.range(of: "data-state=\"") { rows[name] = String(after[s.upperBound...].prefix { $0 != "\"" }) }
                rest = after
            }
            return rows
        }

        let first = try render(1)
        Thread.sleep(forTimeInterval: 2)
        let second = try render(2)
        for (n, html) in [(1, first), (2, second)] {
            XCTAssertEqual(attribute(html, id: "state", "data-state"), "training", "load \(n)")
            XCTAssertEqual(workerRows(html), ["worker-1": "ready", "worker-2": "ready"], "load \(n): the workers table")
            XCTAssertTrue(html.contains("<td>worker-1</td>") && html.contains("<td>worker-2</td>"), "load \(n): names are shown")
            XCTAssertTrue(html.contains("class=\"series\""), "load \(n): a curve is drawn")
        }
        let step1 = Int(attribute(first, id: "global-step", "data-value") ?? "") ?? -1
        let step2 = Int(attribute(second, id: "global-step", "data-value") ?? "") ?? -1
        XCTAssertGreaterThan(step1, 0)
        XCTAssertGreaterThan(step2, step1, "the progress moves between loads")
        let points1 = Int(attribute(first, id: "loss-chart", "data-points") ?? "") ?? -1
        let points2 = Int(attribute(second, id: "loss-chart", "data-points") ?? "") ?? -1
        XCTAssertGreaterThan(points1, 0)
        XCTAssertGreaterThan(points2, points1, "the loss curve grows while training runs")
        let width1 = attribute(first, id: "progress-bar", "style") ?? ""
        XCTAssertTrue(width1.contains("width:") && !width1.contains("width: 0%"), width1)
        print("status page screenshots: \(Self.artifacts)/status-1.png, status-2.png")

        // When the coordinator goes, so does its server.
        c.stop()
        XCTAssertThrowsError(try HTTPGet.fetch(c.url + "healthz", timeout: 3), "the status server stops with the coordinator")
    }
    /// A loopback TCP port held by this process while `body` runs.
    func withBusyPort(_ body: (Int) throws -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        XCTAssertTrue(bound)
        try body(Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// A bad --status-bind, or a port already taken, is one `Error:` line naming the flag, a
    /// non-zero exit, and no run directory.
    func testBadOrBusyStatusAddressFailsCleanly() throws {
        let data = try SyntheticData.writeDirectory(train: 100, test: 20)
        let dir = CLI.tempDirectory("status-bad")
        func assertFails(_ r: CLI.Result, _ needle: String, _ run: String) {
            XCTAssertNotEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains(needle), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: run), "nothing may be written: \(run)")
        }
        for bad in ["8000", "127.0.0.1:70000", "127.0.0.1:http", ":8000"] {
            for command in ["coordinator", "cluster"] {
                let run = dir + "/\(command)-\(bad.hashValue)"
                let r = try CLI.run([command, "--status-bind", bad, "--data", data, "--out", run], timeout: 120)
                assertFails(r, "Error: --status-bind: expected HOST:PORT", run)
            }
        }
        try withBusyPort { port in
            let run = dir + "/busy"
            let r = try CLI.run(
                [
                    "coordinator", "--bind", "tcp://127.0.0.1:0", "--status-bind", "127.0.0.1:\(port)", "--data", data,
                    "--out", run, "--join-deadline", "5"
                ], timeout: 120)
            assertFails(r, "Error: --status-bind: 127.0.0.1:\(port): cannot serve the status page", run)
            let c = try CLI.run(
                [
                    "cluster", "--workers", "1", "--status-bind", "127.0.0.1:\(port)", "--data", data, "--out", run + "-c",
                    "--join-deadline", "5", "--restarts", "0"
                ], timeout: 120)
            XCTAssertNotEqual(c.status, 0)
            XCTAssertTrue(c.stdout.contains("cannot serve the status page"), c.stdout + c.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: run + "-c/summary.json"))
        }
    }
}
