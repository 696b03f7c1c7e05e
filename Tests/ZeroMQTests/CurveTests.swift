import XCTest

@testable import ZeroMQ

final class CurveTests: XCTestCase {
    func testKeyPairsAreZ85AndConsistent() throws {
        let a = try CurveKeyPair.generate()
        let b = try CurveKeyPair.generate()
        XCTAssertEqual(a.publicKey.count, 40)
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(a.isConsistent)
        XCTAssertFalse(CurveKeyPair(publicKey: b.publicKey, secretKey: a.secretKey).isConsistent)
        let raw = try XCTUnwrap(Curve.decode(a.publicKey))
        XCTAssertEqual(Curve.encode(raw), a.publicKey)
        XCTAssertNil(Curve.decode("too short"))
        XCTAssertNil(Curve.decode(String(repeating: " ", count: 40)))
    }

    func testZAPDecisions() throws {
        let key = try XCTUnwrap(Curve.decode(try CurveKeyPair.generate().publicKey))
        let other = try XCTUnwrap(Curve.decode(try CurveKeyPair.generate().publicKey))
        func request(_ mechanism: String, _ creds: [[UInt8]], domain: String = "digits") -> ZAPRequest {
            ZAPRequest.parse([Array("1.0".utf8), [7], Array(domain.utf8), Array("10.0.0.2".utf8), [], Array(mechanism.utf8)] + creds)!
        }
        XCTAssertTrue(request("CURVE", [key]).decide(authorized: [key], domain: "digits").admit)
        XCTAssertFalse(request("CURVE", [other]).decide(authorized: [key], domain: "digits").admit)
        XCTAssertFalse(request("NULL", []).decide(authorized: [key], domain: "digits").admit)
        XCTAssertFalse(request("CURVE", [key], domain: "x").decide(authorized: [key], domain: "digits").admit)
        XCTAssertNil(ZAPRequest.parse([Array("2.0".utf8), [], [], [], [], []]))
        XCTAssertNil(ZAPRequest.parse([Array("1.0".utf8)]))
        let reply = request("CURVE", [key]).reply(admit: false, reason: "no", user: "")
        XCTAssertEqual(reply[1], [7])
        XCTAssertEqual(String(decoding: reply[2], as: UTF8.self), "400")
    }

    /// A listed client talks; a client with an unknown key and a plaintext client get nothing.
    func testOnlyAuthorisedClientsReachACurveServer() throws {
        let server = try CurveKeyPair.generate()
        let good = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let ctx = ZMQContext()
        let refusals = Atomic_Counter()
        let zap = try ZAPHandler(context: ctx, authorizedKeys: [good.publicKey]) { _ in refusals.increment() }
        defer { zap.stop() }
        let router = try ZMQSocket(context: ctx, type: .router)
        try router.makeCurveServer(server)
        let endpoint = try router.bind("tcp://127.0.0.1:0")

        let clientContext = ZMQContext()
        func client(_ keys: CurveKeyPair?) throws -> ZMQSocket {
            let s = try ZMQSocket(context: clientContext, type: .dealer)
            if let keys { try s.makeCurveClient(serverKey: server.publicKey, keys: keys) }
            try s.connect(endpoint)
            return s
        }
        let intruder = try client(stranger)
        let plain = try client(nil)
        let friend = try client(good)
        try intruder.send([Array("from stranger".utf8)])
        try plain.send([Array("from plaintext".utf8)])
        try friend.send([Array("from friend".utf8)])
        XCTAssertTrue(try zmqPoll([router], timeoutMilliseconds: 5000)[0], "the authorised client got through within 5 s")
        let got = try XCTUnwrap(try router.receive())
        XCTAssertEqual(got.last, Array("from friend".utf8))
        try router.send([got[0], Array("reply".utf8)])
        XCTAssertTrue(try zmqPoll([friend], timeoutMilliseconds: 5000)[0])
        XCTAssertEqual(try friend.receive(), [Array("reply".utf8)])
        // Nothing else ever arrives, and the strangers can read nothing.
        XCTAssertEqual(try zmqPoll([router], timeoutMilliseconds: 1000), [false])
        XCTAssertEqual(try zmqPoll([intruder, plain], timeoutMilliseconds: 200), [false, false])
        XCTAssertGreaterThanOrEqual(zap.refused, 1, "the unknown key was refused by the ZAP handler")
        XCTAssertEqual(zap.admitted, 1)
        XCTAssertEqual(refusals.value, zap.refused)
        for s in [intruder, plain, friend, router] { s.close() }
    }
}

final class Atomic_Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() {
        lock.lock()
        n += 1
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
}
