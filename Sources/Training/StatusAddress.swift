// Where the coordinator's status page listens: "HOST:PORT" (port 0 = the OS picks), "[IPv6]:PORT",
// or "off". Used by --status-bind and the [status] bind key of Config/cluster.toml.
import Foundation

public struct StatusAddress: Equatable, Sendable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// nil for "off"; throws a message naming what was expected otherwise.
    public static func parse(_ text: String) throws -> StatusAddress? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if ["off", "none", "no", "false"].contains(t.lowercased()) { return nil }
        let bad = ConfigError("expected HOST:PORT (e.g. 127.0.0.1:8000; port 0 lets the OS pick) or off, found '\(text)'")
        guard let colon = t.lastIndex(of: ":"), let port = Int(t[t.index(after: colon)...]), (0...65535).contains(port) else { throw bad }
        var host = String(t[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/"), host.allSatisfy({ !$0.isWhitespace }) else { throw bad }
        return StatusAddress(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
