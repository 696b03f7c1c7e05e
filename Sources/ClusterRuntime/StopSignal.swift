// SIGINT/SIGTERM as a flag the loops check (a poll returns early with EINTR).
import Foundation
import Synchronization

public enum StopSignal {
    static let received = Atomic<Int32>(0)

    /// Installs handlers that record the signal; the loops wind down cleanly.
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in StopSignal.received.store(s, ordering: .relaxed) }
        }
    }

    /// The signal received, if any.
    public static var requested: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }
}

/// Monotonic nanoseconds: the clock every loop reads unless a test gives it another.
public func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
