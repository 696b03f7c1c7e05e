import Foundation
import TestSupport
import XCTest

/// A process whose launcher went away has its stdout and stderr pipes closed: it must still stop
/// cleanly on its signal, not trap in a write (the crash reporter then held it for seconds).
final class ClosedOutputTests: XCTestCase {
    func testACoordinatorWhoseOutputPipesClosedStopsCleanly() throws {
        let data = try SyntheticData.writeDirectory(train: 400, test: 100)
        let dir = CLI.tempDirectory("closed-pipe")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = [
            "coordinator", "--bind", "tcp://127.0.0.1:0", "--workers", "1", "--data", data, "--out", dir + "/run",
            "--endpoint-file", dir + "/ep.json"
        ]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        // Wait until it listens, reading its output so nothing blocks.
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: dir + "/ep.json") && p.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/ep.json"), "the coordinator did not start listening")
        try pipe.fileHandleForReading.close()  // the launcher is gone
        kill(p.processIdentifier, SIGTERM)  // it logs "stopping on signal" into the closed pipe
        let stop = Date().addingTimeInterval(20)
        while p.isRunning && Date() < stop { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "killed by signal \(p.terminationStatus) instead of exiting")
        XCTAssertEqual(p.terminationStatus, 130, "stopped on SIGTERM")
    }
}
