// libFuzzer entry point for the decoders of users' files and HTTP requests, compiled by
// scripts/fuzz.sh together with the MNISTData codecs and the Serving request decoders (all
// instrumented). One binary serves several targets; the target is the binary's name (fuzz.sh links
// png, gzip, idx, multipart and predict to it) or DIGITS_FUZZ_TARGET. Every decoder must return a
// value or throw its own error type; anything else (a trap, a sanitizer report, a hang, a huge
// allocation) is a finding. Accepted inputs are also checked for consistency (round trips).
import Foundation
import MNISTData
import Serving

private let target: String = {
    if let name = ProcessInfo.processInfo.environment["DIGITS_FUZZ_TARGET"], !name.isEmpty { return name }
    return URL(fileURLWithPath: CommandLine.arguments.first ?? "").lastPathComponent
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "png": fuzzPNG(bytes)
    case "gzip": fuzzGzip(bytes)
    case "idx": fuzzIDX(bytes)
    case "multipart": fuzzMultipart(bytes)
    case "predict": fuzzPredict(bytes)
    default: fatalError("unknown fuzz target '\(target)': expected png, gzip, idx, multipart or predict")
    }
    return 0
}

/// PNG.decodeGray on the bytes as they are, then with every chunk CRC recomputed (random bytes
/// almost never carry a valid CRC-32, which would keep the fuzzer at the first chunk).
private func fuzzPNG(_ bytes: [UInt8]) {
    check(png: bytes)
    let fixed = FuzzSupport.withPNGCRCsFixed(bytes)
    if fixed != bytes { check(png: fixed) }
}

private func check(png bytes: [UInt8]) {
    do {
        let image = try PNG.decodeGray(bytes, path: "fuzz.png")
        guard image.width >= 1, image.height >= 1, image.pixels.count == image.width * image.height else {
            fatalError("PNG decoded to an inconsistent \(image.width)x\(image.height) image with \(image.pixels.count) pixels")
        }
        if image.pixels.count <= 1 << 16 {
            guard (try? PNG.decodeGray(PNG.encode(image), path: "re-encoded")) == image else {
                fatalError("a decoded \(image.width)x\(image.height) PNG does not survive encode + decode")
            }
        }
    } catch is DataError {
    } catch {
        fatalError("PNG.decodeGray threw \(type(of: error)), not DataError: \(error)")
    }
}

/// Gzip.decompress and Gzip.inflateZlib; what inflates must deflate and inflate back to itself.
private func fuzzGzip(_ bytes: [UInt8]) {
    do {
        let out = try Gzip.decompress(bytes, path: "fuzz.gz")
        guard try Gzip.decompress(Gzip.compress(out), path: "again") == out else { fatalError("gzip round trip changed the data") }
    } catch is DataError {
    } catch { fatalError("Gzip.decompress threw \(type(of: error)), not DataError: \(error)") }
    do {
        let out = try Gzip.inflateZlib(bytes, path: "fuzz.zlib")
        guard try Gzip.inflateZlib(Gzip.deflateZlib(out), path: "again") == out else { fatalError("zlib round trip changed the data") }
    } catch is DataError {
    } catch { fatalError("Gzip.inflateZlib threw \(type(of: error)), not DataError: \(error)") }
}

/// IDXFile.decodeFile (raw or gzip); a raw file that decodes must re-encode to the same bytes.
private func fuzzIDX(_ bytes: [UInt8]) {
    do {
        let array = try IDXFile.decodeFile(bytes, path: "fuzz.idx")
        guard array.dims.reduce(1, *) == array.data.count else { fatalError("IDX dims \(array.dims) with \(array.data.count) bytes") }
        if !Gzip.isGzip(bytes), IDXFile.encode(array) != bytes { fatalError("IDX re-encoding changed the bytes") }
    } catch is DataError {
    } catch { fatalError("IDXFile.decodeFile threw \(type(of: error)), not DataError: \(error)") }
}

/// The first line is the Content-Type header, the rest the body: Multipart.boundary, then
/// Multipart.parse with that boundary.
private func fuzzMultipart(_ bytes: [UInt8]) {
    let newline = bytes.firstIndex(of: 0x0A) ?? bytes.count
    let contentType = String(decoding: bytes[0..<newline], as: UTF8.self)
    let body = newline < bytes.count ? Array(bytes[(newline + 1)...]) : []
    guard let boundary = Multipart.boundary(contentType: contentType) else { return }
    guard !boundary.isEmpty, boundary.count <= 70 else { fatalError("boundary '\(boundary)' should have been refused") }
    do {
        for part in try Multipart.parse(body, boundary: boundary) where part.body.count > body.count {
            fatalError("a part of \(part.body.count) bytes from a body of \(body.count)")
        }
    } catch let error as ServeError {
        if error.status != 400 { fatalError("Multipart.parse answered \(error.status), expected 400: \(error)") }
    } catch { fatalError("Multipart.parse threw \(type(of: error)), not ServeError: \(error)") }
}

/// The whole /v1/predict body decoder: the first byte picks the Content-Type (JSON, PNG, JPEG or
/// multipart with boundary "fuzz"), the rest is the body.
private func fuzzPredict(_ bytes: [UInt8]) {
    guard let selector = bytes.first else { return }
    let types = ["application/json", "image/png", "image/jpeg", "multipart/form-data; boundary=fuzz"]
    let contentType = types[Int(selector) % types.count]
    do {
        let input = try PredictRequest.decode(body: Array(bytes.dropFirst()), contentType: contentType)
        guard !input.images.isEmpty, input.images.count <= PredictRequest.maxBatch else {
            fatalError("\(input.images.count) images accepted")
        }
        for image in input.images where image.pixels.count != image.width * image.height || image.pixels.isEmpty {
            fatalError("inconsistent \(image.width)x\(image.height) image with \(image.pixels.count) pixels")
        }
    } catch let error as ServeError {
        if !(400..<500).contains(error.status) { fatalError("PredictRequest.decode answered \(error.status), expected a 4xx: \(error)") }
    } catch { fatalError("PredictRequest.decode threw \(type(of: error)), not ServeError: \(error)") }
}
