// The Hummingbird app: routes (drawing page, /v1/predict, /healthz, /metrics), the JSON-error and
// metrics middleware, body limits, and running until SIGTERM/SIGINT (graceful shutdown through
// Hummingbird's ServiceGroup). Request decoding and inference live in the pure files beside it.
import Foundation
import Hummingbird
import Logging
import MNISTData

public struct ServeOptions: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 2 << 20) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
    }
}

public enum ServeApp {
    /// The router with every route and middleware.
    public static func router(predictor: Predictor, metrics: ServeMetrics, options: ServeOptions) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(metrics: metrics))
        router.get("/") { _, _ -> Response in
            response(status: .ok, contentType: "text/html; charset=utf-8", body: Array(DrawingPage.html.utf8))
        }
        router.get("/healthz") { _, _ -> Response in
            let body = try JSONSerialization.data(
                withJSONObject: [
                    "status": "ok", "model": predictor.name,
                    "weights_sha256": predictor.weightsSHA256
                ], options: [.sortedKeys, .withoutEscapingSlashes])
            return response(status: .ok, contentType: "application/json", body: Array(body))
        }
        router.get("/metrics") { _, _ -> Response in
            response(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.exposition())
        }
        router.get("/v1/predict") { _, _ -> Response in
            throw ServeError(status: 405, "use POST /v1/predict with an image (PNG or JPEG, raw or as multipart field `image`) or JSON")
        }
        router.post("/v1/predict") { request, _ -> Response in
            let start = DispatchTime.now().uptimeNanoseconds
            if let length = request.headers[.contentLength].flatMap(Int.init), length > options.maxBodyBytes {
                throw ServeError.tooLarge("request body of \(length) bytes exceeds the limit of \(options.maxBodyBytes) bytes")
            }
            let buffer: ByteBuffer
            do { buffer = try await request.body.collect(upTo: options.maxBodyBytes) } catch let error as any HTTPResponseError
                where error.status == .contentTooLarge
            {
                // NIOTooManyBytesError: a chunked body without Content-Length that outgrew the limit.
                throw ServeError.tooLarge("request body exceeds the limit of \(options.maxBodyBytes) bytes")
            }
            let input = try PredictRequest.decode(body: Array(buffer.readableBytesView), contentType: request.headers[.contentType])
            let predictions = predictor.predict(input.images)
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            metrics.recordPrediction(nanoseconds: elapsed, images: predictions.count)
            let body = PredictResponse.json(predictions, isBatch: input.isBatch, latencyMs: Double(elapsed) / 1e6, model: predictor.name)
            return response(status: .ok, contentType: "application/json", body: body)
        }
        return router
    }

    /// Serves until SIGTERM or SIGINT, then finishes open requests and returns.
    /// `onRunning(host, port)` is called once the socket is bound (port 0 picks a free port).
    public static func run(
        predictor: Predictor, metrics: ServeMetrics, options: ServeOptions, logger: Logger,
        onRunning: @escaping @Sendable (String, Int) -> Void
    ) async throws {
        let app = Application(
            router: router(predictor: predictor, metrics: metrics, options: options),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "digits"),
            onServerRunning: { channel in
                onRunning(channel.localAddress?.ipAddress ?? options.host, channel.localAddress?.port ?? options.port)
            },
            logger: logger
        )
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    static func response(status: HTTPResponse.Status, contentType: String, body: [UInt8]) -> Response {
        Response(
            status: status, headers: [.contentType: contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns every error into `{"error": "..."}` with its 4xx/5xx status, and counts every response.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServeMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let result: Response
        do {
            result = try await next(request, context)
        } catch let error as ServeError {
            result = ServeApp.response(
                status: .init(code: error.status), contentType: "application/json", body: PredictResponse.error(error.message))
        } catch let error as HTTPError {
            let message =
                error.body ?? (error.status == .notFound ? "no route \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            result = ServeApp.response(status: error.status, contentType: "application/json", body: PredictResponse.error(message))
        } catch let error as any HTTPResponseError {
            result = ServeApp.response(
                status: error.status, contentType: "application/json", body: PredictResponse.error(error.status.reasonPhrase))
        } catch {
            result = ServeApp.response(
                status: .internalServerError, contentType: "application/json",
                body: PredictResponse.error("internal error: \(error)"))
        }
        metrics.recordRequest(path: request.uri.path, method: request.method.rawValue, status: result.status.code)
        return result
    }
}
