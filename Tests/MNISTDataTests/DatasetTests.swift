// Tests of Dataset validation (count mismatch, label range, dimensions), class counts, subsets,
// and MNISTFiles: finding raw or .gz files, loading a directory, and naming missing files.
import XCTest

@testable import MNISTData

final class DatasetTests: XCTestCase {
    func testValidDataset() throws {
        let set = try Dataset(images: Fixtures.bytes(5 * 6), labels: [0, 2, 2, 1, 2], rows: 2, cols: 3, classes: 3, name: "toy")
        XCTAssertEqual(set.count, 5)
        XCTAssertEqual(set.imageSize, 6)
        XCTAssertEqual(set.classCounts(), [1, 1, 3])
    }

    func testImageBytesMismatchNamed() {
        XCTAssertThrowsError(try Dataset(images: Fixtures.bytes(29), labels: [0, 1, 2, 1, 0], rows: 2, cols: 3, classes: 3, name: "toy")) {
            error in
            XCTAssertEqual((error as? DataError)?.path, "toy")
            XCTAssertTrue("\(error)".contains("5 labels"), "\(error)")
        }
    }

    func testLabelOutOfRangeMessage() {
        var labels = [UInt8](repeating: 3, count: 9)
        labels[7] = 12
        XCTAssertThrowsError(try Dataset(images: Fixtures.bytes(9 * 4), labels: labels, rows: 2, cols: 2, classes: 10, name: "toy")) {
            error in
            XCTAssertTrue("\(error)".contains("label 12 at index 7 is out of range for 10 classes"), "\(error)")
        }
        let images = IDXArray(dims: [9, 2, 2], data: Fixtures.bytes(36))
        XCTAssertThrowsError(
            try Dataset(images: images, imagesPath: "i", labels: IDXArray(dims: [9], data: labels), labelsPath: "l", classes: 10)
        ) { error in
            XCTAssertEqual((error as? DataError)?.path, "l")
            XCTAssertTrue("\(error)".contains("label 12 at index 7 is out of range for 10 classes"), "\(error)")
        }
    }

    func testCountMismatchNamesBothFiles() {
        let images = IDXArray(dims: [3, 2, 2], data: Fixtures.bytes(12))
        let labels = IDXArray(dims: [2], data: [0, 1])
        XCTAssertThrowsError(try Dataset(images: images, imagesPath: "a/imgs", labels: labels, labelsPath: "a/lbls", classes: 10)) {
            error in
            XCTAssertEqual((error as? DataError)?.path, "a/imgs")
            XCTAssertTrue("\(error)".contains("has 3 images but a/lbls has 2 labels"), "\(error)")
        }
    }

    func testSwappedFilesRejected() {
        let images = IDXArray(dims: [3, 2, 2], data: Fixtures.bytes(12))
        let labels = IDXArray(dims: [3], data: [0, 1, 2])
        XCTAssertThrowsError(try Dataset(images: labels, imagesPath: "l", labels: images, labelsPath: "i", classes: 10)) { error in
            XCTAssertTrue("\(error)".contains("expected an images IDX file with 3 dimensions"), "\(error)")
        }
        XCTAssertThrowsError(try Dataset(images: images, imagesPath: "i", labels: images, labelsPath: "i2", classes: 10)) { error in
            XCTAssertEqual((error as? DataError)?.path, "i2")
        }
    }

    func testSubsetKeepsGivenOrder() throws {
        let images: [UInt8] = [10, 11, 20, 21, 30, 31]
        let set = try Dataset(images: images, labels: [1, 2, 3], rows: 1, cols: 2, classes: 4, name: "s")
        let sub = set.subset([2, 0, 2])
        XCTAssertEqual(sub.images, [30, 31, 10, 11, 30, 31])
        XCTAssertEqual(sub.labels, [3, 1, 3])
        XCTAssertEqual(sub.rows, 1)
        XCTAssertEqual(sub.cols, 2)
        XCTAssertEqual(sub.classes, 4)
        XCTAssertEqual(set.subset([]).count, 0)
    }

    func testPathPrefersGzThenRaw() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        let raw = Fixtures.join(directory, MNISTFiles.trainLabels)
        try Data([1]).write(to: URL(fileURLWithPath: raw))
        XCTAssertEqual(try MNISTFiles.path(of: MNISTFiles.trainLabels, in: directory), raw)
        try Data([1]).write(to: URL(fileURLWithPath: raw + ".gz"))
        XCTAssertEqual(try MNISTFiles.path(of: MNISTFiles.trainLabels, in: directory), raw + ".gz")
        XCTAssertThrowsError(try MNISTFiles.path(of: MNISTFiles.testLabels, in: directory)) { error in
            XCTAssertEqual((error as? DataError)?.path, directory)
            XCTAssertTrue("\(error)".contains("t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte"), "\(error)")
        }
    }

    func testLoadRawAndGzipDirectories() throws {
        for gzip in [false, true] {
            let directory = Fixtures.join(try Fixtures.temporaryDirectory(self), "mnist")
            try Fixtures.writeFakeMNIST(in: directory, train: 6, test: 4, gzip: gzip)
            let (train, test) = try MNISTFiles.load(directory: directory)
            XCTAssertEqual(train.count, 6)
            XCTAssertEqual(test.count, 4)
            XCTAssertEqual(train.rows, 2)
            XCTAssertEqual(train.cols, 3)
            XCTAssertEqual(train.images, Fixtures.bytes(36, seed: 6))
            XCTAssertEqual(test.labels, [0, 1, 2, 3])
        }
    }

    func testLoadNamesMissingFile() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        try Fixtures.writeFakeMNIST(in: directory)
        try FileManager.default.removeItem(atPath: Fixtures.join(directory, MNISTFiles.testImages + ".gz"))
        XCTAssertThrowsError(try MNISTFiles.load(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("missing t10k-images-idx3-ubyte"), "\(error)")
        }
        XCTAssertThrowsError(try MNISTFiles.load(directory: Fixtures.join(directory, "absent"))) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
    }

    func testLoadRejectsLabelCountMismatchAcrossFiles() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        try Fixtures.writeFakeMNIST(in: directory, gzip: false)
        let labelsPath = Fixtures.join(directory, MNISTFiles.trainLabels)
        try IDXFile.write(IDXArray(dims: [5], data: [0, 1, 2, 3, 4]), path: labelsPath, gzip: false)
        XCTAssertThrowsError(try MNISTFiles.load(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("has 6 images but \(labelsPath) has 5 labels"), "\(error)")
        }
    }

    func testLoadRejectsDifferentImageSizes() throws {
        let directory = try Fixtures.temporaryDirectory(self)
        try Fixtures.writeFakeMNIST(in: directory, gzip: false)
        try IDXFile.write(
            IDXArray(dims: [4, 3, 2], data: Fixtures.bytes(24)), path: Fixtures.join(directory, MNISTFiles.testImages), gzip: false)
        XCTAssertThrowsError(try MNISTFiles.load(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("test images are 3x2"), "\(error)")
        }
    }
}
