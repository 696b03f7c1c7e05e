// Reading a StatusInput off a live coordinator (on the loop that owns it), and the run's
// checkpoint files for the status page (a directory listing: the only I/O here).
import Foundation
import StatusModel
import Training

extension StatusInput {
    /// Everything the status page needs from `coordinator`; drains its push-latency samples.
    public init(
        coordinator c: Coordinator, controlEndpoint: String?, checkpoints: [StatusSnapshot.CheckpointRow],
        events: [StatusSnapshot.Event]
    ) {
        let t = c.trainer
        var rejected = c.rejected
        for (k, v) in c.server.rejections { rejected[k, default: 0] += v }
        let job = StatusSnapshot.Job(
            state: "\(c.phase)", model: t.model.spec.name, parameters: t.model.parameterCount, mode: t.config.training.mode.rawValue,
            seed: t.config.training.seed, batchSize: t.config.training.batchSize, microBatch: t.config.training.microBatch,
            workersExpected: c.settings.minWorkers, servers: c.settings.servers, runDirectory: t.runDirectory?.path,
            controlEndpoint: controlEndpoint, time: 0, elapsedSeconds: 0, numerics: c.settings.numerics,
            allowMixedNumerics: c.settings.allowMixedNumerics, mixedNumericsPeers: c.mixedNumericsPeers)
        self.init(
            job: job, epochs: t.config.training.epochs, stepsPerEpoch: t.plan.stepsPerEpoch,
            progress: t.progress, workers: Array(c.workers.values), drops: c.drops, rejected: rejected,
            newLatencies: c.takePushLatencies(), checkpoints: checkpoints, events: events)
    }
}

extension StatusSnapshot.CheckpointRow {
    /// The checkpoint files of `store`, newest step first, then best.ckpt.
    public static func list(_ store: CheckpointStore) -> [StatusSnapshot.CheckpointRow] {
        let fm = FileManager.default
        return (store.list().reversed() + [store.bestPath]).compactMap { path in
            guard let a = try? fm.attributesOfItem(atPath: path) else { return nil }
            let name = URL(fileURLWithPath: path).lastPathComponent
            let step = name.hasPrefix("ckpt-") ? Int(name.dropFirst(5).dropLast(5)) : nil
            return .init(
                name: name, step: step, bytes: (a[.size] as? NSNumber)?.intValue ?? 0,
                modified: (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        }
    }
}
