import Foundation
import Supervision
import XCTest

/// The one child-process type: exit decoding, output to a file, SIGTERM then SIGKILL, peak RSS.
final class ChildProcessTests: XCTestCase {
    func testExitStatusAndFileOutput() throws {
        let log = NSTemporaryDirectory() + "digits-child-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let child = ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; exit 3"], output: .file(log))
        try child.start()
        XCTAssertEqual(child.wait(timeout: 10), .exited(3))
        XCTAssertFalse(child.isRunning)
        XCTAssertEqual(child.termination?.code, 3)
        XCTAssertEqual(child.logText, "out\nerr\n")
        XCTAssertGreaterThan(child.peakRSSMegabytes, 0, "wait4's rusage of the exited child")
    }

    func testStopSendsSIGTERMThenSIGKILL() throws {
        let polite = ChildProcess(executable: "/bin/sleep", arguments: ["30"], output: .discard)
        try polite.start()
        XCTAssertTrue(polite.isRunning)
        XCTAssertGreaterThan(polite.peakRSSMegabytes, 0, "VmHWM of the running child")
        XCTAssertEqual(polite.stop(timeout: 10), .signaled(SIGTERM))
        XCTAssertEqual(polite.termination?.code, 128 + SIGTERM)

        let stubborn = ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; sleep 30"], output: .prefixed("stubborn"))
        try stubborn.start()
        Thread.sleep(forTimeInterval: 0.3)  // the trap is set
        var killed = false
        let start = Date()
        XCTAssertEqual(stubborn.stop(timeout: 0.5, onKill: { _ in killed = true }), .signaled(SIGKILL))
        XCTAssertTrue(killed)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        stubborn.drainOutput()
    }

    func testAMissingExecutableIsNamed() {
        let child = ChildProcess(executable: "/nonexistent/digits", arguments: [], output: .discard)
        XCTAssertThrowsError(try child.start()) { XCTAssertTrue("\($0)".contains("/nonexistent/digits"), "\($0)") }
    }
}
