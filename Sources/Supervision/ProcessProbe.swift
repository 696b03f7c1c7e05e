// What a supervisor reads about a process from /proc: peak resident set, CPU time, open
// descriptors; and the open-file limit its children inherit.
import Foundation

public enum ProcessProbe {
    /// Peak resident set (VmHWM) of a running process in MB; 0 if unreadable.
    public static func peakRSSMegabytes(pid: pid_t) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
            return kb / 1024
        }
        return 0
    }

    /// User + system CPU seconds of a process (this one when nil), from /proc/PID/stat; 0 if unreadable.
    public static func cpuSeconds(pid: pid_t?) -> Double {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8), let paren = stat.lastIndex(of: ")") else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: paren)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Entries of /proc/PID/fd (this process when nil); -1 if unreadable.
    public static func openFileDescriptors(pid: pid_t?) -> Int {
        let path = pid.map { "/proc/\($0)/fd" } ?? "/proc/self/fd"
        return (try? FileManager.default.contentsOfDirectory(atPath: path))?.count ?? -1
    }

    /// Raises this process's soft open-file limit (its children inherit it) to `wanted`, within the hard limit.
    public static func raiseFileLimit(to wanted: Int) {
        #if os(Linux)
            var limit = rlimit()
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
            guard getrlimit(resource, &limit) == 0, limit.rlim_cur < rlim_t(wanted) else { return }
            limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
            _ = setrlimit(resource, &limit)
        #endif
    }

    /// This binary's path (for starting more of itself).
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
