// `digits data show`: where the data comes from, whether it is intact, what it holds.
import ArgumentParser
import Foundation
import MNISTData

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "Inspect the dataset.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts per class (train/test), pixel statistics and checksum status.")

        @OptionGroup var dataOptions: DataOptions
        @Flag(help: "Print JSON.") var json = false

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
                case directory, source, trainCount = "train_count", testCount = "test_count", trainPerClass = "train_per_class",
                     testPerClass = "test_per_class", pixelMean = "pixel_mean", pixelStd = "pixel_std", checksums
            }
        }

        func run() throws {
            let (location, train, test) = try dataOptions.load()
            var sum = 0.0, sumSq = 0.0
            for p in train.images { let v = Double(p) / 255; sum += v; sumSq += v * v }
            let n = Double(train.images.count)
            let mean = sum / n, std = (sumSq / n - mean * mean).squareRoot()
            // A named non-MNIST dataset has no MNIST reference hashes to compare with.
            let named = dataOptions.data == nil && (dataOptions.dataset ?? "mnist") != "mnist"
            let checks = named ? [] : try Checksums.verify(directory: location.directory)
            var status: [String: String] = [:]
            for c in checks { status[c.file] = c.ok.map { $0 ? "ok" : "MISMATCH" } ?? "no reference" }
            let stats = Stats(directory: location.directory, source: location.source.rawValue, trainCount: train.count, testCount: test.count,
                              trainPerClass: train.classCounts(), testPerClass: test.classCounts(), pixelMean: mean, pixelStd: std, checksums: status)
            if json { try writeJSON(stats); return }
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
            if checks.contains(where: { $0.ok == false }) { throw ExitCode(1) }
        }
    }
}
