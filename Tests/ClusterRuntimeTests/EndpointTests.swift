import ClusterRuntime
import Foundation
import XCTest

final class EndpointTests: XCTestCase {
    func testLoopbackIsDecidedByAddressNotByPrefix() throws {
        for text in [
            "tcp://127.0.0.1:5555", "tcp://127.3.2.1:0", "tcp://localhost:1", "tcp://[::1]:9", "tcp://[::ffff:127.0.0.1]:9",
            "ipc:///tmp/x.sock", "inproc://a"
        ] {
            XCTAssertTrue(try Endpoint(text).isLoopback, text)
        }
        for text in [
            "tcp://127.evil.example:1", "tcp://1270.0.0.1:1", "tcp://10.0.0.1:5555", "tcp://0.0.0.0:5555", "tcp://*:5555",
            "tcp://[::]:1", "tcp://example.com:1", "tcp://127.0.0.1.nip.io:80", "pgm://eth0;239.192.1.1:5555"
        ] {
            XCTAssertFalse(try Endpoint(text).isLoopback, text)
        }
    }

    func testMalformedEndpointsAreNamedInTheError() {
        for text in ["localhost:5555", "tcp://host", "tcp://:", "tcp://host:99999", "tcp://host:port"] {
            XCTAssertThrowsError(try Endpoint(text), text) { error in
                XCTAssertTrue("\(error)".contains(text), "\(error)")
            }
        }
    }

    func testWildcardServersAreDialedOnTheCoordinatorsHost() throws {
        let coordinator = try Endpoint("tcp://10.1.2.3:5555")
        XCTAssertEqual(try Endpoint("tcp://0.0.0.0:4000").reachable(via: coordinator).description, "tcp://10.1.2.3:4000")
        XCTAssertEqual(try Endpoint("tcp://*:4000").reachable(via: coordinator).description, "tcp://10.1.2.3:4000")
        XCTAssertEqual(try Endpoint("tcp://10.9.9.9:4000").reachable(via: coordinator).description, "tcp://10.9.9.9:4000")
        XCTAssertEqual(try Endpoint("ipc:///tmp/s").reachable(via: coordinator).description, "ipc:///tmp/s")
        XCTAssertEqual(try Endpoint("tcp://127.0.0.1:5555").sibling(port: 0).description, "tcp://127.0.0.1:0")
        XCTAssertEqual(try Endpoint("ipc:///tmp/c.sock").sibling(port: 0).description, "ipc:///tmp/c.sock-data")
        XCTAssertEqual(try Endpoint("tcp://0.0.0.0:7").advertised(as: "node-1").description, "tcp://node-1:7")
    }

    func testTheEndpointFileRoundTripsWithItsKeys() throws {
        let file = EndpointFile(
            control: "tcp://127.0.0.1:1", data: "tcp://127.0.0.1:2", status: "http://127.0.0.1:3/", statusBind: "127.0.0.1:3")
        let text = String(decoding: try file.encoded(), as: UTF8.self)
        XCTAssertTrue(text.contains("\"status_bind\":\"127.0.0.1:3\""), text)
        XCTAssertTrue(text.contains("\"control\":\"tcp://127.0.0.1:1\""), text)
        let path = NSTemporaryDirectory() + "ep-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertNil(EndpointFile.read(path), "absent")
        try Data("{\"control\": \"tcp://x:1\"".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertNil(EndpointFile.read(path), "incomplete")
        try Data(try file.encoded()).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(EndpointFile.read(path), file)
    }
}

final class InMemoryTransportTests: XCTestCase {
    func testRouterAndDealerSemantics() throws {
        let network = InMemoryNetwork()
        let server = network.transport(named: "server")
        let (router, bound) = try server.listen("tcp://127.0.0.1:0", maxMessageBytes: 1 << 20)
        XCTAssertNotEqual(bound, "tcp://127.0.0.1:0", "port 0 is resolved")
        XCTAssertThrowsError(try server.listen(bound, maxMessageBytes: 1)) { XCTAssertTrue("\($0)".contains("in use")) }
        // A dealer may send before the endpoint is bound: the message waits, as ZeroMQ queues it.
        let client = network.transport(named: "client")
        let early = try client.dial("inproc://later", maxMessageBytes: 1 << 20)
        try early.send([[1]])
        let dealer = try client.dial(bound, maxMessageBytes: 1 << 20)
        try dealer.send([[7, 7], [8]])
        XCTAssertEqual(try server.poll([router], timeoutMilliseconds: 0), [true])
        let message = try XCTUnwrap(try router.receive())
        XCTAssertEqual(Array(message.dropFirst()), [[7, 7], [8]])
        try router.send([message[0], [9]])
        XCTAssertEqual(try dealer.receive(), [[9]])
        try router.send([[0xFF, 0xFF], [1]])  // unknown peer: dropped, as a ROUTER does
        XCTAssertNil(try dealer.receive())
        let (late, _) = try network.transport(named: "late").listen("inproc://later", maxMessageBytes: 1)
        _ = try client.poll([early], timeoutMilliseconds: 0)
        XCTAssertEqual(try late.receive().map { Array($0.dropFirst()) }, [[1]])
        // Faults: drop and duplicate by hop.
        network.fault = { hop, _ in hop.from == "client" ? 2 : 0 }
        try dealer.send([[3]])
        XCTAssertEqual(try router.receive().map { Array($0.dropFirst()) }, [[3]])
        XCTAssertEqual(try router.receive().map { Array($0.dropFirst()) }, [[3]])
        try router.send([message[0], [4]])
        XCTAssertNil(try dealer.receive(), "dropped")
        client.close()
        XCTAssertThrowsError(try dealer.send([[5]]), "a closed socket refuses")
    }
}
