// An HDF5 file as a value: groups, string attributes and Float32 datasets. Built by pure code
// (KerasH5Exporter) and written by the HDF5 target (libhdf5).

public struct HDF5Group: Sendable, Equatable {
    public enum Attribute: Sendable, Equatable {
        /// A scalar fixed-length string (what h5py writes for `bytes`).
        case string(String)
        /// A 1-D array of fixed-length strings, possibly empty (what h5py writes for a list of `bytes`).
        case strings([String])
    }

    public struct Dataset: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "dataset shape \(shape) does not hold \(values.count) values")
            self.shape = shape
            self.values = values
        }
    }

    public var attributes: [(name: String, value: Attribute)] = []
    public var groups: [(name: String, group: HDF5Group)] = []
    public var datasets: [(name: String, dataset: Dataset)] = []

    public init() {}

    public static func == (a: HDF5Group, b: HDF5Group) -> Bool {
        a.attributes.map(\.name) == b.attributes.map(\.name) && a.attributes.map(\.value) == b.attributes.map(\.value)
            && a.groups.map(\.name) == b.groups.map(\.name) && a.groups.map(\.group) == b.groups.map(\.group)
            && a.datasets.map(\.name) == b.datasets.map(\.name) && a.datasets.map(\.dataset) == b.datasets.map(\.dataset)
    }

    /// The group at a slash-separated path, creating the groups on the way.
    public mutating func withGroup(_ path: String, _ body: (inout HDF5Group) -> Void) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty else {
            body(&self)
            return
        }
        let first = parts.removeFirst()
        if let i = groups.firstIndex(where: { $0.name == first }) {
            groups[i].group.withGroup(parts.joined(separator: "/"), body)
        } else {
            var g = HDF5Group()
            g.withGroup(parts.joined(separator: "/"), body)
            groups.append((first, g))
        }
    }

    /// Adds a dataset at a slash-separated path below this group (intermediate groups created, as h5py does).
    public mutating func addDataset(_ path: String, _ dataset: Dataset) {
        var parts = path.split(separator: "/").map(String.init)
        let leaf = parts.removeLast()
        withGroup(parts.joined(separator: "/")) { $0.datasets.append((leaf, dataset)) }
    }
}
