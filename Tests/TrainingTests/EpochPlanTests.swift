import MNISTData
import XCTest

final class EpochPlanTests: XCTestCase {
    func testStratifiedSplitIsDisjointCompleteAndBalanced() {
        let labels = (0..<1000).map { UInt8($0 % 10) }
        let (train, validation) = ValidationSplit.stratified(labels: labels, classes: 10, fraction: 0.1, seed: 3)
        XCTAssertEqual(validation.count, 100)
        XCTAssertEqual(Set(train).union(validation), Set(0..<1000))
        XCTAssertTrue(Set(train).isDisjoint(with: validation))
        for c in 0..<10 { XCTAssertEqual(validation.filter { labels[$0] == UInt8(c) }.count, 10) }
        XCTAssertEqual(ValidationSplit.stratified(labels: labels, classes: 10, fraction: 0.1, seed: 3).validation, validation)
        XCTAssertNotEqual(ValidationSplit.stratified(labels: labels, classes: 10, fraction: 0.1, seed: 4).validation, validation)
    }

    /// Across all steps and micro-batches, every training sample is seen exactly once per epoch.
    func testEverySampleExactlyOncePerEpoch() {
        let plan = EpochPlan(trainIndices: Array(stride(from: 0, to: 1030, by: 1)), batchSize: 64, microBatch: 16, seed: 9)
        XCTAssertEqual(plan.stepsPerEpoch, 17)
        for epoch in 0..<3 {
            let order = plan.order(epoch: epoch)
            var seen = [Int]()
            for step in 0..<plan.stepsPerEpoch {
                for r in plan.microBatches(step: step) {
                    XCTAssertLessThanOrEqual(r.count, 16)
                    seen += order[r]
                }
            }
            XCTAssertEqual(seen.sorted(), Array(0..<1030))
        }
        XCTAssertNotEqual(plan.order(epoch: 0), plan.order(epoch: 1))
        XCTAssertEqual(plan.microBatches(step: 16), [1024..<1030])
    }
}
