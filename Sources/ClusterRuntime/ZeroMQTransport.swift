// The production transport: libzmq ROUTER and DEALER sockets, secured by one TransportSecurity
// (CURVE and a ZAP allow-list, or plaintext where that is allowed).
import Foundation
import Logging
import ZeroMQ

public final class ZeroMQTransport: Transport {
    let context = ZMQContext()
    let security: TransportSecurity
    let logger: Logger
    var zap: ZAPHandler?
    var sockets: [ZeroMQMessageSocket] = []

    /// A server's ZAP allow-list starts here, before any socket binds.
    public init(security: TransportSecurity, logger: Logger) throws {
        self.security = security
        self.logger = logger
        zap = try security.startZAP(context, logger: logger)
    }

    deinit {
        for s in sockets { s.close() }
        zap?.stop()
    }

    public var isEncrypted: Bool { security.isCurve }

    public func listen(_ endpoint: String, maxMessageBytes: Int) throws -> (socket: MessageSocket, endpoint: String) {
        let socket = try ZMQSocket(context: context, type: .router)
        try security.secureServer(socket)
        try socket.setMaxMessageSize(Int64(maxMessageBytes))
        let bound = try socket.bind(endpoint)
        let s = ZeroMQMessageSocket(socket)
        sockets.append(s)
        return (s, bound)
    }

    public func dial(_ endpoint: String, maxMessageBytes: Int) throws -> MessageSocket {
        let socket = try ZMQSocket(context: context, type: .dealer)
        try security.secureClient(socket)
        try socket.setMaxMessageSize(Int64(maxMessageBytes))
        try socket.setReconnectInterval(milliseconds: 100, max: 2000)
        try socket.connect(endpoint)
        let s = ZeroMQMessageSocket(socket)
        sockets.append(s)
        return s
    }

    public func poll(_ sockets: [MessageSocket], timeoutMilliseconds: Int) throws -> [Bool] {
        try zmqPoll(sockets.map { ($0 as! ZeroMQMessageSocket).socket }, timeoutMilliseconds: timeoutMilliseconds)
    }

    public func flush() { Thread.sleep(forTimeInterval: 0.2) }
}

final class ZeroMQMessageSocket: MessageSocket {
    let socket: ZMQSocket
    init(_ socket: ZMQSocket) { self.socket = socket }
    func send(_ frames: [[UInt8]]) throws { try socket.send(frames, dontWait: true) }
    func receive() throws -> [[UInt8]]? { try socket.receive() }
    func close() { socket.close() }
}

/// The transport between processes and machines, secured as `security` says.
public func networkTransport(security: TransportSecurity, logger: Logger) throws -> Transport {
    try ZeroMQTransport(security: security, logger: logger)
}
