// The one error type of the HTTP layer: an HTTP status and a message a client can act on, sent as
// `{"error": "..."}`.

/// A request the server refuses, with the 4xx status to answer.
public struct ServeError: Error, Equatable, CustomStringConvertible, Sendable {
    /// HTTP status code (400, 404, 405, 413, 415, ...).
    public var status: Int
    /// What was expected and what was found.
    public var message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status): \(message)" }

    static func badRequest(_ message: String) -> ServeError { ServeError(status: 400, message) }
    static func tooLarge(_ message: String) -> ServeError { ServeError(status: 413, message) }
    static func unsupportedType(_ message: String) -> ServeError { ServeError(status: 415, message) }
}
