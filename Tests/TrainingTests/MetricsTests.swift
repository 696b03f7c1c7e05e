import XCTest

@testable import Training

final class MetricsTests: XCTestCase {
    func testPrecisionRecallF1FromAKnownConfusionMatrix() {
        var m = ClassificationMetrics(classes: 3)
        m.confusion = [[5, 1, 0], [2, 3, 1], [0, 0, 4]]
        XCTAssertEqual(m.total, 16)
        XCTAssertEqual(m.accuracy, 12.0 / 16.0)
        let pc = m.perClass
        XCTAssertEqual(pc[0].precision, 5.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(pc[0].recall, 5.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(pc[1].precision, 3.0 / 4.0, accuracy: 1e-12)
        XCTAssertEqual(pc[1].recall, 0.5, accuracy: 1e-12)
        XCTAssertEqual(pc[2].precision, 0.8, accuracy: 1e-12)
        XCTAssertEqual(pc[2].f1, 2 * 0.8 * 1 / 1.8, accuracy: 1e-12)
        XCTAssertEqual(m.macro.recall, (5.0 / 6.0 + 0.5 + 1) / 3, accuracy: 1e-12)
        XCTAssertEqual(m.weighted.recall, m.accuracy, accuracy: 1e-12)  // weighted recall equals accuracy
        XCTAssertEqual(m.topConfusions(2).map { [$0.label, $0.predicted, $0.count] }, [[1, 0, 2], [0, 1, 1]])
    }

    func testEarlyStoppingWaitsForPatienceThenStops() {
        var s = EarlyStopping(monitor: "val_loss", patience: 2, minDelta: 0.01)
        XCTAssertEqual(s.update(epoch: 1, value: 1.0), .proceed(improved: true))
        XCTAssertEqual(s.update(epoch: 2, value: 0.5), .proceed(improved: true))
        XCTAssertEqual(s.update(epoch: 3, value: 0.495), .proceed(improved: false))  // within min_delta
        XCTAssertEqual(s.update(epoch: 4, value: 0.6), .stop(bestEpoch: 2))
        var a = EarlyStopping(monitor: "val_accuracy", patience: 1, minDelta: 0)
        XCTAssertEqual(a.update(epoch: 1, value: 0.9), .proceed(improved: true))
        XCTAssertEqual(a.update(epoch: 2, value: 0.95), .proceed(improved: true))
        XCTAssertEqual(a.update(epoch: 3, value: 0.94), .stop(bestEpoch: 2))
    }
}
