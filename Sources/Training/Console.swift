// Writing to stdout and stderr without ever crashing: a launcher that went away closes our pipes,
// and Foundation's FileHandle.write traps on EPIPE. These write through stdio and drop what a
// closed stream cannot take.
import Foundation
import Logging

public enum Console {
    /// Writes `text` to stderr as it is (add the newline yourself).
    public static func error(_ text: String) {
        fputs(text, stderr)
    }

    /// Writes `text` to stdout as it is, through the same buffer `print` uses.
    public static func output(_ text: String) {
        fputs(text, stdout)
    }
}

/// Log lines as a person reads them: the message alone on stderr, prefixed by level when it matters.
public struct PlainLogHandler: LogHandler {
    public let label: String
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level =
        ProcessInfo.processInfo.environment["DIGITS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt
    ) {
        let prefix = level >= .warning ? "\(level): " : ""
        Console.error("\(prefix)\(message)\n")
    }
}
