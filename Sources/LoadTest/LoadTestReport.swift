// What `digits loadtest` reports: the figures of the load window, the raw libzmq ceiling, and
// the text and JSON forms of both (JSON keys are the snake_case of the property names).
import Foundation

public struct RawRoundTrips: Encodable, Sendable {
    public var bytes: Int
    public var window: Int
    public var roundTrips: Int
    public var seconds: Double
    public var roundTripsPerSecond: Double
    /// Message bytes carried per second, both directions (1 MB = 10^6 bytes).
    public var mbPerSecond: Double
}

public struct LoadFigures: Encodable, Sendable {
    public var workers: Int
    public var batch: Int
    public var microBatch: Int
    public var microBatchesPerStep: Int
    public var data: String
    public var seconds: Double
    public var steps: Int
    public var stepsPerSecond: Double
    public var msPerStep: Double
    /// Micro-batch gradients the workers sent (a GradientSum of n micro-batches counts n), injected copies included.
    public var pushesSent: Int
    /// Micro-batches the coordinator's parameter server counted (its per-worker push counters).
    public var pushesAccepted: Int
    /// Of those, in the step still open when the window closed.
    public var pushesInOpenStep: Int
    public var pushesPerSecond: Double
    /// Gradient payload the workers sent per second (GradientPush and GradientSum frames; 1 MB = 10^6 bytes).
    public var gradientMbPerSecond: Double
    /// Weights payload the server broadcast to the workers per second.
    public var weightsMbPerSecond: Double
    /// Micro-batches the workers were assigned (their Assignment messages).
    public var assignedMicroBatches: Int
    /// From the coordinator's counters: gradient messages it refused, gradient messages it dropped
    /// as duplicates, other messages it refused, workers it dropped.
    public var pushesRejected: Int
    public var pushesDuplicated: Int
    public var messagesRejected: Int
    /// Reject messages the workers received, and messages they could not decode or workers that ended in error.
    public var rejectsReceived: Int
    public var protocolErrors: Int
    public var workersDropped: Int
    /// Messages the workers could not queue (the worker loop drops them, as in production).
    public var sendRetries: Int
    /// Workers told to stop by the coordinator when it was stopped.
    public var shutdownsReceived: Int
    public var exactlyOnce: Bool
    public var exactlyOnceDetail: String
    public var coordinatorPeakRssMb: Double
    /// CPU time (user + system) over the window, in percent of one core.
    public var coordinatorCpuPercent: Double
    public var loadtestCpuPercent: Double
    public var cores: Int
    public var coordinatorFdsListening: Int
    public var coordinatorFdsStart: Int
    public var coordinatorFdsEnd: Int
    public var coordinatorExitStatus: Int32
}

public struct LoadTestReport: Encodable, Sendable {
    public var model: String
    public var parameters: Int
    public var pushBytes: Int
    public var load: LoadFigures?
    public var raw: [RawRoundTrips] = []
    public var loadtestFdsStart = 0
    public var loadtestFdsEnd = 0

    public init(model: String, parameters: Int, pushBytes: Int) {
        self.model = model
        self.parameters = parameters
        self.pushBytes = pushBytes
    }

    enum Keys: String, CodingKey {
        case model, parameters, pushBytes, raw, loadtestFdsStart, loadtestFdsEnd, rawPushMbPerSecond, rawLargeMbPerSecond
    }

    /// One flat object: the load figures (if any) next to the raw ceiling.
    public func encode(to encoder: Encoder) throws {
        try load?.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(model, forKey: .model)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(pushBytes, forKey: .pushBytes)
        try c.encode(raw, forKey: .raw)
        try c.encode(loadtestFdsStart, forKey: .loadtestFdsStart)
        try c.encode(loadtestFdsEnd, forKey: .loadtestFdsEnd)
        try c.encodeIfPresent(raw.first { $0.bytes == pushBytes }?.mbPerSecond, forKey: .rawPushMbPerSecond)
        try c.encodeIfPresent(raw.last.map(\.mbPerSecond), forKey: .rawLargeMbPerSecond)
    }

    /// Pretty-printed JSON, snake_case keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }

    /// Whether the parameter server lost, refused or double-counted micro-batches.
    public var failed: Bool {
        guard let load else { return false }
        return !load.exactlyOnce || load.pushesRejected > 0 || load.pushesDuplicated > 0
    }

    public var text: String {
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        var lines: [String] = []
        if let l = load {
            lines.append(
                """
                loadtest: \(l.workers) simulated worker(s), \(model) (\(parameters) parameters, \(pushBytes)-byte pushes), batch \
                \(l.batch) = \(l.microBatchesPerStep) micro-batches of \(l.microBatch), \(f(l.seconds)) s; data \(l.data)
                """
            )
            lines.append("  steps              \(l.steps) (\(f(l.stepsPerSecond)) /s, \(f(l.msPerStep, 2)) ms/step)")
            lines.append(
                """
                  pushes             \(l.pushesAccepted) accepted (\(f(l.pushesPerSecond)) /s), \(l.pushesSent) sent \
                (\(l.pushesInOpenStep) in the open step); \(l.pushesRejected) rejected, \(l.pushesDuplicated) duplicated
                """
            )
            lines.append("  payload            gradients in \(f(l.gradientMbPerSecond)) MB/s, weights out \(f(l.weightsMbPerSecond)) MB/s")
            lines.append("  exactly once       \(l.exactlyOnce ? "yes" : "NO"): \(l.exactlyOnceDetail)")
            lines.append(
                """
                  other              \(l.messagesRejected) messages rejected, \(l.rejectsReceived) rejects received, \
                \(l.protocolErrors) protocol errors, \(l.workersDropped) workers dropped, \(l.sendRetries) messages not queued, \
                \(l.shutdownsReceived) shutdowns received
                """
            )
            lines.append(
                """
                  CPU                coordinator \(f(l.coordinatorCpuPercent, 0))%, loadtest \(f(l.loadtestCpuPercent, 0))% of one \
                core (\(l.cores) cores)
                """
            )
            lines.append(
                """
                  coordinator        peak RSS \(f(l.coordinatorPeakRssMb, 0)) MB; open fds \(l.coordinatorFdsListening) listening, \
                \(l.coordinatorFdsStart) at the first step -> \(l.coordinatorFdsEnd) at the end; exit status \
                \(l.coordinatorExitStatus)
                """
            )
        }
        lines.append("  loadtest fds       \(loadtestFdsStart) -> \(loadtestFdsEnd)")
        if !raw.isEmpty {
            lines.append("raw libzmq DEALER<->ROUTER round trips on loopback (bytes carried both ways):")
            for r in raw {
                lines.append(
                    """
                      \(String(format: "%9d", r.bytes)) B, \(r.window) in flight: \(f(r.roundTripsPerSecond)) round trips/s, \
                    \(f(r.mbPerSecond)) MB/s
                    """
                )
            }
        }
        return lines.joined(separator: "\n")
    }
}
