import Cluster
// The coordinator process: its two listening sockets (control, and the embedded parameter
// server's data) and the single-threaded loop that feeds their messages and the clock to the
// Coordinator state machine and carries out its actions.
import Foundation
import Logging
import Training
import WireProtocol

/// How a coordinator's run ended.
public enum CoordinatorOutcome: Equatable {
    /// Training finished; the summary is written.
    case finished(RunSummary)
    /// A failure that a restart would not mend.
    case failed(String)
    /// A failure a restart from the last checkpoint may mend (for example no worker left).
    case interrupted(String)
    /// Stopped by a signal; the last checkpoint stays.
    case stopped(signal: Int32)
}

/// The coordinator's sockets, bound before the state machine exists (it needs the data endpoint).
public struct CoordinatorSockets {
    public let control: MessageSocket
    public let controlEndpoint: String
    public let data: MessageSocket
    public let dataEndpoint: String

    /// Listens on `bind` (workers' control) and `dataBind` (default: the same host, a port the OS picks).
    public init(transport: Transport, bind: String, dataBind: String?) throws {
        (control, controlEndpoint) = try transport.listen(bind, maxMessageBytes: WireCodec.maxBody + 4096)
        let dataAt = try dataBind ?? Endpoint(bind).sibling(port: 0).description
        (data, dataEndpoint) = try transport.listen(dataAt, maxMessageBytes: WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096)
    }
}

public final class CoordinatorLoop {
    public let coordinator: Coordinator
    let transport: Transport
    let sockets: CoordinatorSockets
    let clock: () -> UInt64
    let logger: Logger
    /// Called after every pass (`force` false: publish if due) and with the final state at the end.
    public var onStatus: ((_ force: Bool, _ final: (state: String, message: String?)?) -> Void)?

    public init(
        coordinator: Coordinator, transport: Transport, sockets: CoordinatorSockets, logger: Logger,
        clock: @escaping () -> UInt64 = monotonicNanoseconds
    ) {
        self.coordinator = coordinator
        self.transport = transport
        self.sockets = sockets
        self.logger = logger
        self.clock = clock
        coordinator.clock = clock
    }

    /// Runs until the job ends or `stopRequested` returns a signal.
    public func run(stopRequested: () -> Int32? = { StopSignal.requested }) throws -> CoordinatorOutcome {
        onStatus?(true, nil)
        while true {
            if let sig = stopRequested() { return stop(signal: sig) }
            if let outcome = try runOnce(timeoutMilliseconds: 50) { return outcome }
        }
    }

    /// One pass: waits at most `timeoutMilliseconds` for messages, handles every waiting one, then the clock.
    public func runOnce(timeoutMilliseconds: Int) throws -> CoordinatorOutcome? {
        let readable = try transport.poll([sockets.control, sockets.data], timeoutMilliseconds: timeoutMilliseconds)
        if readable[1] {
            while let frames = try sockets.data.receive(), frames.count >= 2 {
                if let outcome = try perform(try coordinator.data(peer: frames[0], frames: Array(frames.dropFirst()), now: clock())) {
                    return outcome
                }
            }
        }
        if readable[0] {
            while let frames = try sockets.control.receive(), frames.count >= 2 {
                if let outcome = try perform(try coordinator.control(peer: frames[0], frames: Array(frames.dropFirst()), now: clock())) {
                    return outcome
                }
            }
        }
        if let outcome = try tick() { return outcome }
        onStatus?(false, nil)
        return nil
    }

    /// Feeds the clock alone to the state machine (deadlines, step scheduling).
    public func tick() throws -> CoordinatorOutcome? { try perform(try coordinator.tick(now: clock())) }

    func perform(_ actions: [CoordinatorAction]) throws -> CoordinatorOutcome? {
        for action in actions {
            switch action {
            case .sendControl(let peer, let frames):
                sockets.control.trySend([peer] + frames, to: "a worker") { logger.warning("\($0)") }
            case .sendData(let peer, let frames):
                sockets.data.trySend([peer] + frames, to: "a worker") { logger.warning("\($0)") }
            case .appendThroughput(let records, let path):
                do { try WorkerThroughputLog.append(records, to: path) } catch {
                    logger.warning("could not append to \(path): \(error)")
                }
            case .finished(let summary):
                transport.flush()  // the shutdown messages leave before the sockets close
                logger.info(
                    """
                    steps: \(coordinator.timing.report); coordinator peak RSS \
                    \(String(format: "%.0f", ResourceUsage.peakRSSMegabytes())) MB
                    """
                )
                onStatus?(true, ("finished", nil))
                return .finished(summary)
            case .failed(let message):
                onStatus?(true, ("failed", message))
                return .failed(message)
            case .interrupted(let message):
                onStatus?(true, ("failed", message))
                return .interrupted(message)
            }
        }
        return nil
    }

    /// Tells every worker and shard to stop, and ends.
    func stop(signal sig: Int32) -> CoordinatorOutcome {
        logger.warning(
            """
            stopping on signal \(sig); the last checkpoint stays in \
            \(coordinator.trainer.runDirectory?.checkpoints.directory ?? "the run directory")
            """
        )
        onStatus?(true, ("stopped", "stopped on signal \(sig)"))
        let bye = WireCodec.encode(
            Envelope(jobID: coordinator.jobID, sender: 0, step: 0, message: .shutdown(Shutdown(reason: "coordinator stopped"))))
        for w in coordinator.workers.values where w.alive { try? sockets.control.send([w.controlPeer] + bye) }
        for shard in coordinator.shards { try? sockets.control.send([shard.peer] + bye) }
        Thread.sleep(forTimeInterval: 0.1)
        return .stopped(signal: sig)
    }
}
