// Asynchronous mode: each micro-batch's gradient is applied on arrival to the newest weights
// (bounded staleness). Not reproducible; the sync mode is the default.
import Foundation
import NeuralNet
import TensorKit
import Training
import WireProtocol

/// Async bookkeeping: the epoch's micro-batches still to hand out, one outstanding micro-batch
/// per worker (with the weights version it was given), and per-step tallies so the Trainer
/// records whole steps in order.
struct AsyncState {
    var parameters: [Float] = []
    var optimizer: Optimizer?
    var version: UInt64 = 0
    var epoch = -1
    var queue: [(stepInEpoch: Int, microBatch: Int)] = []
    var outstanding: [UInt32: (stepInEpoch: Int, microBatch: Int, version: UInt64)] = [:]
    var remaining: [Int: Int] = [:]
    var losses: [Int: [Double]] = [:]
    var corrects: [Int: [Int]] = [:]
    var samples: [Int: Int] = [:]
    var nextToRecord = 0
    var lastRecorded: UInt64 = 0
    var compute = 0.0
    var sum: GradientSum?
    var stale = 0
}

extension Coordinator {
    /// Queues every micro-batch of the epoch in plan order (from where the Trainer stands).
    func asyncBeginEpoch(now: UInt64) throws -> [CoordinatorAction] {
        guard let step = trainer.nextStep() else { return try finish() }
        let plan = trainer.plan
        async.parameters = trainer.parameters
        async.optimizer = Optimizer(config: trainer.config.optimizer, state: trainer.optimizer.state)
        async.sum = async.sum ?? GradientSum(count: trainer.model.parameterCount)
        async.epoch = step.epoch
        async.queue = []
        async.remaining = [:]
        async.losses = [:]
        async.corrects = [:]
        async.samples = [:]
        for s in step.stepInEpoch..<plan.stepsPerEpoch {
            let n = plan.microBatches(step: s).count
            async.remaining[s] = n
            async.losses[s] = [Double](repeating: 0, count: n)
            async.corrects[s] = [Int](repeating: 0, count: n)
            async.samples[s] = 0
            for k in 0..<n { async.queue.append((s, k)) }
        }
        async.nextToRecord = step.stepInEpoch
        async.lastRecorded = now
        return asyncDispatch(now: now)
    }

    /// Gives every idle live worker the current weights and its next micro-batch.
    func asyncDispatch(now: UInt64) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for w in liveWorkers where async.outstanding[w.id] == nil {
            guard !async.queue.isEmpty else { break }
            let (s, k) = async.queue.removeFirst()
            async.outstanding[w.id] = (s, k, async.version)
            workers[w.id]?.lastAssigned = now
            actions.append(
                .sendData(peer: w.dataPeer!, frames: envelope(.weights(Weights(offset: 0, values: async.parameters)), step: async.version)))
            actions.append(
                .sendControl(
                    peer: w.controlPeer,
                    frames: envelope(
                        .assignment(
                            Assignment(
                                epoch: UInt32(async.epoch), stepInEpoch: UInt32(s), microBatches: [UInt32(k)], view: view)),
                        step: async.version)))
        }
        return actions
    }

    func asyncPush(_ push: GradientPush, version: UInt64, from id: UInt32, now: UInt64) throws -> [CoordinatorAction] {
        guard let o = async.outstanding[id], Int(push.microBatch) == o.microBatch, version == o.version else {
            rejected["unexpected", default: 0] += 1
            logger.warning(
                "rejected gradient from worker \(id): micro-batch \(push.microBatch) at version \(version) was not assigned to it")
            return []
        }
        async.outstanding[id] = nil
        guard push.offset == 0, push.values.count == trainer.model.parameterCount, push.loss.isFinite else {
            async.queue.insert((o.stepInEpoch, o.microBatch), at: 0)
            return reject(
                "bad_size", "gradient of \(push.values.count) values at offset \(push.offset)", peer: workers[id]!.dataPeer!, data: true)
                + asyncDispatch(now: now)
        }
        if async.version - o.version > UInt64(trainer.config.training.staleness) {
            async.stale += 1
            async.queue.insert((o.stepInEpoch, o.microBatch), at: 0)  // recompute on fresh weights
            return asyncDispatch(now: now)
        }
        var sum = async.sum!
        sum.reset()
        let finite = push.values.withUnsafeBufferPointer { sum.add($0, samples: Int(push.samples)) }
        guard finite else {
            async.queue.insert((o.stepInEpoch, o.microBatch), at: 0)
            logger.warning("rejected non-finite gradient from worker \(id)")
            return asyncDispatch(now: now)
        }
        meanGradient.withUnsafeMutableBufferPointer { sum.mean(into: $0) }
        async.sum = sum
        observePush(id, microBatches: 1, samples: Int(push.samples), computeSeconds: push.computeSeconds, now: now)
        var optimizer = async.optimizer!
        let lr = trainer.learningRate(step: async.epoch * trainer.plan.stepsPerEpoch + o.stepInEpoch)
        async.parameters.withUnsafeMutableBufferPointer { p in
            meanGradient.withUnsafeBufferPointer { optimizer.apply(gradient: $0, to: p, learningRate: lr) }
        }
        async.optimizer = optimizer
        async.version += 1
        async.compute += push.computeSeconds
        let s = o.stepInEpoch
        async.losses[s]![o.microBatch] = push.loss
        async.corrects[s]![o.microBatch] = Int(push.correct)
        async.samples[s]! += Int(push.samples)
        async.remaining[s]! -= 1
        // Record finished steps in plan order (the last one of the epoch runs validation).
        while let left = async.remaining[async.nextToRecord], left == 0 {
            let r = async.nextToRecord
            let seconds = Double(now &- async.lastRecorded) / 1e9
            timing.add(wall: seconds, compute: async.compute / Double(max(liveWorkers.count, 1)))
            async.compute = 0
            async.lastRecorded = now
            async.nextToRecord += 1
            try trainer.completeStep(
                updatedParameters: async.parameters, optimizerState: async.optimizer!.state,
                loss: async.losses[r]!.reduce(0, +), correct: async.corrects[r]!.reduce(0, +),
                samples: async.samples[r]!, seconds: seconds)
            if r + 1 == trainer.plan.stepsPerEpoch {
                logger.info("epoch \(async.epoch + 1) (async): \(timing.report); \(async.stale) stale gradients recomputed")
                async.stale = 0
                return try asyncBeginEpoch(now: now)
            }
        }
        return asyncDispatch(now: now)
    }
}
