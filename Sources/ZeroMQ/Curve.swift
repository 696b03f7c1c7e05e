// ZeroMQ CURVE security: key pairs (Z85 text), server and client socket options, and a ZAP
// handler that admits only listed client keys. Without a ZAP handler libzmq admits any client
// that knows the server's public key, so a CURVE server must start one first (`ZAPHandler`).
import CZeroMQ
import Foundation
import Synchronization

/// A CURVE key pair as 40-character Z85 strings.
public struct CurveKeyPair: Equatable, Sendable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair from libsodium's random source.
    public static func generate() throws -> CurveKeyPair {
        guard Curve.isAvailable else { throw ZMQError("CURVE is not built into this libzmq", code: ENOTSUP) }
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// True if the public key belongs to the secret key.
    public var isConsistent: Bool {
        guard let derived = Curve.publicKey(forSecret: secretKey) else { return false }
        return derived == publicKey
    }
}

public enum Curve {
    /// Whether this libzmq was built with CURVE (libsodium).
    public static var isAvailable: Bool { zmq_has("curve") != 0 }

    /// The 32 bytes a 40-character Z85 key encodes, or nil if it is not one.
    public static func decode(_ z85: String) -> [UInt8]? {
        guard z85.utf8.count == 40, z85.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        let ok = z85.withCString { zmq_z85_decode(&out, $0) } != nil
        return ok ? out : nil
    }

    /// Z85 text of 32 key bytes.
    public static func encode(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, key, 32) != nil else { return nil }
        return String(cString: out)
    }

    /// The public key of a Z85 secret key.
    public static func publicKey(forSecret secret: String) -> String? {
        guard decode(secret) != nil else { return nil }
        var pub = [CChar](repeating: 0, count: 41)
        let rc = secret.withCString { zmq_curve_public(&pub, $0) }
        return rc == 0 ? String(cString: pub) : nil
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with `keys` (call before bind). Clients are checked by the
    /// ZAP handler of this socket's context under `domain`.
    public func makeCurveServer(_ keys: CurveKeyPair, domain: String = "digits") throws {
        try setInt(ZMQ_CURVE_SERVER, 1)
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(keys.secretKey.utf8))
        try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8))
    }

    /// Makes this socket a CURVE client of the server with public key `serverKey` (call before connect).
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws {
        try setBytes(ZMQ_CURVE_SERVERKEY, Array(serverKey.utf8))
        try setBytes(ZMQ_CURVE_PUBLICKEY, Array(keys.publicKey.utf8))
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(keys.secretKey.utf8))
    }
}

/// One ZAP request (RFC 27) as libzmq sends it to the handler. Pure parsing, no I/O.
public struct ZAPRequest: Equatable, Sendable {
    public var requestID: [UInt8]
    public var domain: String
    public var address: String
    public var mechanism: String
    /// For CURVE: the client's 32-byte public key.
    public var credentials: [[UInt8]]

    public static func parse(_ frames: [[UInt8]]) -> ZAPRequest? {
        guard frames.count >= 6, String(decoding: frames[0], as: UTF8.self) == "1.0" else { return nil }
        return ZAPRequest(
            requestID: frames[1], domain: String(decoding: frames[2], as: UTF8.self),
            address: String(decoding: frames[3], as: UTF8.self),
            mechanism: String(decoding: frames[5], as: UTF8.self),
            credentials: Array(frames.dropFirst(6)))
    }

    /// The decision for this request: admit CURVE clients whose key is listed in `authorized`.
    public func decide(authorized: Set<[UInt8]>, domain expected: String) -> (admit: Bool, reason: String, user: String) {
        guard mechanism == "CURVE" else { return (false, "mechanism \(mechanism) is not allowed, CURVE is required", "") }
        guard domain == expected else { return (false, "unknown ZAP domain '\(domain)'", "") }
        guard credentials.count == 1, credentials[0].count == 32 else { return (false, "malformed CURVE credentials", "") }
        let z85 = Curve.encode(credentials[0]) ?? "?"
        guard authorized.contains(credentials[0]) else { return (false, "key \(z85) is not authorised", "") }
        return (true, "OK", z85)
    }

    /// The reply frames for a decision.
    public func reply(admit: Bool, reason: String, user: String) -> [[UInt8]] {
        [Array("1.0".utf8), requestID, Array((admit ? "200" : "400").utf8), Array(reason.utf8), Array(user.utf8), []]
    }
}

/// Answers libzmq's authentication requests for one context on its own thread (its REP socket
/// never leaves that thread). Start it before binding any CURVE server socket of the context.
public final class ZAPHandler: @unchecked Sendable {
    public let domain: String
    private let authorized: Set<[UInt8]>
    private let stopFlag = Atomic<Bool>(false)
    private let admittedCount = Atomic<Int>(0)
    private let refusedCount = Atomic<Int>(0)
    private let done = DispatchSemaphore(value: 0)
    private let onRefusal: @Sendable (String) -> Void

    /// Binds `inproc://zeromq.zap.01` in `context` (throws if it cannot: then nothing would be checked)
    /// and serves until `stop()`. `onRefusal` is called on the handler thread with a reason.
    public init(
        context: ZMQContext, authorizedKeys: [String], domain: String = "digits",
        onRefusal: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        var keys = Set<[UInt8]>()
        for k in authorizedKeys {
            guard let raw = Curve.decode(k) else {
                throw ZMQError("authorised key '\(k)' is not a 40-character Z85 CURVE key", code: EINVAL)
            }
            keys.insert(raw)
        }
        self.authorized = keys
        self.domain = domain
        self.onRefusal = onRefusal
        let ready = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var bindError: Error?
        let thread = Thread { [self] in
            let socket: ZMQSocket
            do {
                socket = try ZMQSocket(context: context, type: .rep)
                try socket.bind("inproc://zeromq.zap.01")
            } catch {
                bindError = error
                ready.signal()
                done.signal()
                return
            }
            ready.signal()
            serve(socket)
            socket.close()
            done.signal()
        }
        thread.name = "digits-zap"
        thread.start()
        ready.wait()
        if let bindError { throw bindError }
    }

    public var admitted: Int { admittedCount.load(ordering: .relaxed) }
    public var refused: Int { refusedCount.load(ordering: .relaxed) }

    private func serve(_ socket: ZMQSocket) {
        while !stopFlag.load(ordering: .relaxed) {
            guard let readable = try? zmqPoll([socket], timeoutMilliseconds: 50), readable[0] else { continue }
            guard let frames = try? socket.receive() else { continue }
            guard let request = ZAPRequest.parse(frames) else {
                // A REP socket must answer: a malformed request gets a refusal.
                refusedCount.add(1, ordering: .relaxed)
                try? socket.send([
                    Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []
                ])
                continue
            }
            let d = request.decide(authorized: authorized, domain: domain)
            if d.admit {
                admittedCount.add(1, ordering: .relaxed)
            } else {
                refusedCount.add(1, ordering: .relaxed)
                onRefusal("refused a connection from \(request.address.isEmpty ? "an unknown address" : request.address): \(d.reason)")
            }
            try? socket.send(request.reply(admit: d.admit, reason: d.reason, user: d.user), dontWait: false)
        }
    }

    /// Stops the handler thread and waits for it (idempotent).
    public func stop() {
        if stopFlag.exchange(true, ordering: .relaxed) { return }
        done.wait()
    }

    deinit { stop() }
}
