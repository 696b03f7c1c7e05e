// The transport inside one process: ROUTER and DEALER semantics over queues, for tests that run
// the production role loops together on one thread, a simulated clock and injected faults
// (dropped, duplicated or cut-off links, processes that die). Polls never block: time is the test's.

/// Endpoints and links of a simulated network. Not thread-safe: one test thread drives it.
public final class InMemoryNetwork {
    /// One delivery: from which transport (process) to which, over which listening endpoint.
    public struct Hop: Equatable, Sendable {
        public let from: String
        public let to: String
        public let endpoint: String
    }

    /// How many copies of each message to deliver: 0 drops it, 1 delivers it (the default), 2 duplicates it.
    public var fault: ((Hop, [[UInt8]]) -> Int)?

    var routers: [String: InMemoryRouterSocket] = [:]
    var connections = 0
    var ports = 40_000

    public init() {}

    /// The sockets of one simulated process.
    public func transport(named name: String) -> InMemoryTransport { InMemoryTransport(network: self, name: name) }

    func copies(_ hop: Hop, _ frames: [[UInt8]]) -> Int { fault?(hop, frames) ?? 1 }
}

public final class InMemoryTransport: Transport {
    let network: InMemoryNetwork
    public let name: String
    var sockets: [InMemorySocket] = []

    init(network: InMemoryNetwork, name: String) {
        self.network = network
        self.name = name
    }

    public var isEncrypted: Bool { false }

    public func listen(_ endpoint: String, maxMessageBytes: Int) throws -> (socket: MessageSocket, endpoint: String) {
        var bound = try Endpoint(endpoint)
        if bound.scheme == .tcp, bound.port == "0" || bound.port == "*" {
            network.ports += 1
            bound = bound.sibling(port: network.ports)
        }
        if let existing = network.routers[bound.description], !existing.closed {
            throw RuntimeError("\(bound): address already in use")
        }
        let socket = InMemoryRouterSocket(transport: self, endpoint: bound.description)
        network.routers[bound.description] = socket
        sockets.append(socket)
        return (socket, bound.description)
    }

    public func dial(_ endpoint: String, maxMessageBytes: Int) throws -> MessageSocket {
        _ = try Endpoint(endpoint)
        network.connections += 1
        let n = network.connections
        let identity: [UInt8] = [
            0, UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16),
            UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)
        ]
        let socket = InMemoryDealerSocket(transport: self, endpoint: endpoint, identity: identity)
        sockets.append(socket)
        return socket
    }

    public func poll(_ sockets: [MessageSocket], timeoutMilliseconds: Int) throws -> [Bool] {
        for case let dealer as InMemoryDealerSocket in self.sockets { dealer.deliverPending() }
        return sockets.map { !($0 as! InMemorySocket).inbox.isEmpty }
    }

    public func flush() {}

    /// The process dies: every socket closes and what it had not read is lost.
    public func close() { for s in sockets { s.close() } }
}

class InMemorySocket: MessageSocket {
    /// The owning transport (a socket keeps its simulated process alive as long as the network routes to it).
    let transport: InMemoryTransport
    let endpoint: String
    var inbox: [[[UInt8]]] = []
    var closed = false

    init(transport: InMemoryTransport, endpoint: String) {
        self.transport = transport
        self.endpoint = endpoint
    }

    func send(_ frames: [[UInt8]]) throws { fatalError("abstract") }

    func receive() throws -> [[UInt8]]? {
        guard !closed else { throw RuntimeError("\(endpoint): socket closed") }
        return inbox.isEmpty ? nil : inbox.removeFirst()
    }

    func close() {
        closed = true
        inbox.removeAll()
    }
}

final class InMemoryRouterSocket: InMemorySocket {
    var peers: [[UInt8]: InMemoryDealerSocket] = [:]

    /// The first frame names the peer; a message to an unknown or departed peer is dropped (as a ZeroMQ ROUTER does).
    override func send(_ frames: [[UInt8]]) throws {
        guard !closed else { throw RuntimeError("\(endpoint): socket closed") }
        guard let identity = frames.first, let peer = peers[identity], !peer.closed else { return }
        let hop = InMemoryNetwork.Hop(from: transport.name, to: peer.transport.name, endpoint: endpoint)
        let body = Array(frames.dropFirst())
        for _ in 0..<transport.network.copies(hop, body) { peer.inbox.append(body) }
    }
}

final class InMemoryDealerSocket: InMemorySocket {
    let identity: [UInt8]
    /// Messages sent before the endpoint was bound (ZeroMQ queues them while it connects).
    var pending: [[[UInt8]]] = []

    init(transport: InMemoryTransport, endpoint: String, identity: [UInt8]) {
        self.identity = identity
        super.init(transport: transport, endpoint: endpoint)
    }

    override func send(_ frames: [[UInt8]]) throws {
        guard !closed else { throw RuntimeError("\(endpoint): socket closed") }
        pending.append(frames)
        deliverPending()
    }

    func deliverPending() {
        guard !closed, !pending.isEmpty, let router = transport.network.routers[endpoint], !router.closed else { return }
        router.peers[identity] = self
        let hop = InMemoryNetwork.Hop(from: transport.name, to: router.transport.name, endpoint: endpoint)
        for frames in pending {
            for _ in 0..<transport.network.copies(hop, frames) { router.inbox.append([identity] + frames) }
        }
        pending.removeAll()
    }

    override func close() {
        super.close()
        pending.removeAll()
    }
}
