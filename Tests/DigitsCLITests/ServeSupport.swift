// Helpers for the `digits serve` tests: a model trained once per test process on real MNIST,
// the real server as a child process (port 0, address read from its first line), and curl as
// the HTTP client. Every wait has a deadline.
import Foundation
import MNISTData
import TestSupport
import XCTest

enum TrainedModel {
    /// runs/<tmp>/model.digits after one epoch of keras-example on real MNIST (~98% test accuracy),
    /// trained on first use, shared by every serve test in this process.
    static func path() throws -> (model: String, test: Dataset) {
        switch shared {
        case .success(let value): return value
        case .failure(let error): throw error
        }
    }

    private static let shared: Result<(model: String, test: Dataset), Error> = Result {
        let data = try RealMNIST.directory(packageRoot: CLI.packageRoot.path)
        let out = CLI.tempDirectory("serve-model") + "/run"
        let r = try CLI.run(
            [
                "train", "--data", data, "--out", out, "--epochs", "1", "--model", "keras-example",
                "--threads", "2", "--no-early-stopping"
            ], in: CLI.packageRoot.path, timeout: 900)
        guard r.status == 0 else { throw ServeTestFailure("training the serve test model failed: \(r.stderr)") }
        let (_, test) = try MNISTFiles.load(directory: data)
        return (out + "/model.digits", test)
    }
}

/// Bytes a child writes to a pipe, collected on the pipe's reader thread.
final class PipeCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    let pipe = Pipe()

    init() {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                return
            }  // EOF
            lock.lock()
            data.append(chunk)
            lock.unlock()
        }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A running `digits serve`.
final class ServerProcess {
    let process = Process()
    private(set) var baseURL = ""
    private let out = PipeCapture(), err = PipeCapture()

    var stdout: String { out.text }
    var stderr: String { err.text }

    /// Starts `digits serve --model model --port 0 extra...` and waits (up to `timeout` s) for
    /// "serving NAME on http://HOST:PORT".
    init(model: String, extra: [String] = [], timeout: TimeInterval = 60) throws {
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--model", model, "--port", "0"] + extra
        process.standardOutput = out.pipe
        process.standardError = err.pipe
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let line = out.text.split(separator: "\n").first(where: { $0.hasPrefix("serving ") }),
                let range = line.range(of: "http://")
            {
                baseURL = String(line[range.lowerBound...])
                return
            }
            if !process.isRunning || Date() > deadline {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw ServeTestFailure("digits serve did not print its address within \(timeout) s\nstdout: \(stdout)\nstderr: \(stderr)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Sends `signal` and waits (up to `timeout` s) for the exit status; nil if it had to be killed.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 30) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)  // let the pipe readers take the last bytes
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// An HTTP exchange through curl.
struct HTTPResult {
    var status: Int
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw ServeTestFailure("not a JSON object: \(text.prefix(300))")
        }
        return object
    }
}

enum HTTP {
    /// Runs curl with `arguments` against `url`; the status and body come back (curl's own
    /// failure, e.g. a refused connection, is a thrown error).
    static func curl(_ url: String, _ arguments: [String] = [], timeout: TimeInterval = 30) throws -> HTTPResult {
        let bodyFile = NSTemporaryDirectory() + "digits-http-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: bodyFile) }
        let r = try ExternalTools.run(
            "/usr/bin/curl",
            ["-sS", "--max-time", String(Int(timeout)), "-o", bodyFile, "-w", "%{http_code}"]
                + arguments + [url], timeout: timeout + 10)
        guard r.status == 0, let status = Int(r.stdout) else {
            throw ServeTestFailure("curl \(arguments.joined(separator: " ")) \(url) failed (exit \(r.status)): \(r.stderr)")
        }
        return HTTPResult(status: status, body: (try? Data(contentsOf: URL(fileURLWithPath: bodyFile))) ?? Data())
    }

    /// POSTs `file` as the body with `contentType`.
    static func post(_ url: String, file: String, contentType: String) throws -> HTTPResult {
        try curl(url, ["-X", "POST", "-H", "Content-Type: \(contentType)", "--data-binary", "@\(file)"])
    }
}

struct ServeTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
