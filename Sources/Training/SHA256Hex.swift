// SHA-256 helpers (swift-crypto) for weights, checkpoints and config hashes.
import Crypto
import Foundation

public enum SHA256Hex {
    public static func of(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// SHA-256 of a flat Float32 vector as little-endian bytes (the `weights_sha256` of a run).
    public static func of(floats: [Float]) -> String {
        floats.withUnsafeBytes { raw in
            SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined()
        }
    }
}
