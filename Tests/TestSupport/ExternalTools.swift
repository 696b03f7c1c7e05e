// The real consumers the tests hand Digits' output to: a Python with onnxruntime, h5py,
// tensorboard, prometheus_client and Keras (scripts/install-test-deps.sh), and headless Chromium.
import Foundation

public enum ExternalTools {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The virtualenv's python: $DIGITS_PYTHON, else $DIGITS_PYENV/bin/python, else ~/.cache/digits/venv-py.
    public static func python() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["DIGITS_PYTHON"] { return p }
        let base =
            env["DIGITS_PYENV"]
            ?? ((env["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/digits/venv-py")
        let path = base + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure(description: "no test python at \(path): run scripts/install-test-deps.sh")
        }
        return path
    }

    /// Debian's chromium ($DIGITS_CHROMIUM overrides).
    public static func chromium() throws -> String {
        let env = ProcessInfo.processInfo.environment
        for path in [env["DIGITS_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].compactMap({ $0 })
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw Failure(description: "no chromium: run scripts/install-test-deps.sh")
    }

    public struct Output {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` with `arguments`, killing it after `timeout` seconds.
    public static func run(
        _ executable: String, _ arguments: [String], directory: String? = nil,
        timeout: TimeInterval = 300
    ) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let base = NSTemporaryDirectory() + "digits-tool-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                timedOut = true
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        let out = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        if timedOut {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout) s\n\(err)")
        }
        return Output(status: process.terminationStatus, stdout: out, stderr: err)
    }
}
