// workers.jsonl: one line per worker per sample of a cluster run: how many images each worker
// computed per second, as the coordinator saw it from the workers' heartbeats.

public struct WorkerThroughputRecord: Codable, Equatable, Sendable {
    /// Unix time of the sample, seconds.
    public var wallTime: Double
    /// Optimizer steps completed when the sample was taken.
    public var step: Int
    public var worker: UInt32
    public var name: String
    /// Micro-batches the worker reported computed in total.
    public var microBatches: UInt64
    /// Images per second over the interval since the previous sample (micro-batches x micro-batch size / seconds).
    public var imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case wallTime = "wall_time"
        case step, worker, name
        case microBatches = "micro_batches"
        case imagesPerSecond = "images_per_second"
    }

    public init(wallTime: Double, step: Int, worker: UInt32, name: String, microBatches: UInt64, imagesPerSecond: Double) {
        self.wallTime = wallTime
        self.step = step
        self.worker = worker
        self.name = name
        self.microBatches = microBatches
        self.imagesPerSecond = imagesPerSecond
    }
}
