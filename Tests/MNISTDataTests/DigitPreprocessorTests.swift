// Tests of the MNIST-style preprocessing: inversion of dark-on-light input, crop to the ink,
// scale to fit 20x20 keeping the aspect ratio, centring by centre of mass in 28x28.
import XCTest

@testable import MNISTData

final class DigitPreprocessorTests: XCTestCase {
    /// A `width x height` image of `background` with the rectangle [x0, x1) x [y0, y1) set to `ink`.
    private func canvas(
        _ width: Int, _ height: Int, background: UInt8, ink: UInt8,
        rect: (x0: Int, y0: Int, x1: Int, y1: Int)
    ) -> GrayImage {
        var pixels = [UInt8](repeating: background, count: width * height)
        for y in rect.y0..<rect.y1 { for x in rect.x0..<rect.x1 { pixels[y * width + x] = ink } }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// (minX, minY, maxX, maxY) of pixels above 32, and the centre of mass.
    private func inkBox(_ out: [UInt8]) -> (box: (Int, Int, Int, Int), cx: Double, cy: Double) {
        var minX = 28
        var minY = 28
        var maxX = -1
        var maxY = -1
        var mass = 0.0
        var cx = 0.0
        var cy = 0.0
        for y in 0..<28 {
            for x in 0..<28 {
                let v = Double(out[y * 28 + x])
                mass += v
                cx += v * Double(x)
                cy += v * Double(y)
                if out[y * 28 + x] > 32 {
                    minX = min(minX, x)
                    maxX = max(maxX, x)
                    minY = min(minY, y)
                    maxY = max(maxY, y)
                }
            }
        }
        return ((minX, minY, maxX, maxY), cx / mass, cy / mass)
    }

    func testLightOnDark28x28IsUnchanged() {
        var pixels = [UInt8](repeating: 0, count: 784)
        for i in stride(from: 100, to: 600, by: 7) { pixels[i] = UInt8(i % 256) }
        pixels[0] = 0
        let image = GrayImage(width: 28, height: 28, pixels: pixels)
        XCTAssertEqual(DigitPreprocessor.prepare(image), pixels)
    }

    func testDarkOnLight28x28IsInverted() {
        let image = canvas(28, 28, background: 255, ink: 0, rect: (10, 5, 14, 23))
        let out = DigitPreprocessor.prepare(image)
        XCTAssertEqual(out, image.pixels.map { 255 - $0 })
    }

    func testLargeDarkOnLightImageIsCroppedScaledAndCentred() {
        // A tall bar 40 wide and 160 high, off-centre in a 300x240 white page.
        let image = canvas(300, 240, background: 255, ink: 0, rect: (20, 50, 60, 210))
        let out = DigitPreprocessor.prepare(image)
        let (box, cx, cy) = inkBox(out)
        XCTAssertEqual(box.3 - box.1 + 1, 20, "the long side fills 20 pixels")
        XCTAssertEqual(box.2 - box.0 + 1, 5, "aspect ratio 1:4 kept (40x160 -> 5x20)")
        XCTAssertEqual(cx, 13.5, accuracy: 0.6, "centre of mass in the middle of 28x28")
        XCTAssertEqual(cy, 13.5, accuracy: 0.6)
        XCTAssertEqual(out.max(), 255, "solid ink stays full intensity (light on dark)")
        XCTAssertEqual(out[0], 0, "background is dark")
    }

    func testWideInkFitsTheWidth() {
        let image = canvas(200, 200, background: 0, ink: 200, rect: (10, 90, 190, 120))
        let (box, cx, cy) = inkBox(DigitPreprocessor.prepare(image))
        XCTAssertEqual(box.2 - box.0 + 1, 20)
        XCTAssertEqual(box.3 - box.1 + 1, 3, "180x30 -> 20x3.33, rounded to 3")
        XCTAssertEqual(cx, 13.5, accuracy: 0.6)
        XCTAssertEqual(cy, 13.5, accuracy: 0.6)
    }

    func testSmallInkIsScaledUp() {
        // 5x10 ink in a 60x60 dark image becomes 10x20.
        let image = canvas(60, 60, background: 0, ink: 255, rect: (3, 40, 8, 50))
        let (box, _, _) = inkBox(DigitPreprocessor.prepare(image))
        XCTAssertEqual(box.3 - box.1 + 1, 20)
        XCTAssertEqual(box.2 - box.0 + 1, 10)
    }

    func testCentreOfMassNotBoxCentreDecidesPlacement() {
        // A ⊢ shape: a vertical stroke with a bar to its right; the stroke pulls the mass centre left
        // of the box centre, so the box sits right of the frame centre.
        var image = canvas(100, 100, background: 0, ink: 255, rect: (10, 10, 20, 90))
        for y in 40..<60 { for x in 20..<90 { image.pixels[y * 100 + x] = 255 } }
        let (box, cx, cy) = inkBox(DigitPreprocessor.prepare(image))
        XCTAssertEqual(cx, 13.5, accuracy: 0.6)
        XCTAssertEqual(cy, 13.5, accuracy: 0.6)
        XCTAssertGreaterThan(Double(box.0 + box.2) / 2, 14.5, "box centre lies right of the frame centre")
    }

    func testBlankAndDegenerateImagesGiveZeros() {
        XCTAssertEqual(
            DigitPreprocessor.prepare(GrayImage(width: 50, height: 40, pixels: [UInt8](repeating: 255, count: 2000))),
            [UInt8](repeating: 0, count: 784))
        XCTAssertEqual(DigitPreprocessor.prepare(GrayImage(width: 0, height: 0, pixels: [])), [UInt8](repeating: 0, count: 784))
        XCTAssertEqual(DigitPreprocessor.prepare(GrayImage(width: 3, height: 3, pixels: [1])), [UInt8](repeating: 0, count: 784))
        // A single ink pixel scales to a full 20x20 block and stays in the frame.
        var one = [UInt8](repeating: 0, count: 100)
        one[99] = 255
        let out = DigitPreprocessor.prepare(GrayImage(width: 10, height: 10, pixels: one))
        XCTAssertEqual(out.count, 784)
        XCTAssertEqual(out.filter { $0 == 255 }.count, 400)
    }
}
