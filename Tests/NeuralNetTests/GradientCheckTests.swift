import TensorKit
import XCTest

@testable import NeuralNet

final class GradientCheckTests: XCTestCase {
    func testEveryLayerAndTheLossMatchFiniteDifferences() {
        for result in GradientCheck.all() {
            XCTAssertTrue(result.passed, result.description)
            XCTAssertGreaterThan(result.checked, 0, result.name)
        }
    }

    /// The checker itself must catch a wrong backward.
    func testCheckerCatchesABrokenBackward() {
        final class LeakyBackwardReLU: Layer, @unchecked Sendable {
            let inputShape: Shape3
            var outputShape: Shape3 { inputShape }
            init(_ s: Shape3) { inputShape = s }
            func forward(
                x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>,
                scratch: UnsafeMutablePointer<Float>, context: LayerContext
            ) {
                for i in 0..<(context.batch * inputShape.count) { y[i] = max(x[i], 0) }
            }
            func backward(
                x: UnsafePointer<Float>, y: UnsafePointer<Float>, dY: UnsafePointer<Float>,
                dX: UnsafeMutablePointer<Float>?, parameters: UnsafePointer<Float>,
                dParameters: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                context: LayerContext
            ) {
                dX?.update(from: dY, count: context.batch * inputShape.count)  // wrong: ignores the mask
            }
        }
        let result = GradientCheck.check(layer: LeakyBackwardReLU(Shape3(2, 2, 2)), name: "broken")
        XCTAssertFalse(result.passed, result.description)
    }

    func testPresetParameterCountsMatchTheReferenceModels() throws {
        XCTAssertEqual(try Sequential(spec: .kerasExample).parameterCount, 34_826)
        XCTAssertEqual(try Sequential(spec: .pytorchExample).parameterCount, 1_199_882)
    }

    func testInvalidSpecsAreRejectedWithTheLayerNamed() {
        var spec = ModelSpec.kerasExample
        spec.layers[0].filters = 0
        XCTAssertThrowsError(try Sequential(spec: spec)) { error in
            XCTAssertTrue("\(error)".contains("layer 1 (conv2d)"), "\(error)")
        }
        spec = ModelSpec.kerasExample
        spec.layers[6].units = 7
        XCTAssertThrowsError(try Sequential(spec: spec)) { XCTAssertTrue("\($0)".contains("10 classes"), "\($0)") }
        spec = ModelSpec.kerasExample
        spec.layers.insert(LayerSpec(type: "conv3d"), at: 0)
        XCTAssertThrowsError(try Sequential(spec: spec)) { XCTAssertTrue("\($0)".contains("unknown layer type"), "\($0)") }
    }

    func testInitialWeightsArePureFunctionsOfTheSeed() throws {
        let model = try Sequential(spec: .kerasExample)
        XCTAssertEqual(model.initialParameters(seed: 3), model.initialParameters(seed: 3))
        XCTAssertNotEqual(model.initialParameters(seed: 3), model.initialParameters(seed: 4))
        // Glorot bound for conv1: sqrt(6 / (9 + 288)).
        let p = model.initialParameters(seed: 3)
        let bound = Float((6.0 / 297.0).squareRoot())
        XCTAssertTrue(p[0..<288].allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(p[0..<288].map { abs($0) }.max()!, bound * 0.9)
    }
}
