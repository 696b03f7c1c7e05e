// `digits serve`: the inference server (Sources/Serving) for one trained model.digits: the drawing
// page at /, POST /v1/predict, /healthz and /metrics, as a swift-service-lifecycle service that
// shuts down gracefully on SIGTERM or SIGINT.
import ArgumentParser
import Foundation
import Logging
import Metrics
import Serving

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a trained model over HTTP: a drawing page at /, POST /v1/predict, /healthz, /metrics.")

    @Option(help: "A model.digits file.") var model: String
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "TCP port (0 = any free port; the bound address is printed).") var port: Int = 8080
    @Option(help: "Largest request body in bytes (larger requests get 413).") var maxBodyBytes: Int = 2 << 20

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535, found \(port)") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024, found \(maxBodyBytes)") }
    }

    func run() async throws {
        let predictor = try Predictor(path: model)
        let metrics = ServeMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        var logger = Logger(label: "digits.serve")
        logger.logLevel = ProcessInfo.processInfo.environment["DIGITS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let options = ServeOptions(host: host, port: port, maxBodyBytes: maxBodyBytes)
        let name = predictor.name
        do {
            try await ServeApp.run(predictor: predictor, metrics: metrics, options: options, logger: logger) { host, port in
                let shown = host.contains(":") ? "[\(host)]" : host
                print("serving \(name) on http://\(shown):\(port)")
            }
        } catch {
            throw CLIError("cannot serve on \(host):\(port): \(error)")
        }
        print("server stopped")
    }
}
