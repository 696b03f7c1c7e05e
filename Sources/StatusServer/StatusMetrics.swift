// The coordinator's Prometheus metrics, through the swift-metrics API (the binary bootstraps the
// Prometheus backend; tests pass their own factory). Updated from each published snapshot:
// counters advance by the difference from the previous one, gauges are set.
import CoreMetrics
import Metrics
import Prometheus
import StatusModel

public final class StatusMetrics {
    public static let pushLatencyLabel = "digits_push_latency_seconds"

    /// A Prometheus factory writing into `registry`, with push-latency buckets from 50 µs to 5 s.
    public static func prometheusFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[pushLatencyLabel] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(5)
        ]
        return factory
    }

    let factory: any MetricsFactory
    let steps: CoreMetrics.Counter
    let imagesPerSecond: CoreMetrics.Gauge
    let stepsPerSecond: CoreMetrics.Gauge
    let workersAlive: CoreMetrics.Gauge
    let workersExpected: CoreMetrics.Gauge
    let epoch: CoreMetrics.Gauge
    let epochsCompleted: CoreMetrics.Gauge
    let validationAccuracy: CoreMetrics.Gauge
    let validationLoss: CoreMetrics.Gauge
    let trainLoss: CoreMetrics.Gauge
    let pushLatency: CoreMetrics.Timer
    var rejected: [String: CoreMetrics.Counter] = [:]
    var lastSteps = 0
    var lastRejected: [String: Int] = [:]

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        steps = CoreMetrics.Counter(label: "digits_steps_completed_total", factory: factory)
        imagesPerSecond = CoreMetrics.Gauge(label: "digits_images_per_second", factory: factory)
        stepsPerSecond = CoreMetrics.Gauge(label: "digits_steps_per_second", factory: factory)
        workersAlive = CoreMetrics.Gauge(label: "digits_workers_alive", factory: factory)
        workersExpected = CoreMetrics.Gauge(label: "digits_workers_expected", factory: factory)
        epoch = CoreMetrics.Gauge(label: "digits_epoch", factory: factory)
        epochsCompleted = CoreMetrics.Gauge(label: "digits_epochs_completed", factory: factory)
        validationAccuracy = CoreMetrics.Gauge(label: "digits_validation_accuracy", factory: factory)
        validationLoss = CoreMetrics.Gauge(label: "digits_validation_loss", factory: factory)
        trainLoss = CoreMetrics.Gauge(label: "digits_train_loss", factory: factory)
        pushLatency = CoreMetrics.Timer(label: Self.pushLatencyLabel, factory: factory)
        // Every reason the coordinator and the parameter server count, so the family is there from the start.
        for reason in [
            "malformed", "wrong_job", "unknown_sender", "dropped_sender", "unexpected", "stale_step", "future_step",
            "no_open_step", "bad_micro_batch", "bad_size", "duplicate", "non_finite"
        ] {
            rejected[reason] = CoreMetrics.Counter(
                label: "digits_rejected_messages_total", dimensions: [("reason", reason)], factory: factory)
        }
    }

    /// Brings the metrics up to `s`; `latencies` are the push latencies (seconds) measured since the last update.
    public func update(_ s: StatusSnapshot, latencies: [Double]) {
        if s.progress.globalStep > lastSteps { steps.increment(by: s.progress.globalStep - lastSteps) }
        lastSteps = max(lastSteps, s.progress.globalStep)
        imagesPerSecond.record(s.progress.imagesPerSecond)
        stepsPerSecond.record(s.progress.stepsPerSecond)
        workersAlive.record(s.workers.filter { $0.state == "ready" }.count)
        workersExpected.record(s.job.workersExpected)
        epoch.record(s.progress.epoch)
        epochsCompleted.record(s.history.count)
        if let last = s.history.last {
            trainLoss.record(last.trainLoss)
            if let v = last.valAccuracy { validationAccuracy.record(v) }
            if let v = last.valLoss { validationLoss.record(v) }
        }
        for seconds in latencies { pushLatency.recordNanoseconds(Int64((seconds * 1e9).rounded())) }
        for (reason, count) in s.rejected.sorted(by: { $0.key < $1.key }) {
            let counter =
                rejected[reason]
                ?? CoreMetrics.Counter(label: "digits_rejected_messages_total", dimensions: [("reason", reason)], factory: factory)
            rejected[reason] = counter
            let delta = count - lastRejected[reason, default: 0]
            if delta > 0 { counter.increment(by: delta) }
            lastRejected[reason] = max(count, lastRejected[reason, default: 0])
        }
    }
}
