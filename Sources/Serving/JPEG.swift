// JPEG through libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev): decoding uploads to
// greyscale, and encoding (used by tests and the load script's fixtures). A corrupt or truncated
// JPEG is an error, never a crash: TurboJPEG reports by return code.
import CTurboJPEG
import MNISTData

public enum JPEG {
    /// Larger images are refused before decoding (a header can claim 65535 x 65535).
    public static let maxPixels = 1 << 24

    /// True when `bytes` start with the JPEG SOI marker and a marker byte (FF D8 FF).
    public static func isJPEG(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    /// Decodes any baseline or progressive JPEG to 8-bit grey (luminance).
    /// - Throws: `ServeError` (400) for a missing signature, a corrupt or truncated stream
    ///   (warnings count as errors), or (413) an image over `maxPixels`.
    public static func decodeGray(_ bytes: [UInt8]) throws -> GrayImage {
        guard isJPEG(bytes) else {
            throw ServeError.badRequest("not a JPEG: expected the bytes ff d8 ff, found \(hexPrefix(bytes))")
        }
        guard let handle = tjInitDecompress() else {
            throw ServeError(status: 500, "cannot initialise the JPEG decoder")
        }
        defer { tjDestroy(handle) }
        var width: Int32 = 0
        var height: Int32 = 0
        var subsampling: Int32 = 0
        var colorspace: Int32 = 0
        let headerStatus = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt(bytes.count), &width, &height, &subsampling, &colorspace)
        }
        guard headerStatus == 0 else {
            throw ServeError.badRequest("corrupt JPEG header: \(message(handle))")
        }
        guard width >= 1, height >= 1 else {
            throw ServeError.badRequest("corrupt JPEG: \(width)x\(height) pixels")
        }
        guard Int(width) * Int(height) <= maxPixels else {
            throw ServeError.tooLarge("JPEG too large: \(width)x\(height) exceeds the limit of \(maxPixels) pixels")
        }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height))
        let status = bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(
                    handle, source.baseAddress, UInt(bytes.count), out.baseAddress, width, width, height,
                    Int32(TJPF_GRAY.rawValue), TJFLAG_STOPONWARNING)
            }
        }
        guard status == 0 else {
            throw ServeError.badRequest("corrupt JPEG image data: \(message(handle))")
        }
        return GrayImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    /// Encodes an 8-bit greyscale JPEG at `quality` (1...100).
    public static func encodeGray(_ image: GrayImage, quality: Int = 95) -> [UInt8] {
        precondition(image.width >= 1 && image.height >= 1 && image.pixels.count == image.width * image.height)
        guard let handle = tjInitCompress() else { fatalError("cannot initialise the JPEG encoder") }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), Int32(image.width), Int32(image.height),
                Int32(TJPF_GRAY.rawValue), &output, &size, Int32(TJSAMP_GRAY.rawValue), Int32(quality), 0)
        }
        defer { if let output { tjFree(output) } }
        precondition(status == 0 && output != nil, "JPEG encoding failed: \(message(handle))")
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }

    private static func message(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: text)
    }

    static func hexPrefix(_ bytes: [UInt8], count: Int = 8) -> String {
        bytes.isEmpty
            ? "an empty body"
            : bytes.prefix(count).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(
                separator: " ")
    }
}
