// `digits loadtest` as library code: how much the coordinator's embedded parameter server sustains
// under many workers on loopback, next to the raw libzmq ceiling for the same messages.
//
// A real coordinator runs as a child process (`digits coordinator`). The workers are the
// production worker: N `WorkerNode`s driven by `WorkerLoop`s, multiplexed on this thread by a
// `WorkerLoopGroup`, speaking the protocol over the production transport. Their gradient source
// is precomputed (one fixed finite gradient of the model's size), so the figures measure protocol
// and server work (decode, exact fixed-point sum, the optimizer, the weights broadcast), not
// training. The exactly-once and rejection figures are the coordinator's own counters, read from
// its status JSON. Every wait has a deadline, and the coordinator is stopped (SIGTERM, then
// SIGKILL) on every path.
import ClusterRuntime
import Foundation
import NeuralNet
import Supervision
import Training

/// What `digits loadtest` was asked to do (the flags, validated by the command).
public struct LoadTestSettings: Sendable {
    public var workers = 16
    public var seconds = 10.0
    public var model = "keras-example"
    public var batch = 128
    public var microBatch = 16
    /// MNIST directory for the coordinator (nil: MNIST found without downloading, else synthetic).
    public var data: String?
    public var synthetic = false
    public var syntheticImages = 60000
    /// Only the raw libzmq ceiling.
    public var raw = false
    public var rawSeconds = 1.0
    public var rawWindow = 1
    public var startDeadline = 60.0
    /// Every Nth gradient message sent twice (0: never).
    public var injectDuplicates = 0
    /// The digits binary that runs the coordinator.
    public var executable: String

    public init(executable: String) { self.executable = executable }
}

/// A failure of the load test, as one sentence.
public struct LoadTestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum LoadTest {
    /// Runs the load window (unless `raw`) and the raw ceiling measurements; `say` narrates on stderr.
    public static func run(_ s: LoadTestSettings, say: @escaping (String) -> Void) throws -> LoadTestReport {
        let fdsStart = ProcessProbe.openFileDescriptors(pid: nil)
        let spec = try TrainConfig.loadModelSpec(s.model)
        let parameters = try Sequential(spec: spec).parameterCount
        var report = LoadTestReport(model: spec.name, parameters: parameters, pushBytes: parameters * 4)
        if !s.raw {
            ProcessProbe.raiseFileLimit(to: s.workers * 4 + 256)
            report.load = try LoadDriver(settings: s, parameterCount: parameters, say: say).run()
        }
        if s.rawSeconds > 0 {
            // The push of this model, keras-example's (139,304 B) and pytorch-example's (~4.8 MB).
            var sizes = [parameters * 4]
            for preset in [ModelSpec.kerasExample, .pytorchExample] {
                let bytes = try Sequential(spec: preset).parameterCount * 4
                if !sizes.contains(bytes) { sizes.append(bytes) }
            }
            for bytes in sizes.sorted() {
                if StopSignal.requested != nil { throw LoadTestError("interrupted") }
                say("raw libzmq DEALER<->ROUTER round trips of \(bytes) bytes for \(s.rawSeconds) s")
                report.raw.append(try RawZMQ.roundTrips(bytes: bytes, window: s.rawWindow, seconds: s.rawSeconds))
            }
        }
        report.loadtestFdsStart = fdsStart
        report.loadtestFdsEnd = ProcessProbe.openFileDescriptors(pid: nil)
        return report
    }
}

extension LoadTest {
    /// `digits loadtest --help`'s discussion.
    public static let discussion = """
        Starts a real coordinator as a child process and N workers in this process: the production worker \
        (WorkerNode and WorkerLoop, all on one thread) with a precomputed gradient, so it pushes a fixed gradient \
        for every assigned micro-batch without computing anything. Reports pushes/s, gradient MB/s, steps/s, \
        rejected or duplicated pushes and an exactly-once check of every micro-batch (from the coordinator's own \
        counters, read from its status JSON), the coordinator's peak RSS and open file descriptors, then raw libzmq \
        DEALER<->ROUTER round trips over loopback with messages the size of one gradient push (keras-example) and \
        of a pytorch-example push (4.8 MB).
        Micro-batches go round-robin to workers: use --batch >= 16 x --workers so every worker has work.
        """
}
