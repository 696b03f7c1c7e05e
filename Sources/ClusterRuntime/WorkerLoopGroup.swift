// Many workers on one thread: each `WorkerLoop` keeps its own sockets and state machine; the group
// waits on all their sockets at once (one poll, bounded by the caller's timeout), then gives every
// loop a pass that does not wait. For load generation (`digits loadtest`), where hundreds of
// workers that compute nothing share a core.
import Foundation

public final class WorkerLoopGroup {
    public let loops: [WorkerLoop]
    let transport: Transport
    /// How each loop that has ended ended, by its index in `loops`.
    public private(set) var exits: [Int: ProcessExit] = [:]

    /// `loops` must all use `transport`.
    public init(loops: [WorkerLoop], transport: Transport) {
        self.loops = loops
        self.transport = transport
    }

    /// Every worker's first hello.
    public func start() throws {
        for (i, loop) in loops.enumerated() {
            if let outcome = try loop.start() { exits[i] = outcome }
        }
    }

    /// Whether every loop has ended.
    public var finished: Bool { exits.count == loops.count }

    /// One pass: waits at most `timeoutMilliseconds` for a message on any loop's sockets (not at
    /// all while some worker has work), then runs each live loop once without waiting.
    public func runOnce(timeoutMilliseconds: Int) throws {
        let live = loops.indices.filter { exits[$0] == nil }
        guard !live.isEmpty else { return }
        if !live.contains(where: { loops[$0].node.hasWork }) {
            _ = try transport.poll(live.flatMap { loops[$0].sockets }, timeoutMilliseconds: max(0, timeoutMilliseconds))
        }
        for i in live {
            if let outcome = try loops[i].runOnce(pollTimeoutMilliseconds: 0) { exits[i] = outcome }
        }
    }
}
