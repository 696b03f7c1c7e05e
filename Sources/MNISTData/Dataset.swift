// Dataset: labelled greyscale images kept as bytes (never a Float copy of the whole set), plus
// MNISTFiles, which finds and loads the four standard MNIST IDX files (raw or .gz) from a directory.
import Foundation

/// Labelled greyscale images, stored as bytes: `count` images of `rows x cols`, row-major.
public struct Dataset: Sendable {
    /// `count * rows * cols` bytes; image `i` occupies `i*imageSize ..< (i+1)*imageSize`, row-major.
    public let images: [UInt8]
    /// One label per image, each `< classes`.
    public let labels: [UInt8]
    public let rows: Int
    public let cols: Int
    public let classes: Int

    /// Number of images (and labels).
    public var count: Int { labels.count }
    /// Bytes per image, `rows * cols`.
    public var imageSize: Int { rows * cols }

    /// Validates sizes and that every label < classes; `name` is used in error messages.
    public init(images: [UInt8], labels: [UInt8], rows: Int, cols: Int, classes: Int, name: String) throws {
        try Dataset.validate(
            images: images, labels: labels, rows: rows, cols: cols, classes: classes,
            imagesName: name, labelsName: name)
        self.images = images
        self.labels = labels
        self.rows = rows
        self.cols = cols
        self.classes = classes
    }

    /// From an images IDX array (3 dims: count, rows, cols) and a labels IDX array (1 dim: count);
    /// errors name both paths.
    public init(images: IDXArray, imagesPath: String, labels: IDXArray, labelsPath: String, classes: Int) throws {
        guard images.dims.count == 3 else {
            throw DataError(
                path: imagesPath,
                message:
                    """
                    expected an images IDX file with 3 dimensions (count, rows, cols), found \(images.dims.count): \(images.dims); is \
                    this a labels file? (labels are in \(labelsPath))
                    """
            )
        }
        guard labels.dims.count == 1 else {
            throw DataError(
                path: labelsPath,
                message:
                    """
                    expected a labels IDX file with 1 dimension (count), found \(labels.dims.count): \(labels.dims); is this an \
                    images file? (images are in \(imagesPath))
                    """
            )
        }
        let (count, rows, cols) = (images.dims[0], images.dims[1], images.dims[2])
        guard count == labels.dims[0] else {
            throw DataError(
                path: imagesPath,
                message:
                    """
                    has \(count) images but \(labelsPath) has \(labels.dims[0]) labels; the two files must come from the same set \
                    (train or t10k)
                    """
            )
        }
        try Dataset.validate(
            images: images.data, labels: labels.data, rows: rows, cols: cols, classes: classes,
            imagesName: imagesPath, labelsName: labelsPath)
        self.images = images.data
        self.labels = labels.data
        self.rows = rows
        self.cols = cols
        self.classes = classes
    }

    private static func validate(
        images: [UInt8], labels: [UInt8], rows: Int, cols: Int, classes: Int,
        imagesName: String, labelsName: String
    ) throws {
        guard rows > 0, cols > 0 else {
            throw DataError(path: imagesName, message: "expected images of at least 1x1 pixels, found \(rows)x\(cols)")
        }
        guard (1...256).contains(classes) else {
            throw DataError(path: labelsName, message: "expected 1 to 256 classes (labels are bytes), found \(classes)")
        }
        let (imageSize, o1) = rows.multipliedReportingOverflow(by: cols)
        let (expected, o2) = labels.count.multipliedReportingOverflow(by: imageSize)
        guard !o1, !o2, expected == images.count else {
            let found =
                images.count % max(1, rows * cols) == 0
                ? "\(images.count) bytes (\(images.count / max(1, rows * cols)) images)"
                : "\(images.count) bytes (not a whole number of \(rows)x\(cols) images)"
            throw DataError(
                path: imagesName,
                message:
                    """
                    has \(found) but \(labelsName) has \(labels.count) labels: expected \(labels.count) x \(rows) x \(cols) bytes of \
                    images
                    """
            )
        }
        if let index = labels.firstIndex(where: { Int($0) >= classes }) {
            throw DataError(
                path: labelsName,
                message: "label \(labels[index]) at index \(index) is out of range for \(classes) classes (expected 0...\(classes - 1))")
        }
    }

    /// How many images carry each label: `result[c]` for `c` in `0..<classes`.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// The images and labels at `indices`, in the given order (repeats allowed).
    /// - Precondition: every index is in `0..<count` (indices come from code, not from files).
    public func subset(_ indices: [Int]) -> Dataset {
        let size = imageSize
        var newImages: [UInt8] = []
        newImages.reserveCapacity(indices.count * size)
        var newLabels: [UInt8] = []
        newLabels.reserveCapacity(indices.count)
        for index in indices {
            precondition(index >= 0 && index < count, "subset index \(index) out of range 0..<\(count)")
            newImages.append(contentsOf: images[index * size..<(index + 1) * size])
            newLabels.append(labels[index])
        }
        return Dataset(validated: newImages, labels: newLabels, rows: rows, cols: cols, classes: classes)
    }

    private init(validated images: [UInt8], labels: [UInt8], rows: Int, cols: Int, classes: Int) {
        self.images = images
        self.labels = labels
        self.rows = rows
        self.cols = cols
        self.classes = classes
    }
}

/// The four standard MNIST files and how to load them from a directory.
public enum MNISTFiles {
    public static let trainImages = "train-images-idx3-ubyte"
    public static let trainLabels = "train-labels-idx1-ubyte"
    public static let testImages = "t10k-images-idx3-ubyte"
    public static let testLabels = "t10k-labels-idx1-ubyte"

    /// The four names, in the order train images, train labels, test images, test labels.
    static let all = [trainImages, trainLabels, testImages, testLabels]

    /// Finds `name.gz` or `name` in the directory (in that order); error if neither.
    public static func path(of name: String, in directory: String) throws -> String {
        if let found = existingPath(of: name, in: directory) { return found }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            throw DataError(path: directory, message: "data directory does not exist (looking for \(name).gz or \(name))")
        }
        if !isDirectory.boolValue {
            throw DataError(path: directory, message: "expected a data directory, found a file (looking for \(name).gz or \(name))")
        }
        throw DataError(
            path: directory,
            message:
                """
                missing \(name).gz or \(name): expected the four MNIST files \(all.joined(separator: ", ")) (raw or .gz); pass --data \
                DIR or set DIGITS_DATA_DIR to a directory holding them
                """
        )
    }

    /// `directory/name.gz` or `directory/name` if one is a regular file, else nil.
    static func existingPath(of name: String, in directory: String) -> String? {
        for candidate in [name + ".gz", name] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return path
            }
        }
        return nil
    }

    /// Names of the four files that `directory` lacks (in neither raw nor .gz form).
    static func missing(in directory: String) -> [String] {
        all.filter { existingPath(of: $0, in: directory) == nil }
    }

    /// Loads train and test sets from a directory with the four standard files (raw or .gz).
    /// - Throws: `DataError` naming the offending file: missing, corrupt, mismatched counts,
    ///   labels `>= classes`, or train and test images of different sizes.
    public static func load(directory: String, classes: Int = 10) throws -> (train: Dataset, test: Dataset) {
        let paths = try all.map { try path(of: $0, in: directory) }
        let train = try loadPair(imagesPath: paths[0], labelsPath: paths[1], classes: classes)
        let test = try loadPair(imagesPath: paths[2], labelsPath: paths[3], classes: classes)
        guard train.rows == test.rows, train.cols == test.cols else {
            throw DataError(
                path: paths[2],
                message:
                    """
                    test images are \(test.rows)x\(test.cols) but the training images in \(paths[0]) are \(train.rows)x\(train.cols); \
                    both sets must have the same image size
                    """
            )
        }
        return (train, test)
    }

    private static func loadPair(imagesPath: String, labelsPath: String, classes: Int) throws -> Dataset {
        let images = try IDXFile.read(path: imagesPath)
        let labels = try IDXFile.read(path: labelsPath)
        return try Dataset(images: images, imagesPath: imagesPath, labels: labels, labelsPath: labelsPath, classes: classes)
    }
}
