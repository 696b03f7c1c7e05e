// Monotonic time since process start (the CLI touches `Stopwatch.processStart` first thing).
import Foundation

public enum Stopwatch {
    public static let processStart = DispatchTime.now().uptimeNanoseconds

    public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    public static func seconds(since start: UInt64) -> Double { Double(now() &- start) / 1e9 }

    public static var sinceProcessStart: Double { seconds(since: processStart) }
}

/// Peak resident memory of this process.
public enum ResourceUsage {
    public static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
