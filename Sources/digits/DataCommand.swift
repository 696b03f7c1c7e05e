// `digits data show`: where the data comes from, whether it is intact, what it holds.
import ArgumentParser
import Foundation
import MNISTData
import Reports
import Training

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Inspect the dataset.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts per class (train/test), pixel statistics and checksum status.")

        @OptionGroup var dataOptions: DataOptions
        @Flag(help: "Print JSON.") var json = false
        @Option(
            help:
                "Write a PNG grid of the first training images with their labels to this file, and the class-balance chart (SVG) beside it."
        )
        var grid: String?
        @Option(
            help:
                """
                Where to write the class-balance chart (SVG). Default: beside --grid, \"-samples\" replaced by \"-balance\" \
                (data-samples.png -> data-balance.svg).
                """
        )
        var balance: String?
        @Option(name: .customLong("grid-count"), help: "Images in the grid (default 60, 12 per row).") var gridCount: Int = 60

        func validate() throws {
            if gridCount < 1 || gridCount > 10_000 { throw ValidationError("--grid-count must be in 1...10000, found \(gridCount)") }
            if balance != nil && grid == nil { throw ValidationError("--balance goes with --grid") }
        }

        /// data-samples.png -> data-balance.svg; x.png -> x-balance.svg.
        static func balancePath(forGrid grid: String) -> String {
            let url = URL(fileURLWithPath: grid)
            var stem = url.deletingPathExtension().lastPathComponent
            if stem.hasSuffix("-samples") { stem = String(stem.dropLast("-samples".count)) }
            let dir = (grid as NSString).deletingLastPathComponent
            return (dir.isEmpty ? "" : dir + "/") + stem + "-balance.svg"
        }

        func writeFigures(train: Dataset, test: Dataset) throws -> [String] {
            guard let grid else { return [] }
            let balance = self.balance ?? Self.balancePath(forGrid: grid)
            for path in [grid, balance] {
                let dir = (path as NSString).deletingLastPathComponent
                var isDir: ObjCBool = false
                if !dir.isEmpty, !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) {
                    throw CLIError("\(path): directory \(dir) does not exist")
                }
            }
            let canvas = Figures.sampleGrid(train, count: gridCount, columns: 12, title: "MNIST TRAINING IMAGES AND LABELS")
            try SealedFile.writeAtomically(canvas.png, to: grid)
            try SealedFile.writeAtomically(
                Array(Figures.classBalance(train: train.classCounts(), test: test.classCounts()).utf8), to: balance)
            return [grid, balance]
        }

        struct Stats: Encodable {
            var directory: String
            var source: String
            var trainCount: Int
            var testCount: Int
            var trainPerClass: [Int]
            var testPerClass: [Int]
            var pixelMean: Double
            var pixelStd: Double
            var checksums: [String: String]
            enum CodingKeys: String, CodingKey {
                case directory, source
                case trainCount = "train_count"
                case testCount = "test_count"
                case trainPerClass = "train_per_class"
                case
                    testPerClass = "test_per_class"
                case pixelMean = "pixel_mean"
                case pixelStd = "pixel_std"
                case checksums
            }
        }

        func run() throws {
            let (location, train, test) = try dataOptions.load()
            var sum = 0.0
            var sumSq = 0.0
            for p in train.images {
                let v = Double(p) / 255
                sum += v
                sumSq += v * v
            }
            let n = Double(train.images.count)
            let mean = sum / n
            let std = (sumSq / n - mean * mean).squareRoot()
            // A named non-MNIST dataset has no MNIST reference hashes to compare with.
            let named = dataOptions.data == nil && (dataOptions.dataset ?? "mnist") != "mnist"
            let checks = named ? [] : try Checksums.verify(directory: location.directory)
            var status: [String: String] = [:]
            for c in checks { status[c.file] = c.ok.map { $0 ? "ok" : "MISMATCH" } ?? "no reference" }
            let stats = Stats(
                directory: location.directory, source: location.source.rawValue, trainCount: train.count, testCount: test.count,
                trainPerClass: train.classCounts(), testPerClass: test.classCounts(), pixelMean: mean, pixelStd: std, checksums: status)
            let written = try writeFigures(train: train, test: test)
            if json {
                try writeJSON(stats)
                return
            }
            print("data: \(location.directory) (\(location.source.rawValue))")
            print("train: \(train.count) images \(train.rows)x\(train.cols); test: \(test.count) images")
            print("class   train   test")
            for c in 0..<train.classes {
                print(String(format: "%5d  %6d  %5d", c, stats.trainPerClass[c], stats.testPerClass[c]))
            }
            print(String(format: "train pixels in [0,1]: mean %.4f, std %.4f", mean, std))
            for c in checks {
                print("checksum \(c.file): \(status[c.file]!)")
            }
            for path in written { print("wrote \(path)") }
            if checks.contains(where: { $0.ok == false }) { throw ExitCode(1) }
        }
    }
}
