// The coordinator's recent warnings and errors for the status page: a small ring buffer fed by a
// LogHandler that sits beside the normal one (MultiplexLogHandler), so nothing logs twice.
import Foundation
import Logging
import Synchronization

public final class RecentEvents: Sendable {
    public let capacity: Int
    private let buffer = Mutex<[StatusSnapshot.Event]>([])

    public init(capacity: Int = 50) { self.capacity = capacity }

    public func append(_ event: StatusSnapshot.Event) {
        buffer.withLock {
            $0.append(event)
            if $0.count > capacity { $0.removeFirst($0.count - capacity) }
        }
    }

    /// Oldest first.
    public var events: [StatusSnapshot.Event] { buffer.withLock { $0 } }

    /// A handler that records messages at `minimum` level and above.
    public func logHandler(minimum: Logger.Level = .warning) -> LogHandler { Handler(events: self, logLevel: minimum) }

    struct Handler: LogHandler {
        let events: RecentEvents
        var logLevel: Logger.Level
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            guard level >= logLevel else { return }
            events.append(.init(time: Date().timeIntervalSince1970, level: "\(level)", message: "\(message)"))
        }
    }
}
