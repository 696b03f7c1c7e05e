// A small dense Float32 tensor (row-major) for APIs: model inputs and outputs, test fixtures.
// Hot loops work on raw buffers inside preallocated workspaces instead.

public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) values")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: Array(repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { scalars.count }

    /// Row `i` of a 2-D tensor.
    public func row(_ i: Int) -> ArraySlice<Float> {
        precondition(shape.count == 2)
        return scalars[(i * shape[1])..<((i + 1) * shape[1])]
    }
}

/// Shape of one sample's activation in NHWC order: (height, width, channels).
public struct Shape3: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(_ height: Int, _ width: Int, _ channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    public var count: Int { height * width * channels }
    public var description: String { "\(height)x\(width)x\(channels)" }
}
