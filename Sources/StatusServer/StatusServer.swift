// The coordinator's HTTP side (Hummingbird 2): GET / (the live status page), /status.json,
// /metrics (Prometheus text format) and /healthz. It runs on its own tasks and NIO threads and
// only reads the StatusBox, so the zmq_poll loop never waits for it.
import Dispatch
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

public final class StatusServer: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let host: String
    /// The bound port (the OS's choice when asked for port 0).
    public let port: Int
    private let group: ServiceGroup
    private let done: DispatchSemaphore

    /// http://HOST:PORT/ as a browser on this machine reaches it (a wildcard host is this machine's name).
    public var url: String {
        let h = ["0.0.0.0", "::", ""].contains(host) ? ProcessInfo.processInfo.hostName : (host.contains(":") ? "[\(host)]" : host)
        return "http://\(h):\(port)/"
    }

    private init(host: String, port: Int, group: ServiceGroup, done: DispatchSemaphore) {
        self.host = host
        self.port = port
        self.group = group
        self.done = done
    }

    /// Result of the start, filled in by whichever of "listening" or "failed" happens first.
    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<Int, any Error>?
        let ready = DispatchSemaphore(value: 0)

        func set(_ r: Result<Int, any Error>) {
            lock.lock()
            let first = result == nil
            if first { result = r }
            lock.unlock()
            if first { ready.signal() }
        }

        var value: Result<Int, any Error>? {
            lock.lock()
            defer { lock.unlock() }
            return result
        }
    }

    /// Starts serving on host:port and returns once it listens (or throws why it cannot).
    public static func start(
        host: String, port: Int, box: StatusBox, registry: PrometheusCollectorRegistry, logger: Logger,
        timeout: Double = 15
    ) throws -> StatusServer {
        let router = Router()
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.html)))
        }
        router.get("status.json") { _, _ in
            guard let snapshot = box.snapshot else {
                return Response(
                    status: .serviceUnavailable, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: "{\"error\": \"no status yet\"}\n")))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: try snapshot.json())))
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ in
            let s = box.snapshot
            let body =
                "{\"status\": \"ok\", \"state\": \"\(s?.job.state ?? "starting")\", \"global_step\": \(s?.progress.globalStep ?? 0)}\n"
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var quiet = logger
        quiet.logLevel = .warning
        let outcome = Outcome()
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "digits"),
            onServerRunning: { channel in outcome.set(.success(channel.localAddress?.port ?? port)) }, logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: quiet))
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                try await group.run()
                outcome.set(.failure(StartError(description: "the server stopped before listening")))
            } catch {
                outcome.set(.failure(error))
            }
            done.signal()
        }
        guard outcome.ready.wait(timeout: .now() + timeout) == .success else {
            Task { await group.triggerGracefulShutdown() }
            throw StartError(description: "\(host):\(port): the status server did not start listening within \(Int(timeout)) s")
        }
        switch outcome.value! {
        case .success(let bound):
            return StatusServer(host: host, port: bound, group: group, done: done)
        case .failure(let error):
            throw StartError(description: "\(host):\(port): cannot serve the status page: \(error)")
        }
    }

    /// Stops serving; returns false if it did not stop within `timeout` seconds.
    @discardableResult
    public func stop(timeout: Double = 5) -> Bool {
        let group = self.group
        Task { await group.triggerGracefulShutdown() }
        let stopped = done.wait(timeout: .now() + timeout) == .success
        if stopped { done.signal() }  // a second stop() returns at once
        return stopped
    }
}
