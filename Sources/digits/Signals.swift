// SIGINT/SIGTERM as a flag the poll loops check (zmq_poll returns early with EINTR).
import Foundation
import Synchronization

enum StopSignal {
    static let received = Atomic<Int32>(0)

    /// Installs handlers that record the signal; the loops wind down cleanly.
    static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in StopSignal.received.store(s, ordering: .relaxed) }
        }
    }

    static var requested: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }
}
