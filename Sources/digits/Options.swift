// Option groups shared by several subcommands.
import ArgumentParser
import Foundation
import MNISTData
import Training

struct DataOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            """
            Directory with the four MNIST IDX files (raw or .gz). Default: $DIGITS_DATA_DIR, data/mnist, ../shared/data/mnist, else \
            download.
            """
    )
    var data: String?
    @Option(help: "A named dataset instead of MNIST: fashion-mnist (Debian's dataset-fashion-mnist). --data DIR wins over it.")
    var dataset: String?

    /// `--data`, else the named dataset (`--dataset`, else the config's data.dataset), else the MNIST chain.
    func locate(defaultDataset: String = "mnist") throws -> DataLocation {
        if let dataset, !DatasetCatalog.names.contains(dataset) {
            throw CLIError(
                """
                --dataset must be one of \(DatasetCatalog.names.joined(separator: ", ")), found '\(dataset)' (use --data DIR \
                --classes N for other IDX datasets)
                """
            )
        }
        if data == nil, let name = dataset ?? (defaultDataset == "mnist" ? nil : defaultDataset), name != "mnist" {
            return try DatasetCatalog.location(of: name)
        }
        return try DataLocator.resolve(flag: data)
    }

    func load(classes: Int = 10, defaultDataset: String = "mnist") throws -> (location: DataLocation, train: Dataset, test: Dataset) {
        let location = try locate(defaultDataset: defaultDataset)
        let (train, test) = try MNISTFiles.load(directory: location.directory, classes: classes)
        return (location, train, test)
    }
}

/// A failure to report as one line and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func writeJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    Console.output(String(decoding: try encoder.encode(value), as: UTF8.self))
    print()
}
