// The shape of one sample's activation, in the NHWC order every layer and kernel uses.

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
