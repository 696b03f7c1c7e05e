// One child process, started with posix_spawn and supervised from the caller's thread: the one way
// Digits runs its own children (the local cluster's coordinator, shards and workers, the load
// test's coordinator, sweep trials).
//
// Written here rather than on swift-subprocess: the callers are synchronous poll loops that check a
// child between other work (no async runtime to host it), and they need what that package does not
// report: a child's peak RSS (VmHWM while it runs, wait4's rusage once it has exited) and a
// descriptor table of our own (every pipe close-on-exec, so one child never holds another's
// output open and the launcher's descriptor count stays a clean leak check).
import Foundation
import Synchronization

/// How a child ended.
public enum ChildExit: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a wait status.
    public init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// The exit code, or 128 + the signal for a child killed by one (as a shell reports it).
    public var code: Int32 {
        switch self {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        }
    }

    public var succeeded: Bool { self == .exited(0) }
    public var wasSignaled: Bool { if case .signaled = self { return true } else { return false } }

    /// "exited with status N" or "was killed by signal N".
    public var description: String {
        switch self {
        case .exited(let c): return "exited with status \(c)"
        case .signaled(let s): return "was killed by signal \(s)"
        }
    }
}

public final class ChildProcess: @unchecked Sendable {
    /// Where the child's stdout and stderr go.
    public enum Output: Sendable {
        /// Each line printed to our stdout as `[prefix] line` (lines of different children never interleave).
        case prefixed(String)
        /// Written to a file (created or truncated).
        case file(String)
        /// Our own stdout and stderr.
        case inherit
        case discard
    }

    public let executable: String
    public let arguments: [String]
    public let output: Output
    /// `[prefix]`'s prefix, or the executable's name: how messages about this child name it.
    public let name: String
    public private(set) var pid: pid_t = 0
    public private(set) var termination: ChildExit?
    /// Peak resident set of the exited child (wait4's ru_maxrss), in MB.
    private var exitedPeakRSS: Double?
    private var environment: [String: String]
    private var reader: Thread?
    private let readerDone = DispatchSemaphore(value: 0)

    static let printLock = Mutex<Void>(())

    /// Prints a line on stdout, never inside another child's prefixed lines.
    public static func printLine(_ line: String) {
        printLock.withLock { _ in _ = fputs(line + "\n", stdout) }  // stdio: a closed stdout fails the write, never traps
    }

    /// `environment` entries are added to (or replace) this process's environment.
    public init(executable: String, arguments: [String], environment: [String: String] = [:], output: Output) {
        self.executable = executable
        self.arguments = arguments
        self.output = output
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        self.environment = env
        if case .prefixed(let p) = output { name = p } else { name = URL(fileURLWithPath: executable).lastPathComponent }
    }

    /// Starts the child; throws naming the executable when it cannot be started.
    public func start() throws {
        precondition(pid == 0, "a ChildProcess starts once")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Signals blocked here (none, normally) are not the child's business.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        var readEnd: Int32 = -1
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch output {
        case .prefixed:
            var fds: [Int32] = [-1, -1]
            // Close-on-exec at once (children are started from one thread): no other child inherits either end.
            guard pipe(&fds) == 0 else { throw SupervisionError("cannot make a pipe for \(name): \(String(cString: strerror(errno)))") }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            readEnd = fds[0]
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
            defer { close(fds[1]) }
            do { try spawn(&actions, &attributes) } catch {
                close(readEnd)
                throw error
            }
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            try spawn(&actions, &attributes)
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            try spawn(&actions, &attributes)
        case .inherit:
            try spawn(&actions, &attributes)
        }
        if readEnd >= 0 {
            if case .prefixed(let prefix) = output {
                let fd = readEnd
                let done = readerDone
                let thread = Thread {
                    Self.streamLines(fd: fd, prefix: prefix)
                    close(fd)
                    done.signal()
                }
                thread.name = "output of \(prefix)"
                reader = thread
                thread.start()
            }
        }
    }

    private func spawn(_ actions: inout posix_spawn_file_actions_t, _ attributes: inout posix_spawnattr_t) throws {
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SupervisionError("cannot start \(name) (\(executable)): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Reads `fd` to its end, printing whole lines with the prefix (a last unterminated line too).
    static func streamLines(fd: Int32, prefix: String) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func emit(_ lines: [ArraySlice<UInt8>]) {
            guard !lines.isEmpty else { return }
            var text = ""
            for line in lines { text += "[\(prefix)] " + String(decoding: line, as: UTF8.self) + "\n" }
            printLock.withLock { _ in _ = fputs(text, stdout) }
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += chunk[0..<n]
            guard let last = pending.lastIndex(of: 0x0a) else { continue }
            emit(pending[..<last].split(separator: 0x0a, omittingEmptySubsequences: false))
            pending.removeSubrange(...last)
        }
        if !pending.isEmpty { emit([pending[...]]) }
    }

    /// Whether the child still runs (reaps it, and records how it ended, once it has exited).
    public var isRunning: Bool {
        guard pid > 0, termination == nil else { return false }
        return !reap(block: false)
    }

    /// wait4 on the child; true once it has been reaped.
    @discardableResult
    private func reap(block: Bool) -> Bool {
        var status: Int32 = 0
        var usage = rusage()
        while true {
            let r = wait4(pid, &status, block ? 0 : WNOHANG, &usage)
            if r == pid {
                termination = ChildExit(waitStatus: status)
                exitedPeakRSS = Double(usage.ru_maxrss) / 1024
                return true
            }
            if r < 0 && errno == EINTR { continue }
            if r < 0 {
                termination = termination ?? .exited(-1)
                return true
            }  // not our child any more (reaped elsewhere)
            return false
        }
    }

    /// Sends `sig` if the child still runs.
    public func signal(_ sig: Int32) {
        if isRunning { kill(pid, sig) }
    }

    /// Waits for the child to exit, at most `timeout` seconds (nil: as long as it takes), calling
    /// `whileWaiting` every 10 ms; how it ended, or nil if it still runs.
    @discardableResult
    public func wait(timeout: Double?, whileWaiting: () -> Void = {}) -> ChildExit? {
        guard pid > 0 else { return nil }
        if timeout == nil {
            if termination == nil { reap(block: true) }
            return termination
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeout!) * 1e9)
        while isRunning && DispatchTime.now().uptimeNanoseconds < deadline {
            whileWaiting()
            usleep(10_000)
        }
        return termination
    }

    /// SIGTERM, then SIGKILL if it has not exited after `timeout` seconds; reaps it. Idempotent.
    /// `onKill` is told when SIGKILL was needed.
    @discardableResult
    public func stop(timeout: Double, whileWaiting: () -> Void = {}, onKill: (ChildProcess) -> Void = { _ in }) -> ChildExit {
        guard pid > 0 else { return .exited(-1) }
        if isRunning {
            kill(pid, SIGTERM)
            if wait(timeout: timeout, whileWaiting: whileWaiting) == nil {
                onKill(self)
                kill(pid, SIGKILL)
                reap(block: true)
            }
        }
        return termination ?? .exited(-1)
    }

    /// Waits (at most `timeout` seconds) until the prefixed output has been printed to its end.
    public func drainOutput(timeout: Double = 2) {
        guard reader != nil else { return }
        if readerDone.wait(timeout: .now() + timeout) == .success { readerDone.signal() }
    }

    /// Peak resident set in MB: VmHWM while the child runs, wait4's ru_maxrss once it has exited; 0 if unknown.
    public var peakRSSMegabytes: Double {
        if isRunning { return ProcessProbe.peakRSSMegabytes(pid: pid) }
        return exitedPeakRSS ?? 0
    }

    /// The file output's text (empty for other outputs or while unreadable).
    public var logText: String {
        guard case .file(let path) = output else { return "" }
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// The last `n` lines of the file output, indented, for an error message.
    public func logTail(_ n: Int = 12) -> String {
        let lines = logText.split(separator: "\n", omittingEmptySubsequences: true).suffix(n)
        return lines.isEmpty ? "  (\(name) logged nothing)" : lines.map { "  | \($0)" }.joined(separator: "\n")
    }
}

/// A failure to start or supervise a child, as one sentence.
public struct SupervisionError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
