// Named datasets besides MNIST: where their IDX files live. Any other IDX dataset of 28x28 images
// (EMNIST, KMNIST, ...) works through --data DIR (the four standard file names) and --classes N.
import Foundation

public enum DatasetCatalog {
    public static let names = ["mnist", "fashion-mnist"]
    /// Debian's dataset-fashion-mnist package installs the four files here (gzipped).
    public static let fashionDirectory = "/usr/share/datasets/fashion-mnist"
    public static let fashionEnvironmentVariable = "DIGITS_FASHION_MNIST_DIR"

    /// The directory of a named dataset other than "mnist" (which uses `DataLocator.resolve`).
    public static func location(of name: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataLocation
    {
        switch name {
        case "fashion-mnist":
            if let dir = environment[fashionEnvironmentVariable], !dir.isEmpty {
                guard MNISTFiles.missing(in: dir).isEmpty else {
                    throw DataError(
                        path: dir,
                        message:
                            """
                            \(fashionEnvironmentVariable) directory lacks \(MNISTFiles.missing(in: dir).joined(separator: ", ")) (raw \
                            or .gz)
                            """
                    )
                }
                return DataLocation(directory: dir, source: .environment)
            }
            let missing = MNISTFiles.missing(in: fashionDirectory)
            guard missing.isEmpty else {
                throw DataError(
                    path: fashionDirectory,
                    message:
                        """
                        Fashion-MNIST not found (missing \(missing.joined(separator: ", "))); install it with 'apt-get install \
                        dataset-fashion-mnist', set \(fashionEnvironmentVariable), or pass --data DIR
                        """
                )
            }
            return DataLocation(directory: fashionDirectory, source: .shared)
        default:
            throw DataError(
                path: name,
                message: "unknown dataset '\(name)'; expected one of \(names.joined(separator: ", ")), or --data DIR for any IDX dataset")
        }
    }
}
