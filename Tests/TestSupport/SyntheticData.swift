// Small generated datasets for tests (never commit real data).
import Foundation
import MNISTData
import TensorKit

/// A small learnable dataset: class c draws a bright 6x6 block at a class-specific place, plus noise.
public enum SyntheticData {
    public static func dataset(count: Int, seed: UInt64, name: String) -> Dataset {
        let rng = CounterRNG(seed: seed)
        var images = [UInt8](repeating: 0, count: count * 784)
        var labels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let c = i % 10
            labels[i] = UInt8(c)
            let top = 3 + (c / 5) * 12 + Int(rng.block(.sampling, 1, UInt32(i))[0] % 4)
            let left = 2 + (c % 5) * 5 + Int(rng.block(.sampling, 2, UInt32(i))[0] % 2)
            for y in 0..<28 {
                for x in 0..<28 {
                    let noise = Int(rng.block(.sampling, 3, UInt32(i * 784 + y * 28 + x))[0] % 40)
                    let inBlock = y >= top && y < top + 6 && x >= left && x < left + 6
                    images[i * 784 + y * 28 + x] = UInt8(min(255, (inBlock ? 200 : 0) + noise))
                }
            }
        }
        return try! Dataset(images: images, labels: labels, rows: 28, cols: 28, classes: 10, name: name)
    }

    /// Writes the four MNIST files (gzip) for `train` and `test` samples into a new temp directory.
    public static func writeDirectory(train: Int, test: Int, seed: UInt64 = 1) throws -> String {
        let dir = NSTemporaryDirectory() + "digits-synthetic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (set, count, imagesName, labelsName) in [
            (dataset(count: train, seed: seed, name: "train"), train, MNISTFiles.trainImages, MNISTFiles.trainLabels),
            (dataset(count: test, seed: seed + 100, name: "test"), test, MNISTFiles.testImages, MNISTFiles.testLabels)
        ] {
            try IDXFile.write(IDXArray(dims: [count, 28, 28], data: set.images), path: "\(dir)/\(imagesName).gz", gzip: true)
            try IDXFile.write(IDXArray(dims: [count], data: set.labels), path: "\(dir)/\(labelsName).gz", gzip: true)
        }
        return dir
    }
}
