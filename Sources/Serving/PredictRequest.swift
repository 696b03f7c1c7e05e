// Decoding a /v1/predict request body into greyscale images: an image upload (raw PNG or JPEG,
// or multipart/form-data field `image`), or JSON (one 28x28 or 784-value array, or a batch: an
// array of those). Pure: bytes and a content type in, images or a 4xx ServeError out.
import Foundation
import MNISTData

/// The images of one request, before MNIST-style preprocessing.
public struct PredictInput: Equatable, Sendable {
    public var images: [GrayImage]
    /// True when the client sent a batch (a JSON array of images, or several `image` fields):
    /// the answer is then a list even if it has one element.
    public var isBatch: Bool
}

public enum PredictRequest {
    /// Most images one request may carry.
    public static let maxBatch = 256
    static let side = 28

    /// Decodes `body` according to `contentType` (the request's Content-Type header).
    /// - Throws: `ServeError` 415 for a missing or unsupported content type, 400 for an empty or
    ///   malformed body, 413 for too many images or too many pixels.
    public static func decode(body: [UInt8], contentType: String?) throws -> PredictInput {
        guard let contentType, !contentType.isEmpty else {
            throw ServeError.unsupportedType(
                "missing Content-Type: expected image/png, image/jpeg, multipart/form-data or application/json")
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { Substring($0).trimmingSpaces().lowercased() } ?? ""
        switch mediaType {
        case "image/png", "image/jpeg", "image/jpg", "application/octet-stream":
            return PredictInput(images: [try decodeImage(body, what: "the request body")], isBatch: false)
        case "multipart/form-data":
            guard let boundary = Multipart.boundary(contentType: contentType) else {
                throw ServeError.badRequest("multipart/form-data without a boundary parameter")
            }
            guard !body.isEmpty else { throw ServeError.badRequest("empty body: expected a multipart form with an `image` field") }
            let files = try Multipart.parse(body, boundary: boundary).filter { $0.name == "image" }
            guard !files.isEmpty else {
                throw ServeError.badRequest("multipart form has no `image` field (send e.g. curl -F image=@digit.png)")
            }
            guard files.count <= maxBatch else {
                throw ServeError.tooLarge("\(files.count) images in one request; the limit is \(maxBatch)")
            }
            let images = try files.map { try decodeImage($0.body, what: "the `image` field" + ($0.filename.map { " (\($0))" } ?? "")) }
            return PredictInput(images: images, isBatch: files.count > 1)
        case "application/json":
            return try decodeJSON(body)
        default:
            throw ServeError.unsupportedType(
                "unsupported Content-Type \(mediaType): expected image/png, image/jpeg, multipart/form-data or application/json")
        }
    }

    /// PNG or JPEG, recognised by content.
    public static func decodeImage(_ bytes: [UInt8], what: String) throws -> GrayImage {
        guard !bytes.isEmpty else { throw ServeError.badRequest("empty image: \(what) has no bytes (expected a PNG or JPEG)") }
        if PNG.isPNG(bytes) {
            // Refuse huge dimensions before inflating: a 2 MB deflate stream can expand ~1000x.
            if bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) {
                let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
                let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
                // Each side is up to 2^32 - 1, so the product can overflow Int: multiply with a check.
                let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
                guard !overflow, pixels <= JPEG.maxPixels else {
                    throw ServeError.tooLarge("\(what): PNG too large: \(width)x\(height) exceeds the limit of \(JPEG.maxPixels) pixels")
                }
            }
            do { return try PNG.decodeGray(bytes, path: what) } catch let error as DataError {
                throw ServeError(status: error.message.hasPrefix("PNG too large") ? 413 : 400, "\(what): \(error.message)")
            }
        }
        if JPEG.isJPEG(bytes) {
            do { return try JPEG.decodeGray(bytes) } catch let error as ServeError {
                throw ServeError(status: error.status, "\(what): \(error.message)")
            }
        }
        throw ServeError.badRequest("\(what) is not a PNG or JPEG: found \(JPEG.hexPrefix(bytes))")
    }

    /// One image (784 numbers, or 28 rows of 28) or a batch (an array of those). Values are
    /// 0...255 (MNIST bytes, light ink on dark); if every value of an image is at most 1 the
    /// image is read as 0...1 intensities.
    public static func decodeJSON(_ body: [UInt8]) throws -> PredictInput {
        guard !body.isEmpty else {
            throw ServeError.badRequest("empty body: expected a JSON array of 784 numbers, 28 rows of 28, or a batch of those")
        }
        let value: Any
        do { value = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) } catch {
            throw ServeError.badRequest("malformed JSON: \(String(describing: error).prefix(200))")
        }
        guard let top = value as? [Any], !top.isEmpty else {
            throw ServeError.badRequest(
                "expected a JSON array of 784 numbers, 28 rows of 28, or a batch of those, found \(describe(value))")
        }
        // One flat image: the first element is a number.
        if top.first is NSNumber { return PredictInput(images: [try image(top, index: nil)], isBatch: false) }
        // One 28x28 image: 28 rows of 28 numbers.
        if top.count == side, let rows = top as? [[Any]], rows.allSatisfy({ $0.count == side && $0.allSatisfy { $0 is NSNumber } }) {
            return PredictInput(images: [try image(top, index: nil)], isBatch: false)
        }
        guard top.count <= maxBatch else {
            throw ServeError.tooLarge("\(top.count) images in one request; the limit is \(maxBatch)")
        }
        return PredictInput(images: try top.enumerated().map { try image($1, index: $0) }, isBatch: true)
    }

    private static func image(_ value: Any, index: Int?) throws -> GrayImage {
        let place = index.map { "image \($0): " } ?? ""
        guard let array = value as? [Any] else {
            throw ServeError.badRequest("\(place)expected an array of 784 numbers or 28 rows of 28, found \(describe(value))")
        }
        var numbers: [Any]
        if array.count == side * side {
            numbers = array
        } else if array.count == side, array.allSatisfy({ ($0 as? [Any])?.count == side }) {
            numbers = array.flatMap { $0 as! [Any] }
        } else {
            let shape =
                array.allSatisfy({ $0 is [Any] })
                ? "\(array.count) rows of \((array.first as? [Any])?.count ?? 0)" : "\(array.count) values"
            throw ServeError.badRequest("\(place)expected 784 numbers or 28 rows of 28, found \(shape)")
        }
        var values = [Double](repeating: 0, count: numbers.count)
        for (i, element) in numbers.enumerated() {
            guard let number = element as? NSNumber else {
                throw ServeError.badRequest("\(place)pixel \(i) is \(describe(element)), expected a number in 0...255")
            }
            let v = number.doubleValue
            guard v.isFinite, v >= 0, v <= 255 else {
                throw ServeError.badRequest("\(place)pixel \(i) is \(v), expected a number in 0...255 (or 0...1)")
            }
            values[i] = v
        }
        let scale = (values.max() ?? 0) <= 1 ? 255.0 : 1.0
        return GrayImage(width: side, height: side, pixels: values.map { UInt8(($0 * scale).rounded()) })
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case let s as String: return "a string \"\(s.prefix(20))\""
        case let a as [Any]: return "an array of \(a.count)"
        case is [String: Any]: return "an object"
        case let n as NSNumber: return "\(n)"
        default: return "\(type(of: value))"
        }
    }
}
