import XCTest

@testable import Training

final class LRScheduleTests: XCTestCase {
    func rates(_ s: LRSchedule, base: Float = 0.1, perEpoch: Int = 10, epochs: Int = 10) -> [Float] {
        (0..<(perEpoch * epochs)).map { s.rate(base: base, step: $0, stepsPerEpoch: perEpoch, totalSteps: perEpoch * epochs) }
    }

    func testConstantIsTheBaseBitForBit() {
        XCTAssertTrue(rates(LRSchedule()).allSatisfy { $0 == 0.1 })
    }

    func testWarmupRampsLinearlyThenHolds() {
        var s = LRSchedule()
        s.warmupEpochs = 1
        let r = rates(s)
        XCTAssertEqual(r[0], 0.01, accuracy: 1e-7)
        XCTAssertEqual(r[4], 0.05, accuracy: 1e-7)
        XCTAssertEqual(r[9], 0.1, accuracy: 1e-7)
        XCTAssertTrue(r[10...].allSatisfy { $0 == 0.1 })
    }

    func testStepDecay() {
        var s = LRSchedule()
        s.kind = .step
        s.stepEveryEpochs = 3
        s.stepGamma = 0.5
        let r = rates(s)
        XCTAssertEqual(r[29], 0.1, accuracy: 1e-7)
        XCTAssertEqual(r[30], 0.05, accuracy: 1e-7)
        XCTAssertEqual(r[60], 0.025, accuracy: 1e-7)
    }

    func testCosineGoesFromBaseToFloor() {
        var s = LRSchedule()
        s.kind = .cosine
        s.minFraction = 0.1
        let r = rates(s)
        XCTAssertEqual(r.first!, 0.1, accuracy: 1e-7)
        XCTAssertEqual(r.last!, 0.01, accuracy: 1e-7)
        XCTAssertEqual(r[50], 0.055, accuracy: 2e-3)
        XCTAssertTrue(zip(r, r.dropFirst()).allSatisfy { $0 >= $1 }, "cosine never rises")
    }

    func testOneCyclePeaksWhereAsked() {
        var s = LRSchedule()
        s.kind = .oneCycle
        s.peakAt = 0.3
        s.startFraction = 0.1
        s.minFraction = 0.001
        let r = rates(s)
        XCTAssertEqual(r[0], 0.01, accuracy: 1e-7)
        XCTAssertEqual(r.firstIndex(of: r.max()!), 29)
        XCTAssertEqual(r.max()!, 0.1, accuracy: 1e-7)
        XCTAssertEqual(r.last!, 0.0001, accuracy: 1e-8)
        XCTAssertTrue(zip(r[..<29], r[1...29]).allSatisfy { $0 <= $1 })
        XCTAssertTrue(zip(r[29...], r[30...]).allSatisfy { $0 >= $1 })
    }

    func testDefaultsLeaveTheRecipeHashAlone() {
        var c = TrainConfig()
        let before = c.recipeHash
        c.augment.rotationDegrees = 5  // not enabled: no effect
        XCTAssertEqual(c.recipeHash, before)
        c.schedule.kind = .cosine
        XCTAssertNotEqual(c.recipeHash, before)
    }
}
