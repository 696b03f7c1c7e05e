// model.digits: the trained network as one versioned, checksummed file: architecture,
// normalisation, parameter layout and weights.
import Foundation
import NeuralNet

public struct ModelFileHeader: Codable, Sendable {
    public var formatVersion: Int = 1
    public var spec: ModelSpec
    public var normalization: Normalization
    public var parameterCount: Int
    public var parameters: [ParameterView]
    public var weightsSHA256: String
    /// Free-form facts about training (test accuracy, epochs, date).
    public var metadata: [String: String]
}

public struct ModelFile: Sendable {
    public static let magic = "DIGITSM1"
    public var header: ModelFileHeader
    public var weights: [Float]

    public init(spec: ModelSpec, normalization: Normalization, weights: [Float], metadata: [String: String]) throws {
        let model = try Sequential(spec: spec)
        precondition(weights.count == model.parameterCount)
        header = ModelFileHeader(
            spec: spec, normalization: normalization, parameterCount: weights.count,
            parameters: model.parameterViews, weightsSHA256: SHA256Hex.of(floats: weights), metadata: metadata)
        self.weights = weights
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try SealedFile.writeAtomically(
            SealedFile.encode(magic: Self.magic, header: try encoder.encode(header), arrays: [weights]), to: path)
    }

    public static func read(path: String) throws -> (file: ModelFile, model: Sequential) {
        try decode(try SealedFile.read(path: path), path: path)
    }

    /// Decodes the bytes of a model file; `path` is only used in error messages.
    /// - Throws: `FileFormatError` naming `path` when the bytes are not an intact, consistent model file.
    public static func decode(_ bytes: [UInt8], path: String) throws -> (file: ModelFile, model: Sequential) {
        let (json, arrays) = try SealedFile.decode(bytes, magic: magic, path: path)
        let header: ModelFileHeader
        do { header = try JSONDecoder().decode(ModelFileHeader.self, from: json) } catch {
            throw FileFormatError(path: path, message: "unreadable model header: \(error)")
        }
        guard header.formatVersion == 1 else {
            throw FileFormatError(path: path, message: "model format version \(header.formatVersion) is not supported (expected 1)")
        }
        let norm = header.normalization
        guard norm.std != 0, norm.scale.isFinite, norm.shift.isFinite else {
            throw FileFormatError(
                path: path,
                message:
                    """
                    expected a normalization with a non-zero std and a finite scale 1/(255 std) and shift -mean/std, found mean \
                    \(norm.mean), std \(norm.std)
                    """
            )
        }
        let model: Sequential
        do { model = try Sequential(spec: header.spec) } catch {
            throw FileFormatError(path: path, message: "invalid architecture: \(error)")
        }
        guard arrays.count == 1, arrays[0].count == model.parameterCount else {
            throw FileFormatError(
                path: path, message: "expected \(model.parameterCount) weights for \(header.spec.name), found \(arrays.first?.count ?? 0)")
        }
        var file = try ModelFile(spec: header.spec, normalization: header.normalization, weights: arrays[0], metadata: header.metadata)
        file.header = header
        return (file, model)
    }
}
