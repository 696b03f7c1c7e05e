// A thin Swift wrapper over libzmq: context, ROUTER/DEALER sockets, multipart send/receive,
// polling with timeouts, linger, EINTR retries. The only code in Digits that calls libzmq.
// Sockets are not thread-safe: each has one owning thread.
import CZeroMQ
import Foundation

public struct ZMQError: Error, CustomStringConvertible, Equatable {
    public let code: Int32
    public let operation: String
    public init(_ operation: String, code: Int32 = zmq_errno()) {
        self.operation = operation
        self.code = code
    }
    public var description: String { "\(operation): \(String(cString: zmq_strerror(code)))" }
    public var isInterrupted: Bool { code == EINTR }
    public var wouldBlock: Bool { code == EAGAIN }
}

/// Keeps a frame's bytes alive (and immutable) while libzmq sends them from their own storage.
final class FrameBox: @unchecked Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// libzmq's free callback for zero-copy frames (called on its I/O thread): drops the box.
let releaseFrameBox: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, hint in
    if let hint { Unmanaged<FrameBox>.fromOpaque(hint).release() }
}

public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init(ioThreads: Int32 = 1) {
        handle = zmq_ctx_new()
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        // Never block in zmq_ctx_term on unsent messages.
        zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    public static var version: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

public enum SocketType: Sendable {
    case router, dealer, pair, req, rep
    var raw: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .pair: return ZMQ_PAIR
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        }
    }
}

public final class ZMQSocket {
    public let context: ZMQContext
    var handle: UnsafeMutableRawPointer?
    public let type: SocketType

    public init(context: ZMQContext, type: SocketType) throws {
        guard let h = zmq_socket(context.handle, type.raw) else { throw ZMQError("zmq_socket") }
        self.context = context
        self.handle = h
        self.type = type
        try setInt(ZMQ_LINGER, 0)
    }

    deinit { close() }

    /// Closes the socket (idempotent). Pending outgoing messages are dropped (linger 0).
    public func close() {
        if let h = handle {
            zmq_close(h)
            handle = nil
        }
    }

    func socket() throws -> UnsafeMutableRawPointer {
        guard let h = handle else { throw ZMQError("socket closed", code: ENOTSOCK) }
        return h
    }

    public func setInt(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(try socket(), option, &v, MemoryLayout<Int32>.size) == 0 else { throw ZMQError("zmq_setsockopt(\(option))") }
    }

    public func setInt64(_ option: Int32, _ value: Int64) throws {
        var v = value
        guard zmq_setsockopt(try socket(), option, &v, MemoryLayout<Int64>.size) == 0 else { throw ZMQError("zmq_setsockopt(\(option))") }
    }

    public func setBytes(_ option: Int32, _ value: [UInt8]) throws {
        let rc = value.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, value.count) }
        guard rc == 0 else { throw ZMQError("zmq_setsockopt(\(option))") }
    }

    public func getString(_ option: Int32) throws -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(try socket(), option, &buffer, &size) == 0 else { throw ZMQError("zmq_getsockopt(\(option))") }
        return String(cString: buffer)
    }

    /// The identity a ROUTER peer sees for this socket.
    public func setRoutingID(_ id: [UInt8]) throws { try setBytes(ZMQ_ROUTING_ID, id) }
    /// Largest inbound message accepted (bigger ones drop the connection).
    public func setMaxMessageSize(_ bytes: Int64) throws { try setInt64(ZMQ_MAXMSGSIZE, bytes) }
    public func setReconnectInterval(milliseconds: Int32, max: Int32) throws {
        try setInt(ZMQ_RECONNECT_IVL, milliseconds)
        try setInt(ZMQ_RECONNECT_IVL_MAX, max)
    }

    /// Binds and returns the endpoint actually bound (resolves port 0 and wildcards).
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        guard zmq_bind(try socket(), endpoint) == 0 else { throw ZMQError("bind \(endpoint)") }
        return try getString(ZMQ_LAST_ENDPOINT)
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(try socket(), endpoint) == 0 else { throw ZMQError("connect \(endpoint)") }
    }

    /// Sends one multipart message. With `dontWait`, throws `wouldBlock` instead of blocking.
    public func send(_ frames: [[UInt8]], dontWait: Bool = true) throws {
        let s = try socket()
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            if frame.count >= Self.zeroCopyBytes {
                try sendWithoutCopy(frame, socket: s, flags: flags)
                continue
            }
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(s, $0.baseAddress, $0.count, flags) }
                if rc >= 0 { break }
                let e = zmq_errno()
                if e == EINTR { continue }
                throw ZMQError("zmq_send", code: e)
            }
        }
    }

    /// Frames at least this large are handed to libzmq without copying (tensor frames); smaller
    /// ones are copied, which is cheaper than the bookkeeping.
    public static let zeroCopyBytes = 32 * 1024

    /// Sends one frame from the array's own storage: the array is kept alive in a box until libzmq's
    /// I/O thread calls `releaseFrameBox` once the bytes are on the wire.
    func sendWithoutCopy(_ frame: [UInt8], socket s: UnsafeMutableRawPointer, flags: Int32) throws {
        let box = FrameBox(frame)
        let data = box.bytes.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
        let msg = czmq_msg_new()!
        defer { czmq_msg_free(msg) }
        guard zmq_msg_init_data(msg, data, frame.count, releaseFrameBox, Unmanaged.passRetained(box).toOpaque()) == 0 else {
            Unmanaged.passUnretained(box).release()
            throw ZMQError("zmq_msg_init_data")
        }
        while true {
            if zmq_msg_send(msg, s, flags) >= 0 { return }
            let e = zmq_errno()
            if e == EINTR { continue }
            zmq_msg_close(msg)  // runs releaseFrameBox
            throw ZMQError("zmq_msg_send", code: e)
        }
    }

    /// Receives one multipart message; nil if none is waiting (non-blocking) or the timeout passed.
    /// Frames larger than `maxFrameBytes` are still drained but make the call throw.
    public func receive(dontWait: Bool = true) throws -> [[UInt8]]? {
        let s = try socket()
        var frames: [[UInt8]] = []
        let msg = czmq_msg_new()!
        defer { czmq_msg_free(msg) }
        while true {
            zmq_msg_init(msg)
            var rc: Int32
            repeat {
                rc = zmq_msg_recv(msg, s, dontWait && frames.isEmpty ? ZMQ_DONTWAIT : 0)
            } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 {
                let e = zmq_errno()
                zmq_msg_close(msg)
                if e == EAGAIN && frames.isEmpty { return nil }
                throw ZMQError("zmq_msg_recv", code: e)
            }
            let size = zmq_msg_size(msg)
            let data = zmq_msg_data(msg)!
            // Copy out: frame data is not aligned for Float and is freed on close.
            frames.append([UInt8](UnsafeRawBufferPointer(start: data, count: size)))
            let more = zmq_msg_more(msg) != 0
            zmq_msg_close(msg)
            if !more { return frames }
        }
    }

    var pollHandle: UnsafeMutableRawPointer? { handle }
}

/// Waits until some sockets are readable or `timeoutMilliseconds` passes (EINTR returns early with
/// none ready, so a signal flag can be checked). Returns readability per socket.
public func zmqPoll(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws -> [Bool] {
    var items = sockets.map { zmq_pollitem_t(socket: $0.pollHandle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    let rc = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
    if rc < 0 {
        if zmq_errno() == EINTR { return Array(repeating: false, count: sockets.count) }
        throw ZMQError("zmq_poll")
    }
    return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
}
