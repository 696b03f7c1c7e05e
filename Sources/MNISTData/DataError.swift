// DataError: the one error type of MNISTData. Every failure names the file or directory concerned,
// what was expected, what was found and, where one exists, a hint.
import Foundation

/// An error reading, validating, locating or downloading data.
///
/// `description` reads `"<path>: <message>"`, e.g.
/// `"data/mnist/train-labels-idx1-ubyte.gz: truncated: expected 60000 bytes of data, found 59999"`.
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// The file or directory concerned.
    public let path: String
    /// What was expected, what was found, and a hint.
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

extension DataError: LocalizedError {
    public var errorDescription: String? { description }
}
