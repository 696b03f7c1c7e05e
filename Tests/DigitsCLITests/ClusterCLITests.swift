import Foundation
import TestSupport
import XCTest

/// The real cluster: separate processes talking over ZeroMQ on loopback.
final class ClusterCLITests: XCTestCase {
    static let recipe = ["--epochs", "2", "--batch", "32", "--micro-batch", "8", "--model", "keras-example", "--seed", "3"]

    func summary(_ dir: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as! [String: Any]
    }

    func testClusterWeightsEqualSingleProcessWeightsForAnyWorkerCount() throws {
        let data = try SyntheticData.writeDirectory(train: 400, test: 100)
        let out = CLI.tempDirectory("cluster")
        let single = try CLI.run(["train", "--data", data, "--out", out + "/train", "--threads", "2"] + Self.recipe)
        XCTAssertEqual(single.status, 0, single.stderr)
        let reference = try summary(out + "/train")["weights_sha256"] as! String
        for n in [1, 2, 3] {
            let r = try CLI.run(
                ["cluster", "--workers", "\(n)", "--data", data, "--out", out + "/c\(n)", "--join-deadline", "60"] + Self.recipe,
                timeout: 300)
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("[coordinator]") && r.stdout.contains("[worker \(n)]"), "log lines carry role prefixes")
            let s = try summary(out + "/c\(n)")
            XCTAssertEqual(s["weights_sha256"] as? String, reference, "--workers \(n)")
            XCTAssertEqual(s["workers"] as? Int, n)
            for f in ["model.digits", "metrics.jsonl", "checkpoints"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/c\(n)/" + f), f)
            }
        }
        // Two standalone parameter-server shards, each owning half of the keys and their Adam state.
        let sharded = try CLI.run(
            [
                "cluster", "--workers", "2", "--servers", "2", "--data", data, "--out", out + "/s2", "--join-deadline", "60",
                "--checkpoint-every", "7"
            ] + Self.recipe, timeout: 300)
        XCTAssertEqual(sharded.status, 0, sharded.stdout + sharded.stderr)
        XCTAssertTrue(sharded.stdout.contains("[server 2]"), sharded.stdout)
        XCTAssertEqual(try summary(out + "/s2")["weights_sha256"] as? String, reference, "--workers 2 --servers 2")
    }

    /// Processes whose command line mentions `needle`.
    static func processes(mentioning needle: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self).contains(needle)
        }
    }

    /// True if `ancestor` is `pid`'s parent, grandparent, ... (from /proc/PID/stat), so a test only touches
    /// its own cluster's processes, never another run's on the same machine.
    static func isDescendant(_ pid: Int32, of ancestor: Int32) -> Bool {
        var current = pid
        for _ in 0..<16 {
            guard let stat = try? String(contentsOfFile: "/proc/\(current)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let parent = Int32(fields[1]) else { return false }
            if parent == ancestor { return true }
            if parent <= 1 { return false }
            current = parent
        }
        return false
    }

    /// Starts `digits cluster` in the background; returns the process and its output file.
    func startCluster(_ args: [String]) throws -> (Process, String) { try spawn(["cluster"] + args) }

    func waitFor(_ text: String, in log: String, seconds: Double) -> Bool { waitForCount(text, 1, in: log, seconds: seconds) }

    func testStoppingTheLauncherLeavesNoProcess() throws {
        let data = try SyntheticData.writeDirectory(train: 4000, test: 100)
        for sig in [SIGTERM, SIGKILL] {
            let out = CLI.tempDirectory("stop") + "/run"
            let (p, log) = try startCluster(["--workers", "2", "--data", data, "--out", out, "--epochs", "50", "--batch", "32"])
            XCTAssertTrue(waitFor("training starts", in: log, seconds: 120), (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            XCTAssertEqual(Self.processes(mentioning: out).count, 2, "the launcher and its coordinator run")
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            let deadline = Date().addingTimeInterval(15)
            var left: [Int32] = []
            repeat {
                Thread.sleep(forTimeInterval: 0.1)
                left =
                    Self.processes(mentioning: out)
                    + Self.processes(mentioning: "--exit-with-parent").filter { pid in
                        // workers of this launcher: their parent was the launcher
                        (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(3).first
                            == Substring("\(p.processIdentifier)")
                    }
            } while !left.isEmpty && Date() < deadline
            XCTAssertEqual(left, [], "signal \(sig): processes left behind")
            for pid in left { kill(pid, SIGKILL) }
        }
    }

    /// Data, run directory and recipe for a fault test, long enough (about 180 steps) that the
    /// fault lands mid-training on any machine, and `digits train`'s weights for that recipe.
    func faultRun(_ name: String) throws -> (data: String, out: String, recipe: [String], reference: String) {
        let data = try SyntheticData.writeDirectory(train: 2400, test: 100)
        let out = CLI.tempDirectory(name)
        let recipe = [
            "--epochs", "4", "--batch", "48", "--micro-batch", "8", "--model", "keras-example", "--seed", "5", "--no-early-stopping"
        ]
        XCTAssertEqual(try CLI.run(["train", "--data", data, "--out", out + "/train"] + recipe).status, 0)
        return (data, out, recipe, try summary(out + "/train")["weights_sha256"] as! String)
    }

    func testAWorkerKilledWithSIGKILLDoesNotChangeTheResult() throws {
        let (data, out, recipe, reference) = try faultRun("kill9")
        let (p, log) = try startCluster(["--workers", "3", "--data", data, "--out", out + "/c", "--heartbeat-deadline", "1.5"] + recipe)
        XCTAssertTrue(waitFor("training starts", in: log, seconds: 120))
        Thread.sleep(forTimeInterval: 0.5)
        let victims = Self.processes(mentioning: "--name worker-2 --exit-with-parent").filter {
            Self.isDescendant($0, of: p.processIdentifier)
        }
        XCTAssertEqual(victims.count, 1)
        for v in victims { kill(v, SIGKILL) }
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(
            text.contains("(worker-2@") && text.contains("missed") && text.contains("dropping it"),
            "the dead worker is named: \(text.suffix(2000))")
        // The worker must be dropped mid-training: before the last epoch ends, not after.
        let drop = try XCTUnwrap(text.range(of: "dropping it"), "the coordinator never dropped the killed worker: \(text.suffix(2000))")
        let end = try XCTUnwrap(text.range(of: "epoch 4/4"), "the log never reports the last epoch: \(text.suffix(2000))")
        XCTAssertLessThan(drop.lowerBound, end.lowerBound, "the kill must land before training ends")
        XCTAssertEqual(try summary(out + "/c")["weights_sha256"] as? String, reference)
    }

    /// A frozen coordinator (SIGSTOP) makes both workers exit with an error once it has been
    /// silent for --worker-silence-deadline; the launcher starts them again, they join the
    /// coordinator when it resumes (SIGCONT), and the result is still the same bits.
    func testWorkersThatExitWithAnErrorAreStartedAgain() throws {
        let (data, out, recipe, reference) = try faultRun("restart")
        let (p, log) = try startCluster(
            [
                "--workers", "2", "--data", data, "--out", out + "/c", "--heartbeat-deadline", "1.5",
                "--worker-silence-deadline", "3", "--restarts", "10"
            ] + recipe)
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 600, execute: watchdog)
        defer { watchdog.cancel() }
        XCTAssertTrue(waitFor("training starts", in: log, seconds: 120))
        Thread.sleep(forTimeInterval: 0.5)
        let coordinators = Self.processes(mentioning: " coordinator --bind").filter { Self.isDescendant($0, of: p.processIdentifier) }
        XCTAssertEqual(coordinators.count, 1)
        let coordinator = try XCTUnwrap(coordinators.first, "no coordinator process under the launcher")
        kill(coordinator, SIGSTOP)
        let restartedBoth = waitForCount("starting it again", 2, in: log, seconds: 30)
        kill(coordinator, SIGCONT)
        XCTAssertTrue(
            restartedBoth,
            "both workers exit and are started again: \(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(3000))")
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(p.terminationStatus, 0, String(text.suffix(3000)))
        XCTAssertTrue(text.contains("nothing heard from the coordinator for 3 s"), String(text.suffix(3000)))
        for w in [1, 2] {
            XCTAssertTrue(
                text.contains("cluster: worker \(w) exited with status"), "worker \(w)'s non-zero exit is reported: \(text.suffix(3000))")
        }
        XCTAssertEqual(try summary(out + "/c")["weights_sha256"] as? String, reference)
    }

    func waitForCount(_ text: String, _ count: Int, in log: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOfFile: log, encoding: .utf8), s.components(separatedBy: text).count - 1 >= count { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Coordinator and workers in separate network namespaces joined by veth pairs (root only).
    func testClusterAcrossNetworkNamespacesMatchesLoopback() throws {
        guard getuid() == 0,
            FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip")
        else {
            throw XCTSkip("needs root and iproute2")
        }
        let data = try SyntheticData.writeDirectory(train: 2000, test: 100)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.packageRoot.path + "/scripts/netns-test.sh")
        p.arguments = ["--bin", CLI.binary, "--data", data, "--", "--epochs", "1", "--batch", "32", "--micro-batch", "8", "--seed", "4"]
        let log = NSTemporaryDirectory() + "digits-netns-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardError = p.standardOutput
        try p.run()
        let deadline = Date().addingTimeInterval(600)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("netns-test: PASS"), text)
    }

    /// Async mode: never the default, not reproducible, but it must train and finish cleanly.
    func testAsyncModeTrainsAndIsRefusedWhereItCannotRun() throws {
        let data = try SyntheticData.writeDirectory(train: 600, test: 100)
        let out = CLI.tempDirectory("async")
        let r = try CLI.run(
            [
                "cluster", "--workers", "2", "--mode", "async", "--staleness", "2", "--data", data, "--out", out + "/a",
                "--epochs", "2", "--batch", "32", "--micro-batch", "8", "--lr", "0.003"
            ], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("ASYNC mode"), "the log says results are not reproducible")
        XCTAssertGreaterThan(try summary(out + "/a")["test_accuracy"] as! Double, 0.5)
        let single = try CLI.run(["train", "--mode", "async", "--data", data, "--out", out + "/t"])
        XCTAssertNotEqual(single.status, 0)
        XCTAssertTrue(single.stderr.contains("needs a cluster"), single.stderr)
        let sharded = try CLI.run(["cluster", "--workers", "1", "--servers", "2", "--mode", "async", "--data", data, "--out", out + "/s"])
        XCTAssertNotEqual(sharded.status, 0)
        XCTAssertTrue((sharded.stdout + sharded.stderr).contains("--servers 1"), sharded.stdout + sharded.stderr)
    }

    /// Starts a background `digits` process with its output in a file.
    func spawn(_ args: [String]) throws -> (Process, String) { try CLI.spawn(args) }

    /// The coordinator is killed with SIGKILL after its first checkpoint and restarted with
    /// --resume on the same port; the workers notice the new job, join again, and the final
    /// weights equal an uninterrupted run's.
    func testCoordinatorKilledAndResumedGivesTheSameWeights() throws {
        try coordinatorKilledAndResumed(bind: "tcp://127.0.0.1:0")
    }

    /// The same over Unix-domain sockets (the local default), where a worker's data socket often
    /// hears of the new job first: the worker must rejoin from there too (it once read the socket
    /// its rejoin had just closed and died).
    func testCoordinatorKilledAndResumedOverIPC() throws {
        try coordinatorKilledAndResumed(bind: "ipc://" + CLI.tempDirectory("ipc") + "/control")
    }

    func coordinatorKilledAndResumed(bind: String) throws {
        let data = try SyntheticData.writeDirectory(train: 3000, test: 100)
        let dir = CLI.tempDirectory("resume")
        let recipe = [
            "--epochs", "3", "--batch", "48", "--micro-batch", "8", "--model", "keras-example", "--seed", "9", "--no-early-stopping"
        ]
        XCTAssertEqual(try CLI.run(["train", "--data", data, "--out", dir + "/train"] + recipe).status, 0)
        let reference = try summary(dir + "/train")["weights_sha256"] as! String

        let (first, firstLog) = try spawn(
            [
                "coordinator", "--bind", bind, "--workers", "2", "--endpoint-file", dir + "/ep1.json",
                "--data", data, "--out", dir + "/c", "--heartbeat-deadline", "30"
            ] + recipe)
        XCTAssertTrue(waitFor("control", in: dir + "/ep1.json", seconds: 120))
        let endpoint = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ep1.json"))) as? [String: String])?[
                "control"])
        let workers = try (1...2).map { try spawn(["worker", "--coordinator", endpoint, "--name", "rw\($0)", "--silence-deadline", "60"]) }
        defer { for (w, _) in workers where w.isRunning { kill(w.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(120)
        while (try? FileManager.default.contentsOfDirectory(atPath: dir + "/c/checkpoints"))?.contains(where: { $0.hasPrefix("ckpt-") })
            != true && Date() < deadline
        {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let firstText = (try? String(contentsOfFile: firstLog, encoding: .utf8)) ?? ""
        XCTAssertFalse(firstText.contains("epoch 3/3"), "the kill must land before the end: \(firstText.suffix(1500))")

        let resumed = try CLI.run(
            [
                "coordinator", "--bind", endpoint, "--workers", "2", "--data", data, "--out", dir + "/c", "--resume",
                "--join-deadline", "60"
            ] + recipe, timeout: 300)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from"), resumed.stderr)
        XCTAssertEqual(try summary(dir + "/c")["weights_sha256"] as? String, reference)
        for (w, log) in workers {
            let end = Date().addingTimeInterval(30)
            while w.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.05) }
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            XCTAssertFalse(w.isRunning, "worker still running: \(text.suffix(800))")
            if !w.isRunning { XCTAssertEqual(w.terminationStatus, 0, "the worker ends cleanly: \(text.suffix(800))") }
            XCTAssertTrue(text.contains("joining again"), "the worker rejoined the restarted coordinator: \(text.suffix(800))")
        }
    }
}
