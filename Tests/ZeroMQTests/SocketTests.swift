import XCTest

@testable import ZeroMQ

final class SocketTests: XCTestCase {
    func testRouterDealerRoundTripOverTCPWithPortZero() throws {
        let ctx = ZMQContext()
        let router = try ZMQSocket(context: ctx, type: .router)
        let endpoint = try router.bind("tcp://127.0.0.1:0")
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":0"), endpoint)
        let dealer = try ZMQSocket(context: ctx, type: .dealer)
        try dealer.setRoutingID(Array("peer-1".utf8))
        try dealer.connect(endpoint)
        let big = [UInt8](repeating: 7, count: 1 << 20)
        try dealer.send([[1, 2, 3], big], dontWait: false)
        XCTAssertTrue(try zmqPoll([router], timeoutMilliseconds: 5000)[0], "no message within 5 s")
        let frames = try XCTUnwrap(try router.receive())
        XCTAssertEqual(frames.count, 3)
        XCTAssertEqual(frames[0], Array("peer-1".utf8))
        XCTAssertEqual(frames[1], [1, 2, 3])
        XCTAssertEqual(frames[2], big)
        try router.send([frames[0], [9]])
        XCTAssertTrue(try zmqPoll([dealer], timeoutMilliseconds: 5000)[0])
        XCTAssertEqual(try dealer.receive(), [[9]])
        XCTAssertNil(try dealer.receive(), "nothing else is waiting")
    }

    func testPollTimesOutAndClosedSocketsFailCleanly() throws {
        let ctx = ZMQContext()
        let s = try ZMQSocket(context: ctx, type: .dealer)
        _ = try s.bind("ipc:///tmp/digits-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let start = Date()
        XCTAssertEqual(try zmqPoll([s], timeoutMilliseconds: 50), [false])
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.03)
        s.close()
        XCTAssertThrowsError(try s.send([[1]]))
    }

    func testOversizedMessagesAreDroppedByTheReceiver() throws {
        let ctx = ZMQContext()
        let router = try ZMQSocket(context: ctx, type: .router)
        try router.setMaxMessageSize(1000)
        let endpoint = try router.bind("tcp://127.0.0.1:0")
        let dealer = try ZMQSocket(context: ctx, type: .dealer)
        try dealer.connect(endpoint)
        try dealer.send([[UInt8](repeating: 0, count: 5000)], dontWait: false)
        XCTAssertEqual(try zmqPoll([router], timeoutMilliseconds: 300), [false], "an oversized message must not be delivered")
    }
}
