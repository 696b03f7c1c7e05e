// The worker process: its control socket to the coordinator, one data socket per parameter-server
// shard, and the single-threaded loop around the WorkerNode state machine: messages in, one
// micro-batch computed per pass, actions out.
import CSupport
import Cluster
import Foundation
import Logging
import Training
import WireProtocol

public final class WorkerLoop {
    public let node: WorkerNode
    let transport: Transport
    let coordinatorEndpoint: String
    let control: MessageSocket
    var dataSockets: [MessageSocket] = []
    let clock: () -> UInt64
    let logger: Logger
    /// Nanoseconds to keep polling (instead of sleeping) after the last micro-batch of a step.
    let spinNanoseconds: UInt64
    var spinUntil: UInt64 = 0
    var idleSpin: Bool

    static let maxMessageBytes = WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096

    /// Dials the coordinator. `spinWaitMicroseconds` > 0 keeps this core polling for the next
    /// weights; `idleWhilePolling` does that polling at SCHED_IDLE priority (when it may return).
    public init(
        node: WorkerNode, transport: Transport, coordinator: String, logger: Logger,
        spinWaitMicroseconds: Double = 0, idleWhilePolling: Bool = false,
        clock: @escaping () -> UInt64 = monotonicNanoseconds
    ) throws {
        self.node = node
        self.transport = transport
        self.coordinatorEndpoint = coordinator
        self.logger = logger
        self.clock = clock
        node.clock = clock
        control = try transport.dial(coordinator, maxMessageBytes: Self.maxMessageBytes)
        spinNanoseconds = UInt64(max(0, spinWaitMicroseconds) * 1000)
        // Polling at SCHED_IDLE: the core stays awake for the weights, yet the kernel counts it
        // as free, so the coordinator and the ZeroMQ I/O threads run there at once instead of
        // preempting a worker that is still computing. Coming back needs CAP_SYS_NICE (or RLIMIT_NICE >= 20).
        idleSpin = spinNanoseconds > 0 && idleWhilePolling && digits_idle_scheduling_reversible() != 0
        if spinNanoseconds > 0, idleWhilePolling, !idleSpin {
            logger.info("polling for weights at normal priority (leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE >= 20)")
        }
    }

    /// Says hello and runs until the job ends, the worker gives up, or `stopRequested` returns a signal.
    public func run(stopRequested: () -> Int32? = { StopSignal.requested }) throws -> ProcessExit {
        if let outcome = try start() { return outcome }
        while true {
            if stopRequested() != nil {
                if node.id != 0 {
                    try? control.send(
                        WireCodec.encode(
                            Envelope(jobID: 0, sender: node.id, step: 0, message: .shutdown(Shutdown(reason: "worker stopped")))))
                }
                logger.info("worker \(node.name) stopping on signal")
                return ProcessExit(code: 0, reason: "stopped on signal")
            }
            if let outcome = try runOnce() { return outcome }
        }
    }

    /// The first hello.
    public func start() throws -> ProcessExit? { try perform(node.start(now: clock())) }

    /// The sockets this loop reads: the control socket, then one per parameter-server shard.
    public var sockets: [MessageSocket] { [control] + dataSockets }

    /// One pass: waits for messages (not at all while there is work or a spin is due; at most
    /// `pollTimeoutMilliseconds` when given, else 50 ms), handles them and the clock, then computes
    /// at most one micro-batch.
    public func runOnce(pollTimeoutMilliseconds: Int? = nil) throws -> ProcessExit? {
        let polled = dataSockets  // the control socket may add data sockets below
        let busy = node.hasWork || spinUntil > clock()
        var readable = try transport.poll([control] + polled, timeoutMilliseconds: busy ? 0 : pollTimeoutMilliseconds ?? 50)
        if !readable.contains(true), !node.hasWork, spinUntil > clock() {
            let idle = idleSpin && digits_set_idle_scheduling(1) == 0
            defer {
                if idle, digits_set_idle_scheduling(0) != 0 {
                    logger.warning(
                        """
                        could not leave SCHED_IDLE after polling (\(String(cString: strerror(errno)))); polling at normal priority \
                        from now on
                        """
                    )
                    idleSpin = false
                }
            }
            while !readable.contains(true), !node.hasWork, spinUntil > clock() {
                sched_yield()
                readable = try transport.poll([control] + polled, timeoutMilliseconds: 0)
            }
        }
        if readable[0] {
            while let frames = try control.receive() {
                if let outcome = try perform(try node.control(frames, now: clock())) { return outcome }
            }
        }
        // A message may make the worker rejoin, which closes the data sockets: stop reading them then.
        for (i, s) in polled.enumerated() where readable[i + 1] {
            while dataSockets.contains(where: { $0 === s }), let frames = try s.receive() {
                if let outcome = try perform(try node.data(frames, now: clock())) { return outcome }
            }
        }
        if let outcome = try perform(node.tick(now: clock())) { return outcome }
        if node.hasWork {
            if let outcome = try perform(node.computeNext()) { return outcome }
            if !node.hasWork { spinUntil = clock() + spinNanoseconds }
        }
        return nil
    }

    func perform(_ actions: [WorkerAction]) throws -> ProcessExit? {
        let warn: (String) -> Void = { [logger] in logger.warning("\($0)") }
        for action in actions {
            switch action {
            case .sendControl(let frames):
                control.trySend(frames, to: "the coordinator", warn: warn)
            case .sendData(let shard, let frames):
                dataSockets[shard].trySend(frames, to: "parameter-server shard \(shard + 1)", warn: warn)
            case .sendDataAll(let frames):
                for (i, s) in dataSockets.enumerated() { s.trySend(frames, to: "parameter-server shard \(i + 1)", warn: warn) }
            case .connectData(let endpoints):
                let via = try Endpoint(coordinatorEndpoint)
                for endpoint in endpoints {
                    let target = (try? Endpoint(endpoint))?.reachable(via: via).description ?? endpoint
                    dataSockets.append(try transport.dial(target, maxMessageBytes: Self.maxMessageBytes))
                }
            case .disconnectData:
                for s in dataSockets { s.close() }
                dataSockets = []
            case .exit(let code, let reason):
                if code == 0 {
                    logger.info(
                        """
                        worker \(node.name) done: \(reason); \(node.computed) micro-batches, \
                        \(String(format: "%.2f", node.computeSeconds * 1000 / Double(max(node.computed, 1)))) ms each, peak RSS \
                        \(String(format: "%.0f", ResourceUsage.peakRSSMegabytes())) MB
                        """
                    )
                    return ProcessExit(code: 0, reason: reason)
                }
                let hint =
                    transport.isEncrypted && node.id == 0 && !reason.hasPrefix("the coordinator refused")
                    ? " (CURVE: check that server.pub is the coordinator's and that this worker's public key is in its authorized_workers)"
                    : ""
                return ProcessExit(code: code, reason: reason + hint)
            }
        }
        return nil
    }
}
