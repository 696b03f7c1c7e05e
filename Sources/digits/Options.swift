// Option groups shared by several subcommands.
import ArgumentParser
import Foundation
import MNISTData
import Training

struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Directory with the four MNIST IDX files (raw or .gz). Default: $DIGITS_DATA_DIR, data/mnist, ../shared/data/mnist, else download.")
    var data: String?

    func locate() throws -> DataLocation {
        try DataLocator.resolve(flag: data)
    }

    func load(classes: Int = 10) throws -> (location: DataLocation, train: Dataset, test: Dataset) {
        let location = try locate()
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
    FileHandle.standardOutput.write(try encoder.encode(value))
    print()
}
