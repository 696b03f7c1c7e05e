// A small multipart/form-data parser (RFC 7578 over RFC 2046): enough for `curl -F image=@x.png`
// and browser form uploads. Pure; every malformed input is a ServeError, never a crash.

/// One part of a multipart/form-data body.
public struct MultipartPart: Equatable, Sendable {
    /// The `name` of the form field (Content-Disposition).
    public var name: String
    /// The `filename`, when the part is a file.
    public var filename: String?
    /// The part's own Content-Type, when given.
    public var contentType: String?
    public var body: [UInt8]
}

public enum Multipart {
    /// The `boundary` parameter of a `multipart/form-data; boundary=...` content type.
    public static func boundary(contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces().lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingSpaces()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.count > 70 ? nil : value
        }
        return nil
    }

    /// Splits `body` into its parts.
    /// - Throws: `ServeError` (400) when the opening or closing boundary is missing, or a part has
    ///   no blank line after its headers or no `name`.
    public static func parse(_ body: [UInt8], boundary: String) throws -> [MultipartPart] {
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n--\(boundary)".utf8)
        guard let first = find(delimiter, in: body, from: 0) else {
            throw ServeError.badRequest("multipart body: expected the boundary \"--\(boundary)\", found none")
        }
        var parts: [MultipartPart] = []
        var position = first + delimiter.count
        while true {
            // After a delimiter: "--" closes the body, CRLF starts a part.
            if position + 2 <= body.count, body[position] == 0x2D, body[position + 1] == 0x2D { return parts }
            guard position + 2 <= body.count, body[position] == 0x0D, body[position + 1] == 0x0A else {
                throw ServeError.badRequest("multipart body: expected CRLF or \"--\" after the boundary at byte \(position)")
            }
            let headerStart = position + 2
            guard let headerEnd = find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: headerStart) else {
                throw ServeError.badRequest("multipart body: a part's headers do not end with a blank line")
            }
            guard let next = find(separator, in: body, from: headerEnd + 4) else {
                throw ServeError.badRequest("multipart body: truncated, the closing boundary \"--\(boundary)--\" is missing")
            }
            let headers = String(decoding: body[headerStart..<headerEnd], as: UTF8.self)
            var part = MultipartPart(name: "", filename: nil, contentType: nil, body: Array(body[(headerEnd + 4)..<next]))
            var named = false
            for line in headers.split(separator: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let key = pair[0].trimmingSpaces().lowercased()
                let value = pair[1].trimmingSpaces()
                if key == "content-type" { part.contentType = value }
                if key == "content-disposition" {
                    if let name = parameter("name", in: value) {
                        part.name = name
                        named = true
                    }
                    part.filename = parameter("filename", in: value)
                }
            }
            guard named else {
                throw ServeError.badRequest("multipart body: a part has no Content-Disposition name")
            }
            parts.append(part)
            position = next + separator.count
        }
    }

    /// `name="value"` (or unquoted) inside a header value such as `form-data; name="image"`.
    static func parameter(_ key: String, in value: String) -> String? {
        for item in value.split(separator: ";").dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingSpaces().lowercased() == key else { continue }
            var v = pair[1].trimmingSpaces()
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            return v
        }
        return nil
    }

    /// First index of `needle` in `haystack` at or after `start`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
