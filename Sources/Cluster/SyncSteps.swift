// Synchronous steps: opening a step (split, weights, assignments), completing it (the exact mean
// into the Trainer), and handing a dropped worker's micro-batches to workers holding the step.
import Foundation
import NeuralNet
import Training
import WireProtocol

extension Coordinator {
    func maybeStart(now: UInt64) throws -> [CoordinatorAction] {
        switch phase {
        case .waiting:
            guard liveWorkers.count >= settings.minWorkers else { return [] }
            phase = .training
            logger.info(
                """
                \(liveWorkers.count) worker(s) ready; training \
                starts\(isAsync ? " (ASYNC mode, staleness \(trainer.config.training.staleness): results are not reproducible)" : "")
                """
            )
            if isAsync { return try asyncBeginEpoch(now: now) }
            return try beginStep(now: now)
        case .training:
            if isAsync { return asyncDispatch(now: now) }
            // A late joiner: it receives the next step's weights and assignment.
            if open == nil { return try beginStep(now: now) }
            return []
        case .finished:
            return []
        }
    }

    func beginStep(now: UInt64) throws -> [CoordinatorAction] {
        guard let step = trainer.nextStep() else { return try finish() }
        let live = liveWorkers
        guard !live.isEmpty else {
            open = nil
            waitingSince = now
            logger.warning("no live workers; waiting up to \(Int(settings.joinDeadlineSeconds)) s for one to join")
            return []
        }
        open = OpenStep(step: step, started: now, holders: Set(live.map(\.id)))
        view += 1
        for w in live {
            workers[w.id]?.assigned = []
            workers[w.id]?.lastAssigned = now
        }
        for (k, i) in Self.split(step.microBatches.count, costs: live.map { workers[$0.id]?.secondsPerMicroBatch }).enumerated() {
            workers[live[i].id]?.assigned.append(k)
        }
        var actions: [CoordinatorAction] = []
        if sharded {
            let begin = envelope(
                .beginStep(
                    BeginStep(
                        microBatches: UInt32(step.microBatches.count), learningRate: trainer.learningRate(step: step.globalStep),
                        wantState: trainer.needsOptimizerState, workers: live.map(\.id))),
                step: UInt64(step.globalStep))
            for shard in shards { actions.append(.sendControl(peer: shard.peer, frames: begin)) }
        } else {
            server.begin(step: UInt64(step.globalStep), microBatches: step.microBatches.count)
        }
        let weights = sharded ? [] : envelope(.weights(Weights(offset: 0, values: trainer.parameters)), step: UInt64(step.globalStep))
        // The small assignments first, so each worker holds its own when its weights land.
        for w in live {
            actions.append(
                .sendControl(
                    peer: w.controlPeer,
                    frames: envelope(
                        .assignment(
                            Assignment(
                                epoch: UInt32(step.epoch), stepInEpoch: UInt32(step.stepInEpoch),
                                microBatches: workers[w.id]!.assigned.map(UInt32.init), view: view)), step: UInt64(step.globalStep))))
        }
        if !sharded { for w in live { actions.append(.sendData(peer: w.dataPeer!, frames: weights)) } }
        return actions
    }

    func completeStep(now: UInt64) throws -> [CoordinatorAction] {
        guard let o = open else { return [] }
        let seconds = Double(now > o.started ? now - o.started : 0) / 1e9
        timing.add(wall: seconds, compute: o.compute.values.max() ?? 0)
        let epochEnd = o.step.stepInEpoch + 1 == trainer.plan.stepsPerEpoch
        if epochEnd { logger.info("epoch \(o.step.epoch + 1) steps: \(timing.report)") }
        meanGradient.withUnsafeMutableBufferPointer { server.mean(into: $0) }
        let spent = try elapsed {
            try meanGradient.withUnsafeBufferPointer {
                try trainer.completeStep(
                    meanGradient: $0, loss: server.lossSum, correct: server.correct, samples: server.samples, seconds: seconds)
            }
        }
        open = nil
        // Epoch-end validation is not training time: the next step's clock starts after it.
        return try beginStep(now: epochEnd ? now &+ spent : now)
    }

    /// Nanoseconds `body` took on `clock` (the clock the loop passes as `now`).
    func elapsed(_ body: () throws -> Void) rethrows -> UInt64 {
        let start = clock()
        try body()
        return clock() &- start
    }

    func finish() throws -> [CoordinatorAction] {
        phase = .finished
        let summary = try trainer.finish(
            workers: workers.values.filter { $0.ready }.count,
            allowMixedNumerics: settings.allowMixedNumerics, mixedNumericsPeers: mixedNumericsPeers)
        var actions: [CoordinatorAction] = workers.values.filter { $0.alive }.map {
            .sendControl(peer: $0.controlPeer, frames: envelope(.shutdown(Shutdown(reason: "training finished"))))
        }
        for shard in shards {
            actions.append(.sendControl(peer: shard.peer, frames: envelope(.shutdown(Shutdown(reason: "training finished")))))
        }
        actions.append(.finished(summary))
        return actions
    }

    /// Removes a worker from the view and gives its missing micro-batches to the survivors.
    func drop(_ id: UInt32, reason: String, now: UInt64) throws -> [CoordinatorAction] {
        guard let w = workers[id], w.alive else { return [] }
        workers[id]?.alive = false
        drops[w.name, default: 0] += 1
        if isAsync {
            if let o = async.outstanding.removeValue(forKey: id) { async.queue.insert((o.stepInEpoch, o.microBatch), at: 0) }
            return phase == .training ? asyncDispatch(now: now) : []
        }
        guard phase == .training, let step = open?.step, let holding = open?.holders else { return [] }
        // Standalone shards drop duplicates by micro-batch id, so everything assigned is handed on.
        let missing = sharded ? Set(w.assigned) : Set(server.missing)
        let orphaned = w.assigned.filter { missing.contains($0) }
        workers[id]?.assigned = []
        guard !orphaned.isEmpty else { return [] }
        let live = liveWorkers
        let holders = live.filter { holding.contains($0.id) }
        guard !holders.isEmpty else {
            // Nobody left holds this step's weights: the step starts again (every micro-batch
            // recomputed, so the same sum) on the workers that joined since, or the first to join.
            open = nil
            guard !live.isEmpty else {
                waitingSince = now
                logger.warning("worker \(id) was the last one; waiting up to \(Int(settings.joinDeadlineSeconds)) s for a worker to join")
                return []
            }
            logger.warning("no worker holding step \(step.globalStep + 1)'s weights is left; starting the step again on \(live.map(\.id))")
            return try beginStep(now: now)
        }
        logger.warning("reassigning micro-batches \(orphaned) of step \(step.globalStep + 1) from worker \(id) to \(holders.map(\.id))")
        view += 1
        var actions: [CoordinatorAction] = []
        for (wid, ids) in StepSplit.reassign(orphaned, to: holders.map(\.id)) {
            workers[wid]?.assigned += ids
            actions.append(
                .sendControl(
                    peer: workers[wid]!.controlPeer,
                    frames: envelope(
                        .assignment(
                            Assignment(
                                epoch: UInt32(step.epoch), stepInEpoch: UInt32(step.stepInEpoch), microBatches: ids.map(UInt32.init),
                                view: view)),
                        step: UInt64(step.globalStep))))
        }
        return actions
    }
}
