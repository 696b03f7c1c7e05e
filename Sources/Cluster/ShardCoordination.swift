// The coordinator's side of standalone parameter-server shards (K >= 2 `digits server`
// processes): registration, each shard's initial key range and optimizer state, and assembling
// the shards' step results into the Trainer's weights.
import Foundation
import NeuralNet
import Training
import WireProtocol

extension Coordinator {
    func registerShard(_ hello: Hello, peer: [UInt8], now: UInt64) -> [CoordinatorAction] {
        guard sharded else {
            return reject("unexpected", "this coordinator embeds its parameter server (--servers 1)", peer: peer, data: false)
        }
        if let i = shards.firstIndex(where: { $0.peer == peer }) {  // a repeated hello
            return shardsReady ? [.sendControl(peer: peer, frames: shardInit(i))] : []
        }
        guard shards.count < settings.servers else {
            return reject("unexpected", "all \(settings.servers) parameter-server shards are registered", peer: peer, data: false)
        }
        if let refusal = checkNumerics(hello, role: "parameter-server shard", peer: peer) { return refusal }
        shards.append(ShardInfo(shard: shards.count, peer: peer, endpoint: hello.endpoint, name: hello.name, lastSeen: now))
        logger.info("parameter-server shard \(shards.count)/\(settings.servers) joined: \(hello.name)@\(hello.host) at \(hello.endpoint)")
        guard shards.count == settings.servers else { return [] }
        shardsReady = true
        var actions: [CoordinatorAction] = shards.indices.map { .sendControl(peer: shards[$0].peer, frames: shardInit($0)) }
        for (p, h) in pendingHellos { actions += register(h, peer: p, now: now) }
        pendingHellos = []
        return actions
    }

    func shardInit(_ s: Int) -> [[UInt8]] {
        let range = KeyRanges.range(shard: s, of: settings.servers, parameters: trainer.model.parameterCount)
        let state = trainer.optimizer.state
        let encoder = JSONEncoder()
        let optimizer = (try? encoder.encode(trainer.config.optimizer)).map { [UInt8]($0) } ?? []
        return envelope(
            .shardInit(
                ShardInit(
                    shard: UInt32(s), shards: UInt32(settings.servers), offset: UInt64(range.lowerBound), optimizerStep: UInt64(state.step),
                    optimizer: optimizer, parameters: Array(trainer.parameters[range]), first: Array(state.first[range]),
                    second: state.second.isEmpty ? [] : Array(state.second[range]))))
    }

    func shardDone(_ s: Int, _ d: StepDone, step: UInt64, now: UInt64) throws -> [CoordinatorAction] {
        guard let o = open, step == UInt64(o.step.globalStep), o.shardResults[s] == nil else {
            return reject("stale_step", "step done for step \(step) from shard \(s) is not expected", peer: shards[s].peer, data: false)
        }
        let range = KeyRanges.range(shard: s, of: settings.servers, parameters: trainer.model.parameterCount)
        guard d.parameters.count == range.count else {
            return reject(
                "bad_size", "shard \(s) returned \(d.parameters.count) parameters, owns \(range.count)", peer: shards[s].peer, data: false)
        }
        open?.shardResults[s] = d
        guard let stepDone = open?.shardResults, stepDone.count == settings.servers else { return [] }
        let current = o.step
        var parameters = trainer.parameters
        var state: OptimizerState? = nil
        if stepDone.values.allSatisfy({ $0.first != nil }) {
            var st = trainer.optimizer.state
            st.step += 1
            for (i, done) in stepDone {
                let r = KeyRanges.range(shard: i, of: settings.servers, parameters: trainer.model.parameterCount)
                st.first.replaceSubrange(r, with: done.first!)
                if !st.second.isEmpty { st.second.replaceSubrange(r, with: done.second!) }
            }
            state = st
        }
        for (i, done) in stepDone {
            parameters.replaceSubrange(
                KeyRanges.range(shard: i, of: settings.servers, parameters: trainer.model.parameterCount), with: done.parameters)
        }
        let first = stepDone[0]!
        let seconds = Double(now > o.started ? now - o.started : 0) / 1e9
        timing.add(wall: seconds, compute: first.computeSeconds / Double(max(liveWorkers.count, 1)))
        let epochEnd = current.stepInEpoch + 1 == trainer.plan.stepsPerEpoch
        let spent = try elapsed {
            try trainer.completeStep(
                updatedParameters: parameters, optimizerState: state, loss: first.loss, correct: Int(first.correct),
                samples: Int(first.samples), seconds: seconds)
        }
        if epochEnd { logger.info("epoch \(current.epoch + 1) steps: \(timing.report)") }
        open = nil
        // Epoch-end validation is not training time: the next step's clock starts after it.
        return try beginStep(now: epochEnd ? now &+ spent : now)
    }
}
