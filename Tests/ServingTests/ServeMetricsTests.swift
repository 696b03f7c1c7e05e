// Tests of the Prometheus exposition: request counts by route/method/status, bounded route
// labels, the predict latency histogram.
import XCTest

@testable import Serving

final class ServeMetricsTests: XCTestCase {
    func testExposition() {
        let metrics = ServeMetrics()
        metrics.recordRequest(path: "/v1/predict", method: "POST", status: 200)
        metrics.recordRequest(path: "/v1/predict", method: "POST", status: 200)
        metrics.recordRequest(path: "/v1/predict", method: "POST", status: 400)
        metrics.recordRequest(path: "/nope/1", method: "GET", status: 404)
        metrics.recordRequest(path: "/nope/2", method: "GET", status: 404)
        metrics.recordPrediction(nanoseconds: 1_500_000, images: 3)
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        func value(_ prefix: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(prefix) && !$0.hasPrefix("#") }.map { String($0.split(separator: " ").last!) }
        }
        func labelled(_ name: String, _ labels: [String: String]) -> String? {
            text.split(separator: "\n").first { line in
                line.hasPrefix(name + "{") && labels.allSatisfy { line.contains("\($0.key)=\"\($0.value)\"") }
            }.map { String($0.split(separator: " ").last!) }
        }
        XCTAssertEqual(labelled("digits_http_requests_total", ["route": "/v1/predict", "status": "200", "method": "POST"]), "2", text)
        XCTAssertEqual(labelled("digits_http_requests_total", ["route": "/v1/predict", "status": "400"]), "1", text)
        XCTAssertEqual(
            labelled("digits_http_requests_total", ["route": "other", "status": "404"]), "2", "unknown paths share one label\n\(text)")
        XCTAssertEqual(value("digits_predict_latency_seconds_count"), "1", text)
        XCTAssertEqual(labelled("digits_predict_latency_seconds_bucket", ["le": "0.001"]), "0", text)
        XCTAssertEqual(labelled("digits_predict_latency_seconds_bucket", ["le": "0.002"]), "1", text)
        XCTAssertEqual(value("digits_predict_images_total"), "3", text)
    }
}
