import Foundation
import Logging
import Prometheus
import StatusModel
import XCTest

@testable import StatusServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The HTTP side on a real loopback socket, and the Prometheus metrics fed from snapshots.
final class StatusServerTests: XCTestCase {
    func snapshot(step: Int, rejected: [String: Int] = [:], workers: [String] = ["ready", "ready"]) -> StatusSnapshot {
        let job = StatusSnapshot.Job(
            state: "training", message: nil, model: "small", parameters: 10, mode: "sync", seed: 1, batchSize: 32,
            microBatch: 8, workersExpected: 2, servers: 1, runDirectory: nil, controlEndpoint: nil, time: 0,
            elapsedSeconds: 1)
        let progress = StatusSnapshot.Progress(
            epoch: 2, epochs: 3, stepInEpoch: 1, stepsPerEpoch: 10, globalStep: step, totalSteps: 30,
            fraction: Double(step) / 30, etaSeconds: 5, imagesPerSecond: 640, stepsPerSecond: 20,
            trainImages: step * 32, epochLoss: 0.5, epochAccuracy: 0.9, bestEpoch: nil, stoppedEarly: false)
        var rows: [StatusSnapshot.WorkerRow] = []
        for (i, state) in workers.enumerated() {
            rows.append(
                StatusSnapshot.WorkerRow(
                    id: UInt32(i + 1), name: "w\(i + 1)", host: "h", state: state, lastHeartbeatSeconds: 0.1,
                    assigned: [i], computed: 3, pushes: 3, imagesPerSecond: 320, drops: 0, rejected: 0))
        }
        let epoch = StatusSnapshot.EpochPoint(
            epoch: 1, step: 10, trainLoss: 0.7, trainAccuracy: 0.8, valLoss: 0.6, valAccuracy: 0.875,
            testAccuracy: nil, imagesPerSecond: 600, elapsedSeconds: 1)
        let steps = [StatusSnapshot.StepPoint(step: step, loss: 0.5, accuracy: 0.9)]
        return StatusSnapshot(
            job: job, progress: progress, workers: rows, history: [epoch], steps: steps, checkpoints: [], events: [],
            rejected: rejected, pushLatency: StatusSnapshot.LatencySummary(count: 1, recent: [0.001]))
    }

    /// Sample lines of the Prometheus text: "name{labels}" -> value.
    func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    func testMetricsFollowSnapshots() {
        let registry = PrometheusCollectorRegistry()
        let metrics = StatusMetrics(factory: StatusMetrics.prometheusFactory(registry: registry))
        metrics.update(snapshot(step: 4, rejected: ["stale_step": 2]), latencies: [0.0003, 0.002])
        metrics.update(
            snapshot(step: 9, rejected: ["stale_step": 5, "bad_size": 1], workers: ["ready", "dropped", "ready"]), latencies: [0.04])
        let text = registry.emitToString()
        let s = samples(text)
        XCTAssertEqual(s["digits_steps_completed_total"], 9)
        XCTAssertEqual(s["digits_workers_alive"], 2)
        XCTAssertEqual(s["digits_epoch"], 2)
        XCTAssertEqual(s["digits_images_per_second"], 640)
        XCTAssertEqual(s["digits_validation_accuracy"], 0.875)
        XCTAssertEqual(s[#"digits_rejected_messages_total{reason="stale_step"}"#], 5)
        XCTAssertEqual(s[#"digits_rejected_messages_total{reason="bad_size"}"#], 1)
        XCTAssertEqual(s[#"digits_rejected_messages_total{reason="malformed"}"#], 0, "known reasons are there from the start")
        XCTAssertEqual(s["digits_push_latency_seconds_count"], 3)
        XCTAssertEqual(s["digits_push_latency_seconds_sum"] ?? 0, 0.0423, accuracy: 1e-9)
        XCTAssertEqual(s[#"digits_push_latency_seconds_bucket{le="0.0005"}"#], 1)
        XCTAssertEqual(s[#"digits_push_latency_seconds_bucket{le="0.025"}"#], 2)
        XCTAssertEqual(s[#"digits_push_latency_seconds_bucket{le="+Inf"}"#], 3)
        XCTAssertTrue(text.contains("# TYPE digits_push_latency_seconds histogram"), text)
    }

    func get(_ url: String) throws -> (status: Int, type: String, body: String) {
        let done = DispatchSemaphore(value: 0)
        var result: (Int, String, String)?
        var failure: (any Error)?
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 10
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                result = (
                    http.statusCode, http.value(forHTTPHeaderField: "Content-Type") ?? "", String(decoding: data ?? Data(), as: UTF8.self)
                )
            }
            failure = error
            done.signal()
        }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 15), .success, "GET \(url) timed out")
        if let failure { throw failure }
        return try XCTUnwrap(result)
    }

    func testServesPageStatusMetricsAndHealthThenStops() throws {
        let box = StatusBox()
        let registry = PrometheusCollectorRegistry()
        let metrics = StatusMetrics(factory: StatusMetrics.prometheusFactory(registry: registry))
        let server = try StatusServer.start(host: "127.0.0.1", port: 0, box: box, registry: registry, logger: Logger(label: "test"))
        XCTAssertGreaterThan(server.port, 0, "port 0: the OS picked one")
        XCTAssertEqual(server.url, "http://127.0.0.1:\(server.port)/")
        XCTAssertEqual(try get(server.url + "status.json").status, 503, "no snapshot yet")
        let s = snapshot(step: 7)
        metrics.update(s, latencies: [0.001])
        box.publish(s)

        let page = try get(server.url)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.type.hasPrefix("text/html"), page.type)
        XCTAssertTrue(page.body.contains("id=\"workers\"") && page.body.contains("status.json"))
        XCTAssertFalse(page.body.contains("http://") || page.body.contains("https://"), "self-contained: no external resources")
        let status = try get(server.url + "status.json")
        XCTAssertEqual(status.status, 200)
        XCTAssertEqual(try JSONDecoder().decode(StatusSnapshot.self, from: Data(status.body.utf8)), s)
        let m = try get(server.url + "metrics")
        XCTAssertEqual(m.status, 200)
        XCTAssertTrue(m.type.hasPrefix("text/plain"), m.type)
        XCTAssertEqual(samples(m.body)["digits_steps_completed_total"], 7)
        let health = try get(server.url + "healthz")
        XCTAssertEqual(health.status, 200)
        let h = try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any]
        XCTAssertEqual(h?["status"] as? String, "ok")
        XCTAssertEqual(h?["global_step"] as? Int, 7)
        XCTAssertEqual(try get(server.url + "nope").status, 404)

        // The port is taken: a second server says so instead of hanging.
        XCTAssertThrowsError(
            try StatusServer.start(host: "127.0.0.1", port: server.port, box: box, registry: registry, logger: Logger(label: "test"))
        ) {
            XCTAssertTrue("\($0)".contains("127.0.0.1:\(server.port): cannot serve the status page"), "\($0)")
        }
        XCTAssertTrue(server.stop(timeout: 10))
        XCTAssertThrowsError(try get(server.url + "healthz"), "nothing listens after stop()")
    }
}
