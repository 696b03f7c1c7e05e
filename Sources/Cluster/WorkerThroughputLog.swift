// Per-worker throughput over time for the report: every `interval` seconds the coordinator
// turns each live worker's heartbeat counter (micro-batches computed) into images/s and
// appends one line per worker to runs/NAME/workers.jsonl.
import Foundation
import Training

public struct WorkerThroughputLog {
    var interval: Double
    var lastSample: UInt64 = 0
    var lastComputed: [UInt32: UInt64] = [:]

    /// Records for the workers given, or none if the interval has not passed. The first call
    /// only takes the baseline.
    mutating func sample(
        _ workers: [(id: UInt32, name: String, computed: UInt64)], now: UInt64, microBatch: Int, step: Int,
        wallTime: Double
    ) -> [WorkerThroughputRecord] {
        if lastSample == 0 {
            lastSample = now
            for w in workers { lastComputed[w.id] = w.computed }
            return []
        }
        let dt = Double(now &- lastSample) / 1e9
        guard dt >= interval else { return [] }
        lastSample = now
        var records: [WorkerThroughputRecord] = []
        for w in workers.sorted(by: { $0.id < $1.id }) {
            let before = lastComputed[w.id].map { $0 <= w.computed ? $0 : 0 } ?? 0
            lastComputed[w.id] = w.computed
            records.append(
                WorkerThroughputRecord(
                    wallTime: wallTime, step: step, worker: w.id, name: w.name, microBatches: w.computed,
                    imagesPerSecond: Double(w.computed - before) * Double(microBatch) / dt))
        }
        return records
    }

    /// Appends records as JSON lines (creating the file).
    public static func append(_ records: [WorkerThroughputRecord], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes = Data()
        for r in records {
            bytes += try encoder.encode(r)
            bytes.append(0x0a)
        }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: bytes)
    }
}
