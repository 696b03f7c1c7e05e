// The raw libzmq ceiling: DEALER<->ROUTER round trips over TCP loopback with messages of a given
// size, no protocol and no server work; what the parameter server's rates are compared with.
import ClusterRuntime
import Foundation
import ZeroMQ

public enum RawZMQ {
    /// DEALER -> ROUTER -> echo -> DEALER round trips of `bytes`-byte messages over TCP loopback,
    /// `window` in flight, for `seconds` (after one warm-up round trip). Both sockets live on this
    /// thread; libzmq's I/O thread moves the bytes. Every wait has a deadline.
    public static func roundTrips(bytes: Int, window: Int, seconds: Double) throws -> RawRoundTrips {
        let context = ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        defer {
            dealer.close()
            router.close()
        }
        let endpoint = try router.bind("tcp://127.0.0.1:0")
        try dealer.connect(endpoint)
        let payload = [UInt8](repeating: 0x5a, count: bytes)

        var sent = 0
        var received = 0
        func pump(until deadline: UInt64, stopSending: UInt64) throws {
            let readable = try zmqPoll([router, dealer], timeoutMilliseconds: 20)
            if readable[0] {
                while let frames = try router.receive() { try router.send(frames, dontWait: false) }  // [peer id, payload]
            }
            if readable[1] {
                while let frames = try dealer.receive() {
                    guard frames.count == 1, frames[0].count == bytes else {
                        throw LoadTestError("raw libzmq: echo of \(frames.map(\.count)) bytes, sent \(bytes)")
                    }
                    received += 1
                    if monotonicNanoseconds() < stopSending {
                        try dealer.send([payload], dontWait: false)
                        sent += 1
                    }
                }
            }
            if monotonicNanoseconds() > deadline {
                throw LoadTestError("raw libzmq: \(sent - received) of \(sent) round trips of \(bytes) bytes unanswered after the deadline")
            }
        }
        // Warm-up: the connection is up and one message went both ways.
        try dealer.send([payload], dontWait: false)
        sent = 1
        let warmDeadline = monotonicNanoseconds() + 10_000_000_000
        while received < 1 { try pump(until: warmDeadline, stopSending: 0) }

        sent = 0
        received = 0
        let start = monotonicNanoseconds()
        let stopSending = start + UInt64(seconds * 1e9)
        let deadline = stopSending + 10_000_000_000
        for _ in 0..<window {
            try dealer.send([payload], dontWait: false)
            sent += 1
        }
        while received < sent {
            if StopSignal.requested != nil { throw LoadTestError("interrupted") }
            try pump(until: deadline, stopSending: stopSending)
        }
        let elapsed = Double(monotonicNanoseconds() - start) / 1e9
        return RawRoundTrips(
            bytes: bytes, window: window, roundTrips: received, seconds: elapsed,
            roundTripsPerSecond: Double(received) / elapsed,
            mbPerSecond: 2 * Double(received) * Double(bytes) / elapsed / 1e6)
    }
}
