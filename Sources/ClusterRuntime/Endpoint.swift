// Endpoints as ZeroMQ spells them (tcp://HOST:PORT, ipc://PATH, inproc://NAME), parsed once, with
// the questions the runtime asks of them answered by address, never by string prefix.
import Foundation

/// A ZeroMQ endpoint, parsed.
public struct Endpoint: Equatable, Hashable, CustomStringConvertible, Sendable {
    public enum Scheme: String, Sendable { case tcp, ipc, inproc, other }

    public let scheme: Scheme
    /// tcp: the host part as written (brackets kept for IPv6, `*` for any); ipc/inproc: the path or name.
    public let host: String
    /// tcp: the port as written (`0` and `*` mean "the OS picks"); nil for ipc and inproc.
    public let port: String?
    /// The text as given.
    public let description: String

    /// Parses `text`; throws naming the text and what an endpoint looks like.
    public init(_ text: String) throws {
        description = text
        guard let sep = text.range(of: "://") else {
            throw RuntimeError("'\(text)' is not an endpoint: expected tcp://HOST:PORT, ipc://PATH or inproc://NAME")
        }
        let rest = String(text[sep.upperBound...])
        switch text[..<sep.lowerBound] {
        case "tcp":
            scheme = .tcp
            guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex, rest.index(after: colon) != rest.endIndex else {
                throw RuntimeError("'\(text)' is not a tcp endpoint: expected tcp://HOST:PORT")
            }
            host = String(rest[..<colon])
            port = String(rest[rest.index(after: colon)...])
            guard port == "*" || (UInt16(port!) != nil) else {
                throw RuntimeError("'\(text)': the port must be a number in 0...65535 or *, found '\(port!)'")
            }
        case "ipc":
            scheme = .ipc
            host = rest
            port = nil
        case "inproc":
            scheme = .inproc
            host = rest
            port = nil
        default:
            scheme = .other
            host = rest
            port = nil
        }
    }

    /// Whether traffic to this endpoint never leaves the machine: ipc and inproc always; tcp when
    /// the host is `localhost` or an address in 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104 (decided
    /// by parsing the address, so `tcp://127.evil.example:1` is not loopback).
    public var isLoopback: Bool {
        switch scheme {
        case .ipc, .inproc: return true
        case .other: return false
        case .tcp:
            if host == "localhost" { return true }
            var v4 = in_addr()
            if inet_pton(AF_INET, host, &v4) == 1 { return (UInt32(bigEndian: v4.s_addr) >> 24) == 127 }
            var bare = host
            if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, bare, &v6) == 1 else { return false }
            let b = withUnsafeBytes(of: &v6) { Array($0) }
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }  // ::1
            return b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF && b[12] == 127  // ::ffff:127.x.y.z
        }
    }

    /// Whether a tcp endpoint listens on every interface (`0.0.0.0`, `*`, `[::]`).
    public var isWildcard: Bool { scheme == .tcp && ["0.0.0.0", "*", "[::]"].contains(host) }

    /// The same host with another port (tcp); ipc and inproc endpoints get a sibling name (`NAME-data`).
    public func sibling(port: Int) -> Endpoint {
        let text = scheme == .tcp ? "tcp://\(host):\(port)" : description + "-data"
        return (try? Endpoint(text)) ?? self
    }

    /// A tcp endpoint with another host, the port kept (`--advertise HOST`).
    public func advertised(as newHost: String) -> Endpoint {
        guard scheme == .tcp, let port else { return self }
        return (try? Endpoint("tcp://\(newHost):\(port)")) ?? self
    }

    /// How a client that reached `coordinator` dials this endpoint: a server bound to a wildcard
    /// address is dialed on the coordinator's host; every other endpoint as it is.
    public func reachable(via coordinator: Endpoint) -> Endpoint {
        guard isWildcard, coordinator.scheme == .tcp, let port else { return self }
        return (try? Endpoint("tcp://\(coordinator.host):\(port)")) ?? self
    }
}

/// The endpoints a listening coordinator writes (`--endpoint-file`), for launchers and scripts.
public struct EndpointFile: Codable, Equatable, Sendable {
    /// The control endpoint workers dial.
    public var control: String
    /// The embedded parameter server's endpoint.
    public var data: String
    /// The status page URL, when it is served.
    public var status: String?
    /// The status page's bound HOST:PORT (a restarted coordinator listens there again).
    public var statusBind: String?

    enum CodingKeys: String, CodingKey {
        case control, data, status
        case statusBind = "status_bind"
    }

    public init(control: String, data: String, status: String? = nil, statusBind: String? = nil) {
        self.control = control
        self.data = data
        self.status = status
        self.statusBind = statusBind
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0A]
    }

    /// Reads the file; nil while it does not exist yet or is incomplete (the writer renames it into place whole).
    public static func read(_ path: String) -> EndpointFile? {
        guard let bytes = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(EndpointFile.self, from: bytes)
    }

    /// Waits until `path` holds an endpoint file, at most `seconds`; `stillRunning` false ends the wait early.
    public static func wait(for path: String, seconds: Double, stillRunning: () -> Bool) -> EndpointFile? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let file = read(path) { return file }
            if !stillRunning() { return read(path) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }
}
