// A plain HTTP GET with a deadline, for tests that talk to a running coordinator's status server.
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

public enum HTTPGet {
    public struct Response {
        public var status: Int
        public var contentType: String
        public var body: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// GET `url`; throws if nothing answers within `timeout` seconds.
    public static func fetch(_ url: String, timeout: Double = 10) throws -> Response {
        guard let u = URL(string: url) else { throw Failure(description: "not a URL: \(url)") }
        var request = URLRequest(url: u)
        request.timeoutInterval = timeout
        request.cachePolicy = .reloadIgnoringLocalCacheData
        let done = DispatchSemaphore(value: 0)
        let result = Box()
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                result.response = Response(
                    status: http.statusCode, contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "",
                    body: String(decoding: data ?? Data(), as: UTF8.self))
            }
            result.error = error
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + timeout + 2) == .success else {
            throw Failure(description: "GET \(url): no answer within \(timeout) s")
        }
        if let r = result.response { return r }
        throw Failure(description: "GET \(url): \(result.error.map { "\($0)" } ?? "no response")")
    }

    private final class Box: @unchecked Sendable {
        var response: Response?
        var error: (any Error)?
    }
}
