import Cluster
// A parameter-server shard process (`digits server`): a control socket to the coordinator, a
// listening data socket for the workers, and the loop around the ShardServer state machine.
import Foundation
import Logging
import WireProtocol

public final class ShardLoop {
    public let node: ShardServer
    let transport: Transport
    let control: MessageSocket
    let data: MessageSocket
    /// The endpoint workers dial, as announced to the coordinator.
    public let endpoint: String
    let clock: () -> UInt64
    let logger: Logger

    /// Listens on `bind` for workers and dials the coordinator. The announced endpoint is `bind`
    /// as bound, on host `advertise` when given, and dialable via the coordinator's host when bound to a wildcard.
    public init(
        name: String, host: String, transport: Transport, coordinator: String, bind: String, advertise: String?,
        logger: Logger, clock: @escaping () -> UInt64 = monotonicNanoseconds
    ) throws {
        self.transport = transport
        self.logger = logger
        self.clock = clock
        control = try transport.dial(coordinator, maxMessageBytes: 4 * WireCodec.maxPayloadFrame)
        let (socket, bound) = try transport.listen(bind, maxMessageBytes: WireCodec.maxPayloadFrame + WireCodec.maxBody + 4096)
        data = socket
        var announced = try Endpoint(bound)
        if let advertise { announced = announced.advertised(as: advertise) }
        endpoint = announced.reachable(via: try Endpoint(coordinator)).description
        node = ShardServer(name: name, host: host, endpoint: endpoint, logger: logger, now: clock())
    }

    /// Runs until the job ends, the coordinator falls silent, or `stopRequested` returns a signal.
    public func run(stopRequested: () -> Int32? = { StopSignal.requested }) throws -> ProcessExit {
        if let outcome = try start() { return outcome }
        while true {
            if stopRequested() != nil { return ProcessExit(code: 0, reason: "stopped on signal") }
            if let outcome = try runOnce(timeoutMilliseconds: 50) { return outcome }
        }
    }

    /// The first hello.
    public func start() throws -> ProcessExit? { try perform(node.start(now: clock())) }

    public func runOnce(timeoutMilliseconds: Int) throws -> ProcessExit? {
        let readable = try transport.poll([control, data], timeoutMilliseconds: timeoutMilliseconds)
        if readable[0] {
            while let frames = try control.receive() {
                if let outcome = try perform(node.control(frames, now: clock())) { return outcome }
            }
        }
        if readable[1] {
            while let frames = try data.receive(), frames.count >= 2 {
                if let outcome = try perform(node.data(peer: frames[0], frames: Array(frames.dropFirst()), now: clock())) { return outcome }
            }
        }
        return try perform(node.tick(now: clock()))
    }

    func perform(_ actions: [ShardAction]) throws -> ProcessExit? {
        for action in actions {
            switch action {
            case .sendControl(let frames):
                control.trySend(frames, to: "the coordinator") { [logger] in logger.warning("\($0)") }
            case .sendData(let peer, let frames):
                data.trySend([peer] + frames, to: "a worker") { [logger] in logger.warning("\($0)") }
            case .exit(let code, let reason):
                return ProcessExit(code: code, reason: reason)
            }
        }
        return nil
    }
}
