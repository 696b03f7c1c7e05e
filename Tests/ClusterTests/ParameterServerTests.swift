import TensorKit
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

    func sum(_ ids: [UInt32], _ gradients: [[Float]], samples: UInt32 = 4, offset: UInt64 = 0) -> GradientSumPush {
        var total = GradientSum(count: gradients[0].count)
        for g in gradients { g.withUnsafeBufferPointer { _ = total.add($0, samples: Int(samples)) } }
        return GradientSumPush(
            parts: ids.map { .init(microBatch: $0, samples: samples, loss: 1, correct: 1) }, offset: offset, values: total.values)
    }

    func testAWorkersFixedPointSumEqualsItsMicroBatchesPushedOneByOne() {
        let gradients: [[Float]] = [[0.1, -3], [7.25, 1e-7], [-2.5, 0.3], [1, 1]]
        let one = ParameterServer(parameterCount: 2)
        let grouped = ParameterServer(parameterCount: 2)
        one.begin(step: 1, microBatches: 4)
        grouped.begin(step: 1, microBatches: 4)
        for (k, g) in gradients.enumerated() { _ = one.receive(push(UInt32(k), g), step: 1) }
        XCTAssertEqual(grouped.receive(sum([0, 2, 3], [gradients[0], gradients[2], gradients[3]]), step: 1), .accepted)
        XCTAssertEqual(grouped.missing, [1])
        XCTAssertEqual(grouped.receive(push(1, gradients[1]), step: 1), .complete)
        var a = [Float](repeating: 0, count: 2)
        var b = a
        a.withUnsafeMutableBufferPointer { one.mean(into: $0) }
        b.withUnsafeMutableBufferPointer { grouped.mean(into: $0) }
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
        XCTAssertEqual(one.samples, grouped.samples)
        XCTAssertEqual(one.lossSum, grouped.lossSum)
    }

    func testASumIsCountedWholeOrNotAtAll() {
        let s = ParameterServer(parameterCount: 2)
        s.begin(step: 3, microBatches: 4)
        XCTAssertEqual(s.receive(sum([0, 1], [[1, 1], [2, 2]]), step: 3), .accepted)
        XCTAssertEqual(s.receive(sum([0, 1], [[1, 1], [2, 2]]), step: 3), .duplicate)
        // Overlapping an accepted sum: refused, micro-batch 2 stays missing.
        XCTAssertEqual(s.receive(sum([1, 2], [[2, 2], [3, 3]]), step: 3), .rejected("micro-batches [1] of [1, 2] were already counted"))
        XCTAssertEqual(s.receive(sum([2, 2], [[3, 3], [3, 3]]), step: 3), .rejected("micro-batch ids [2, 2] repeat"))
        XCTAssertEqual(s.receive(sum([2, 4], [[3, 3], [3, 3]]), step: 3), .rejected("micro-batches [2, 4] out of range (step has 4)"))
        XCTAssertEqual(s.receive(sum([2], [[3, 3]], offset: 1), step: 3), .rejected("gradient sum covers [1, +2), expected [0, +2)"))
        var wild = sum([2], [[3, 3]])
        wild.values[1] = Int64(3) << 51  // more than one clamped contribution can give
        XCTAssertEqual(s.receive(wild, step: 3), .rejected("gradient sum of 1 micro-batches exceeds the fixed-point range"))
        wild.values[1] = .min
        XCTAssertEqual(s.receive(wild, step: 3), .rejected("gradient sum of 1 micro-batches exceeds the fixed-point range"))
        var nan = sum([2], [[3, 3]])
        nan.parts[0].loss = .nan
        XCTAssertEqual(s.receive(nan, step: 3), .rejected("non-finite loss"))
        XCTAssertEqual(s.receive(sum([2], [[3, 3]]), step: 4), .rejected("future step 4 (accepting 3)"))
        XCTAssertEqual(s.missing, [2, 3])
        XCTAssertEqual(s.receive(sum([3, 2], [[4, 4], [3, 3]]), step: 3), .complete)
        var mean = [Float](repeating: 0, count: 2)
        mean.withUnsafeMutableBufferPointer { s.mean(into: $0) }
        XCTAssertEqual(mean, [10.0 / 16, 10.0 / 16])
        XCTAssertEqual(s.rejections["overlapping_micro_batches"], 1)
        XCTAssertEqual(s.rejections["out_of_range"], 2)
    }
}

final class StepSplitTests: XCTestCase {
    func testEqualOrUnknownCostsGiveRoundRobin() {
        XCTAssertEqual(Coordinator.split(8, costs: [nil, nil]), [0, 1, 0, 1, 0, 1, 0, 1])
        XCTAssertEqual(Coordinator.split(7, costs: [2, 2, 2]), [0, 1, 2, 0, 1, 2, 0])
        XCTAssertEqual(Coordinator.split(6, costs: [2.0, 2.01, nil]), [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(Coordinator.split(3, costs: [1]), [0, 0, 0])
    }

    func testASlowerWorkerGetsFewerMicroBatches() {
        let split = Coordinator.split(8, costs: [2.22, 2.97])
        XCTAssertEqual(split.filter { $0 == 0 }.count, 5)
        XCTAssertEqual(split.filter { $0 == 1 }.count, 3)
        // Four times slower: one micro-batch (finishing at 4 and 7, against 8 and 6 with two).
        let skewed = Coordinator.split(8, costs: [1, 4])
        XCTAssertEqual(skewed.count, 8)
        XCTAssertEqual(skewed.filter { $0 == 1 }.count, 1)
    }
}
