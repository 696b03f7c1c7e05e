// Prometheus metrics of the inference server, recorded through swift-metrics with the
// swift-prometheus backend: requests by route, method and status; predict latency as a
// histogram; images classified.
import CoreMetrics
import Foundation
import Prometheus

public final class ServeMetrics: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    /// Routes with their own label; anything else is counted as "other" (bounded cardinality).
    static let routes: Set<String> = ["/", "/healthz", "/metrics", "/v1/predict"]
    let predictLatency: CoreMetrics.Timer
    let imagesClassified: CoreMetrics.Counter
    private let lock = NSLock()
    private var requestCounters: [String: CoreMetrics.Counter] = [:]

    /// A fresh registry (tests can make several); the binary also bootstraps MetricsSystem with `factory`.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["digits_predict_latency_seconds"] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5)
        ]
        self.factory = factory
        predictLatency = CoreMetrics.Timer(label: "digits_predict_latency_seconds", dimensions: [], factory: factory)
        imagesClassified = CoreMetrics.Counter(label: "digits_predict_images_total", dimensions: [], factory: factory)
    }

    /// Counts one finished request.
    public func recordRequest(path: String, method: String, status: Int) {
        let route = Self.routes.contains(path) ? path : "other"
        let key = "\(route) \(method) \(status)"
        lock.lock()
        let counter: CoreMetrics.Counter
        if let existing = requestCounters[key] {
            counter = existing
        } else {
            counter = CoreMetrics.Counter(
                label: "digits_http_requests_total",
                dimensions: [("route", route), ("method", method), ("status", String(status))],
                factory: factory)
            requestCounters[key] = counter
        }
        lock.unlock()
        counter.increment()
    }

    /// Records one successful /v1/predict: its latency (decode, preprocess, inference) and image count.
    public func recordPrediction(nanoseconds: UInt64, images: Int) {
        predictLatency.recordNanoseconds(Int64(clamping: nanoseconds))
        imagesClassified.increment(by: images)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
