import WireProtocol
import XCTest
@testable import Cluster

final class ParameterServerTests: XCTestCase {
    func push(_ k: UInt32, _ values: [Float], samples: UInt32 = 4) -> GradientPush {
        GradientPush(microBatch: k, samples: samples, loss: 1, correct: 1, offset: 0, values: values)
    }

    func testCompletesOnceEveryMicroBatchArrivedExactlyOnceInAnyOrder() {
        let s = ParameterServer(parameterCount: 2)
        s.begin(step: 5, microBatches: 3)
        XCTAssertEqual(s.receive(push(2, [1, 2]), step: 5), .accepted)
        XCTAssertEqual(s.receive(push(2, [1, 2]), step: 5), .duplicate)
        XCTAssertEqual(s.missing, [0, 1])
        XCTAssertEqual(s.receive(push(0, [3, 4]), step: 5), .accepted)
        XCTAssertEqual(s.receive(push(1, [5, 6]), step: 5), .complete)
        var mean = [Float](repeating: 0, count: 2)
        mean.withUnsafeMutableBufferPointer { s.mean(into: $0) }
        XCTAssertEqual(mean, [9.0 / 12, 12.0 / 12])
        XCTAssertEqual(s.samples, 12)
    }

    func testRejectsWithoutChangingState() {
        let s = ParameterServer(parameterCount: 2)
        XCTAssertEqual(s.receive(push(0, [1, 1]), step: 0), .rejected("no step is open (got step 0)"))
        s.begin(step: 7, microBatches: 2)
        XCTAssertEqual(s.receive(push(0, [1, 1]), step: 6), .rejected("stale step 6 (accepting 7)"))
        XCTAssertEqual(s.receive(push(0, [1, 1]), step: 8), .rejected("future step 8 (accepting 7)"))
        XCTAssertEqual(s.receive(push(2, [1, 1]), step: 7), .rejected("micro-batch 2 out of range (step has 2)"))
        XCTAssertEqual(s.receive(push(0, [1, 1, 1]), step: 7), .rejected("gradient covers [0, +3), expected [0, +2)"))
        XCTAssertEqual(s.receive(push(0, [1, .nan]), step: 7), .rejected("non-finite gradient in micro-batch 0"))
        XCTAssertEqual(s.missing, [0, 1])
        XCTAssertEqual(s.receive(push(0, [1, 1]), step: 7), .accepted)
        XCTAssertEqual(s.receive(push(1, [1, 1]), step: 7), .complete)
        var mean = [Float](repeating: 0, count: 2)
        mean.withUnsafeMutableBufferPointer { s.mean(into: $0) }
        XCTAssertEqual(mean, [0.25, 0.25])
        XCTAssertEqual(s.rejections["stale_step"], 1)
    }
}
