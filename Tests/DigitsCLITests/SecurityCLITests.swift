import Foundation
import TestSupport
import WireProtocol
import XCTest
import ZeroMQ

/// CURVE with a ZAP allow-list: `digits keys generate`, a coordinator that admits only listed
/// keys (raw ZeroMQ clients without keys or with unknown keys hear nothing), and a keyed cluster
/// that trains to the same weights as a plaintext one.
final class SecurityCLITests: XCTestCase {
    func testKeysGenerateWritesPrivateKeyFilesAndNeverOverwrites() throws {
        let dir = CLI.tempDirectory("keys") + "/k"
        let r = try CLI.run(["keys", "generate", "--out", dir, "--workers", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(files, ["authorized_workers", "server.key", "server.pub", "worker-1.key", "worker-2.key", "worker.key"])
        for secret in ["server.key", "worker.key", "worker-1.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: dir + "/" + secret)[.posixPermissions] as! Int
            XCTAssertEqual(mode & 0o077, 0, "\(secret) is private")
        }
        let authorized = try String(contentsOfFile: dir + "/authorized_workers", encoding: .utf8)
        XCTAssertEqual(authorized.split(separator: "\n").filter { !$0.hasPrefix("#") }.count, 3)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/server.key"))
        let again = try CLI.run(["keys", "generate", "--out", dir])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("not empty"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/server.key")), before, "keys are never overwritten")
    }

    func testPlaintextOffLoopbackNeedsKeysOrInsecure() throws {
        let data = try SyntheticData.writeDirectory(train: 100, test: 50)
        let r = try CLI.run(["coordinator", "--bind", "tcp://0.0.0.0:0", "--data", data, "--out", CLI.tempDirectory("plain") + "/r"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("needs CURVE keys") && r.stderr.contains("--insecure"), r.stderr)
        let w = try CLI.run(["worker", "--coordinator", "tcp://192.0.2.1:5555"])
        XCTAssertNotEqual(w.status, 0)
        XCTAssertTrue(w.stderr.contains("needs CURVE keys"), w.stderr)
        let bad = CLI.tempDirectory("badkeys")
        try "public = \"short\"\n".write(toFile: bad + "/server.key", atomically: true, encoding: .utf8)
        let k = try CLI.run(["coordinator", "--bind", "tcp://127.0.0.1:0", "--keys", bad, "--data", data, "--out", bad + "/r"])
        XCTAssertNotEqual(k.status, 0)
        XCTAssertTrue(k.stderr.contains("server.key:1"), k.stderr)
    }

    func testStrangersCannotRegisterAndKeyedWorkersTrain() throws {
        let data = try SyntheticData.writeDirectory(train: 400, test: 100)
        let dir = CLI.tempDirectory("curve")
        XCTAssertEqual(try CLI.run(["keys", "generate", "--out", dir + "/keys"]).status, 0)
        XCTAssertEqual(try CLI.run(["keys", "generate", "--out", dir + "/other"]).status, 0)
        let recipe = ["--epochs", "1", "--batch", "32", "--micro-batch", "8", "--seed", "3"]
        let coordinator = Process()
        coordinator.executableURL = URL(fileURLWithPath: CLI.binary)
        coordinator.arguments =
            [
                "coordinator", "--bind", "tcp://127.0.0.1:0", "--workers", "1", "--keys", dir + "/keys",
                "--endpoint-file", dir + "/ep.json", "--data", data, "--out", dir + "/run", "--join-deadline", "60"
            ] + recipe
        let log = dir + "/coordinator.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        coordinator.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        coordinator.standardError = coordinator.standardOutput
        try coordinator.run()
        defer { if coordinator.isRunning { kill(coordinator.processIdentifier, SIGKILL) } }
        var endpoint: String?
        let deadline = Date().addingTimeInterval(60)
        while endpoint == nil && Date() < deadline {
            if let d = FileManager.default.contents(atPath: dir + "/ep.json"),
                let j = try? JSONSerialization.jsonObject(with: d) as? [String: String]
            {
                endpoint = j["control"]
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        let control = try XCTUnwrap(endpoint, "the coordinator listens")

        // Raw ZeroMQ clients send a well-formed HELLO: no key, and the right server key with an unlisted client key.
        let serverPub = try String(contentsOfFile: dir + "/keys/server.pub", encoding: .utf8)
            .split(separator: "\"")[1]
        let ctx = ZMQContext()
        let hello = WireCodec.encode(
            Envelope(
                jobID: 0, sender: 0, step: 0,
                message: .hello(Hello(role: .worker, name: "intruder", host: "nowhere", pid: 1))))
        let plain = try ZMQSocket(context: ctx, type: .dealer)
        try plain.connect(control)
        let stranger = try ZMQSocket(context: ctx, type: .dealer)
        try stranger.makeCurveClient(serverKey: String(serverPub), keys: try CurveKeyPair.generate())
        try stranger.connect(control)
        for _ in 0..<3 {
            try? plain.send(hello)  // may not even queue: the handshake never completes
            try? stranger.send(hello)
            Thread.sleep(forTimeInterval: 0.3)
        }
        XCTAssertEqual(try zmqPoll([plain, stranger], timeoutMilliseconds: 1500), [false, false], "strangers hear nothing")
        plain.close()
        stranger.close()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(text.contains("security: refused a connection"), text)
        XCTAssertFalse(text.contains("intruder"), "no stranger registered: \(text)")

        // A worker with the listed key joins and the run completes with the plaintext run's weights.
        let worker = try CLI.run(["worker", "--coordinator", control, "--keys", dir + "/keys", "--silence-deadline", "60"], timeout: 300)
        XCTAssertEqual(worker.status, 0, worker.stderr)
        coordinator.waitUntilExit()
        let finalLog = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertEqual(coordinator.terminationStatus, 0, finalLog)
        let plainRun = try CLI.run(["cluster", "--workers", "1", "--data", data, "--out", dir + "/plain"] + recipe, timeout: 300)
        XCTAssertEqual(plainRun.status, 0, plainRun.stderr)
        func sha(_ run: String) throws -> String? {
            (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any])?[
                "weights_sha256"] as? String
        }
        XCTAssertEqual(try sha(dir + "/run"), try sha(dir + "/plain"))
    }
}
