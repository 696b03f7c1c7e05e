// The seam between the role loops and the network. The loops only listen (ROUTER: many peers,
// each message prefixed by the sender's identity), dial (DEALER: one peer, reconnecting by itself),
// send without blocking, receive what is waiting and poll. `ZeroMQTransport` does this with libzmq
// between processes; `InMemoryNetwork` does it inside one process, for tests that drive the
// production loops with a simulated clock and injected faults.

/// One message socket: ROUTER when made by `listen` (the first frame of every message is the
/// peer's identity, in and out), DEALER when made by `dial`.
public protocol MessageSocket: AnyObject {
    /// Queues a message without blocking; throws when it cannot be queued (for example a full queue).
    func send(_ frames: [[UInt8]]) throws
    /// The next whole message, or nil when none is waiting. Never blocks.
    func receive() throws -> [[UInt8]]?
    func close()
}

/// The sockets of one process.
public protocol Transport: AnyObject {
    /// Whether the sockets are encrypted and authenticated (CURVE).
    var isEncrypted: Bool { get }
    /// A ROUTER socket bound to `endpoint`, and the endpoint it bound (port 0 resolved).
    func listen(_ endpoint: String, maxMessageBytes: Int) throws -> (socket: MessageSocket, endpoint: String)
    /// A DEALER socket connected to `endpoint`; it connects (and reconnects) in the background.
    func dial(_ endpoint: String, maxMessageBytes: Int) throws -> MessageSocket
    /// Waits at most `timeoutMilliseconds` until one of `sockets` has a message; which have.
    func poll(_ sockets: [MessageSocket], timeoutMilliseconds: Int) throws -> [Bool]
    /// Lets queued messages leave before the process ends (the last words of a finished job).
    func flush()
}

extension MessageSocket {
    /// Sends without ever failing the caller: a message that cannot be queued (the peer is gone
    /// or stalled) is dropped with a warning; silence and heartbeat deadlines decide what follows.
    func trySend(_ frames: [[UInt8]], to peer: String, warn: (String) -> Void) {
        do { try send(frames) } catch { warn("could not send to \(peer): \(error)") }
    }
}
