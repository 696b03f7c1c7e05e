import Foundation
import MNISTData

/// The real MNIST files (always at ../shared/data/mnist for developers and CI): tests that need them
/// fail, never skip, when they are missing.
public enum RealMNIST {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// The directory holding the real files (DIGITS_DATA_DIR, data/mnist or ../shared/data/mnist beside the package).
    public static func directory(packageRoot: String) throws -> String {
        do {
            return try DataLocator.resolve(flag: nil, workingDirectory: packageRoot, allowDownload: false).directory
        } catch {
            throw Missing(description: "real MNIST is required and was not found (it lives at ../shared/data/mnist): \(error)")
        }
    }

    /// The first `train` training and `test` test samples of real MNIST, written as gzipped IDX files into
    /// a new temp directory: a fixed subset, the same on every machine.
    public static func writeSubset(train: Int, test: Int, packageRoot: String) throws -> String {
        let (full, fullTest) = try MNISTFiles.load(directory: try directory(packageRoot: packageRoot))
        let dir = NSTemporaryDirectory() + "digits-mnist-subset-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (set, count, imagesName, labelsName) in [
            (full, train, MNISTFiles.trainImages, MNISTFiles.trainLabels),
            (fullTest, test, MNISTFiles.testImages, MNISTFiles.testLabels)
        ] {
            let pixels = set.rows * set.cols
            try IDXFile.write(
                IDXArray(dims: [count, set.rows, set.cols], data: Array(set.images[0..<count * pixels])),
                path: "\(dir)/\(imagesName).gz", gzip: true)
            try IDXFile.write(IDXArray(dims: [count], data: Array(set.labels[0..<count])), path: "\(dir)/\(labelsName).gz", gzip: true)
        }
        return dir
    }
}
