import StatusModel
// The one place the poll loop and the HTTP handlers meet: the loop replaces the snapshot, the
// handlers (on NIO threads) read it. Nothing else of the coordinator is shared.
import Synchronization

public final class StatusBox: Sendable {
    private let value = Mutex<StatusSnapshot?>(nil)

    public init() {}

    public func publish(_ snapshot: StatusSnapshot) { value.withLock { $0 = snapshot } }

    public var snapshot: StatusSnapshot? { value.withLock { $0 } }
}
