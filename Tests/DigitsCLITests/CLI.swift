import Foundation
import XCTest

/// Runs the real `digits` binary built next to the test bundle.
enum CLI {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var binary: String {
        if let override = ProcessInfo.processInfo.environment["DIGITS_BIN"] { return override }
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("digits").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("digits").path,
            packageRoot.appendingPathComponent(".build/debug/digits").path
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs digits with `arguments` in `directory`, with a deadline.
    static func run(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:], timeout: TimeInterval = 600)
        throws -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let outFile = NSTemporaryDirectory() + "digits-cli-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: outFile + ".out", contents: nil)
        FileManager.default.createFile(atPath: outFile + ".err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile + ".err"))
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                XCTFail("digits \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: outFile + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: outFile + ".err", encoding: .utf8)) ?? "")
    }

    /// Starts digits in the background (output and errors into one log file); returns the process and the log's path.
    static func spawn(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let log = NSTemporaryDirectory() + "digits-proc-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardError = p.standardOutput
        try p.run()
        return (p, log)
    }

    static func tempDirectory(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "digits-\(name)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
