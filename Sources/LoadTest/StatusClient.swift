// Reads the coordinator's status JSON (`/status.json` of its status server on loopback): the
// counters the load test's exactly-once and rejection figures come from. A plain HTTP/1.0 GET on a
// blocking socket with send and receive timeouts: no URLSession threads, so this process's
// descriptor count stays a clean leak check.
import Cluster
import Foundation
import StatusModel

enum StatusClient {
    /// GET `path` from `url`'s host and port (http://HOST:PORT/...); the body, or a thrown reason.
    static func get(_ url: String, path: String, timeout: Double = 5) throws -> [UInt8] {
        guard let u = URL(string: url), u.scheme == "http", let host = u.host, let port = u.port else {
            throw LoadTestError("not an http://HOST:PORT URL: \(url)")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw LoadTestError("the status server's host \(host) is not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoadTestError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw LoadTestError("cannot reach the status server at \(url): \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw LoadTestError("could not send the request to \(url)")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw LoadTestError("no answer from \(url)\(path) within \(timeout) s") }
            if n == 0 { break }
            response += chunk[0..<n]
        }
        guard let split = response.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw LoadTestError("a malformed HTTP answer from \(url)")
        }
        let head = String(decoding: response[..<split.lowerBound], as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 200") || head.hasPrefix("HTTP/1.0 200") else {
            throw LoadTestError("\(url)\(path) answered \(head.split(separator: "\r\n").first ?? "")")
        }
        return Array(response[split.upperBound...])
    }

    /// The coordinator's status snapshot.
    static func snapshot(_ url: String) throws -> StatusSnapshot {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(StatusSnapshot.self, from: Data(get(url, path: "/status.json")))
    }
}
