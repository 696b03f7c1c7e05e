// The coordinator's reaction to time passing: heartbeat deadlines, the join deadline, the step
// deadline, and the workers' throughput samples.
import Foundation
import NeuralNet
import Training

extension Coordinator {
    public func tick(now: UInt64) throws -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        let deadline = UInt64(settings.heartbeatDeadlineSeconds * 1e9)
        // While the coordinator itself was busy (validation, checkpoints) it read no heartbeats:
        // that silence is not the workers' fault, so their deadlines restart.
        if lastTick != 0, now &- lastTick > UInt64(settings.heartbeatMilliseconds) * 2_000_000 {
            for id in workers.keys { workers[id]!.lastSeen = max(workers[id]!.lastSeen, now) }
            for i in shards.indices { shards[i].lastSeen = max(shards[i].lastSeen, now) }
        }
        lastTick = now
        if phase == .training, let run = trainer.runDirectory {
            let records = throughput.sample(
                liveWorkers.map { ($0.id, $0.name, $0.computed) }, now: now,
                microBatch: trainer.config.training.microBatch, step: trainer.progress.globalStep,
                wallTime: wallClock())
            if !records.isEmpty { actions.append(.appendThroughput(records, path: run.path + "/workers.jsonl")) }
        }
        for w in workers.values.sorted(by: { $0.id < $1.id }) where w.alive && now &- w.lastSeen > deadline {
            let missed = Int(Double(now &- w.lastSeen) / 1e6 / Double(settings.heartbeatMilliseconds))
            logger.error("worker \(w.id) (\(w.name)@\(w.host)) missed \(missed) heartbeats; dropping it")
            actions += try drop(w.id, reason: "missed heartbeats", now: now)
        }
        for shard in shards where now &- shard.lastSeen > deadline {
            phase = .finished
            return actions + [
                .interrupted(
                    """
                    parameter-server shard \(shard.shard + 1) (\(shard.name) at \(shard.endpoint)) missed heartbeats; the last \
                    checkpoint is in \(trainer.runDirectory?.path ?? "the run directory"); restart with --resume
                    """
                )
            ]
        }
        switch phase {
        case .waiting:
            if Double(now &- waitingSince) / 1e9 > settings.joinDeadlineSeconds {
                phase = .finished
                return actions + [
                    .failed(
                        "expected \(settings.minWorkers) worker(s), \(liveWorkers.count) ready after \(Int(settings.joinDeadlineSeconds)) s"
                    )
                ]
            }
        case .training where isAsync:
            if liveWorkers.isEmpty, Double(now &- waitingSince) / 1e9 > settings.joinDeadlineSeconds {
                phase = .finished
                return actions + [.failed("no live workers for \(Int(settings.joinDeadlineSeconds)) s")]
            }
            if !liveWorkers.isEmpty { waitingSince = now }
        case .training:
            if open == nil {
                if !liveWorkers.isEmpty {
                    actions += try beginStep(now: now)
                } else if Double(now &- waitingSince) / 1e9 > settings.joinDeadlineSeconds {
                    phase = .finished
                    return actions + [
                        .interrupted(
                            """
                            no live workers for \(Int(settings.joinDeadlineSeconds)) s; the last checkpoint is in \
                            \(trainer.runDirectory?.path ?? "the run directory"); continue with --resume
                            """
                        )
                    ]
                }
            } else if sharded, let o = open, Double(now > o.started ? now - o.started : 0) / 1e9 > settings.stepDeadlineSeconds {
                let step = o.step
                logger.error(
                    """
                    step \(step.globalStep + 1) has been open \(Int(settings.stepDeadlineSeconds)) s; shards not done: \
                    \(shards.map(\.shard).filter { o.shardResults[$0] == nil }.map { $0 + 1 })
                    """
                )
                open?.started = now
            } else if let o = open, Double(now > o.started ? now - o.started : 0) / 1e9 > settings.stepDeadlineSeconds {
                let step = o.step
                let missing = Set(server.missing)
                let owing = workers.values.filter { $0.alive && !$0.assigned.filter(missing.contains).isEmpty }.sorted { $0.id < $1.id }
                for w in owing {
                    logger.error(
                        """
                        worker \(w.id) (\(w.name)@\(w.host)) has not sent micro-batches \(w.assigned.filter(missing.contains)) of \
                        step \(step.globalStep + 1) within \(Int(settings.stepDeadlineSeconds)) s; dropping it
                        """
                    )
                    actions += try drop(w.id, reason: "step deadline", now: now)
                }
                open?.started = now
            }
        case .finished:
            break
        }
        return actions
    }
}
