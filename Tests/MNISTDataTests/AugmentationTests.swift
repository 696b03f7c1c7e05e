import MNISTData
import TensorKit
import XCTest

final class AugmentationTests: XCTestCase {
    /// A 28x28 test image: a bright bar and a gradient, so transforms visibly move pixels.
    let image: [UInt8] = (0..<784).map { i in
        let (y, x) = (i / 28, i % 28)
        return (x >= 10 && x < 14 && y >= 4 && y < 24) ? 255 : UInt8((x * 3 + y * 2) % 120)
    }

    func run(_ settings: AugmentSettings, epoch: Int = 1, sample: Int = 7, seed: UInt64 = 3) -> [Float] {
        let aug = Augmenter(settings: settings, seed: seed, rows: 28, cols: 28)
        var out = [Float](repeating: -1, count: 784)
        var scratch = [Float](repeating: 0, count: aug.scratchCount)
        image.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    aug.apply(src.baseAddress!, to: o.baseAddress!, epoch: epoch, sample: sample, scratch: s.baseAddress!)
                }
            }
        }
        return out
    }

    var full: AugmentSettings {
        var s = AugmentSettings.standardDigits
        s.elasticAlpha = 34
        s.elasticSigma = 4
        return s
    }

    func testZeroAmountsAreTheIdentity() {
        var s = AugmentSettings()
        s.enabled = true
        XCTAssertFalse(s.isActive)
        XCTAssertEqual(run(s), image.map(Float.init))
        // Disabled settings with amounts change nothing either.
        var off = full
        off.enabled = false
        XCTAssertEqual(run(off), image.map(Float.init))
    }

    func testTheAffinePathWithZeroParametersIsTheIdentity() {
        // Active only through the flip: samples whose flip bit is 0 go through the full sampling path.
        var s = AugmentSettings()
        s.enabled = true
        s.horizontalFlip = true
        var identical = 0
        var mirrored = 0
        for sample in 0..<40 {
            let out = run(s, sample: sample)
            if out == image.map(Float.init) {
                identical += 1
                continue
            }
            let flipped = (0..<784).map { i in Float(image[(i / 28) * 28 + 27 - i % 28]) }
            XCTAssertEqual(out, flipped, "sample \(sample) is neither the image nor its mirror")
            mirrored += 1
        }
        XCTAssertGreaterThan(identical, 5)
        XCTAssertGreaterThan(mirrored, 5)
    }

    func testDeterministicInSeedEpochAndSample() {
        let a = run(full)
        XCTAssertEqual(a, run(full), "same (seed, epoch, sample) must give the same bits")
        XCTAssertNotEqual(a, run(full, epoch: 2))
        XCTAssertNotEqual(a, run(full, sample: 8))
        XCTAssertNotEqual(a, run(full, seed: 4))
        XCTAssertNotEqual(a, image.map(Float.init))
    }

    func testOutputsStayInPixelRangeAndMostInkSurvives() {
        let total = image.reduce(0.0) { $0 + Double($1) }
        for sample in 0..<50 {
            let out = run(full, sample: sample)
            XCTAssertTrue(out.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 255 }, "sample \(sample) leaves [0, 255]")
            let ink = out.reduce(0.0) { $0 + Double($1) }
            XCTAssertGreaterThan(ink, 0.4 * total, "sample \(sample) lost most of the image")
        }
    }

    func testParametersStayWithinTheConfiguredRanges() {
        let aug = Augmenter(settings: full, seed: 9, rows: 28, cols: 28)
        var sawLarge = false
        for sample in 0..<500 {
            let p = aug.parameters(epoch: 0, sample: sample)
            XCTAssertLessThanOrEqual(abs(p.rotation), 10 * Double.pi / 180 + 1e-12)
            XCTAssertLessThanOrEqual(abs(p.scale - 1), 0.1 + 1e-12)
            XCTAssertLessThanOrEqual(abs(p.shiftX), 2)
            XCTAssertLessThanOrEqual(abs(p.shiftY), 2)
            XCTAssertLessThanOrEqual(abs(p.shear), 10 * Double.pi / 180 + 1e-12)
            XCTAssertFalse(p.flip, "flips are off unless asked for")
            if abs(p.rotation) > 8 * Double.pi / 180 { sawLarge = true }
        }
        XCTAssertTrue(sawLarge, "the rotation range should be used")
    }

    func testAPureShiftMovesTheImage() {
        // Rotation/scale/shear 0 and a shift of exactly d pixels is not guaranteed (random), but the centre of
        // mass must move by the drawn shift (up to bilinear blur at the border).
        var s = AugmentSettings()
        s.enabled = true
        s.shiftPixels = 3
        let aug = Augmenter(settings: s, seed: 5, rows: 28, cols: 28)
        let p = aug.parameters(epoch: 1, sample: 7)
        let out = run(s, seed: 5)
        func centre(_ v: [Float]) -> (Double, Double) {
            var m = 0.0
            var cx = 0.0
            var cy = 0.0
            for i in 0..<784 where (i % 28) >= 10 && (i % 28) < 14 || true {
                let w = Double(v[i]) > 200 ? Double(v[i]) : 0
                m += w
                cx += w * Double(i % 28)
                cy += w * Double(i / 28)
            }
            return (cx / m, cy / m)
        }
        let (x0, y0) = centre(image.map(Float.init))
        let (x1, y1) = centre(out)
        XCTAssertEqual(x1 - x0, p.shiftX, accuracy: 0.6)
        XCTAssertEqual(y1 - y0, p.shiftY, accuracy: 0.6)
    }
}
