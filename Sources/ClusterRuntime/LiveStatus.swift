// The coordinator's live status: the HTTP server (StatusServer target) plus what the poll loop
// does each tick, cheaply: at most every 250 ms it reads the coordinator into an immutable
// StatusSnapshot, updates the Prometheus metrics and swaps the snapshot into the shared box.
import Cluster
import Foundation
import Logging
import Metrics
import Prometheus
import StatusModel
import StatusServer
import Training

public final class LiveStatus {
    static let publishInterval: UInt64 = 250_000_000
    static let checkpointScanInterval: UInt64 = 1_000_000_000

    public let server: StatusServer
    let box = StatusBox()
    let metrics: StatusMetrics
    var tracker = StatusTracker()
    var lastPublish: UInt64 = 0
    var lastCheckpointScan: UInt64 = 0
    var checkpoints: [StatusSnapshot.CheckpointRow] = []
    /// Snapshots published and the loop thread's CPU time spent on them (reported when the server stops).
    var published = 0
    var publishSeconds = 0.0
    let logger: Logger

    /// Starts serving (before anything is written to disk, so a port in use changes nothing).
    public init(address: StatusAddress, logger: Logger) throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(StatusMetrics.prometheusFactory(registry: registry))
        metrics = StatusMetrics()
        self.logger = logger
        do {
            server = try StatusServer.start(host: address.host, port: address.port, box: box, registry: registry, logger: logger)
        } catch {
            throw StatusServer.StartError(description: "--status-bind: \(error)")
        }
        logger.info("status page on \(server.url) (also \(server.url)metrics and \(server.url)healthz)")
        if !["127.0.0.1", "localhost", "::1"].contains(address.host) && !address.host.hasPrefix("127.") {
            logger.warning("the status page on \(address.description) has no authentication: anyone who reaches it sees the job")
        }
    }

    /// The bound HOST:PORT (a restarted coordinator can listen on the same one).
    public var boundAddress: String { StatusAddress(host: server.host, port: server.port).description }

    public func publish(
        _ coordinator: Coordinator, controlEndpoint: String, run: RunDirectory, events: RecentEvents, force: Bool,
        final: (state: String, message: String?)?
    ) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now &- lastPublish >= Self.publishInterval else { return }
        lastPublish = now
        let cpu = Self.threadCPUSeconds()
        if force || now &- lastCheckpointScan >= Self.checkpointScanInterval {
            checkpoints = StatusSnapshot.CheckpointRow.list(run.checkpoints)
            lastCheckpointScan = now
        }
        if let final { tracker.finalState = final }
        let input = StatusInput(coordinator: coordinator, controlEndpoint: controlEndpoint, checkpoints: checkpoints, events: events.events)
        let snapshot = tracker.snapshot(input, now: now, wallTime: Date().timeIntervalSince1970)
        metrics.update(snapshot, latencies: input.newLatencies)
        box.publish(snapshot)
        published += 1
        publishSeconds += Self.threadCPUSeconds() - cpu
    }

    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    public func stop() {
        logger.info(
            """
            status page: \(published) snapshots published, \
            \(String(format: "%.3f", 1000 * publishSeconds / Double(max(published, 1)))) ms of loop CPU each on average
            """
        )
        if !server.stop(timeout: 3) {
            logger.warning("the status server did not stop within 3 s")
        }
    }
}
