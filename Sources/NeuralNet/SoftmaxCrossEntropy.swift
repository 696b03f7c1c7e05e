// Softmax fused with categorical cross-entropy, numerically stable (log-sum-exp with the max
// subtracted). Reduction is a SUM over samples: micro-batch gradients add up exactly, and the
// optimizer divides by the number of samples in the step.
import TensorKit

public enum SoftmaxCrossEntropy {
    /// Writes probabilities (B, classes) and dLogits = p - onehot (smoothed if `labelSmoothing` > 0).
    /// Returns the summed loss and the number of correct argmax predictions.
    @discardableResult
    public static func forwardBackward(
        logits: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, batch: Int, classes: Int,
        probabilities: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>?,
        labelSmoothing: Float = 0
    ) -> (loss: Double, correct: Int) {
        var loss = 0.0
        var correct = 0
        let off = labelSmoothing / Float(classes)
        let on = 1 - labelSmoothing + off
        for s in 0..<batch {
            let z = logits + s * classes
            let p = probabilities + s * classes
            var maxZ = z[0]
            var argmax = 0
            for c in 1..<classes where z[c] > maxZ {
                maxZ = z[c]
                argmax = c
            }
            var total: Float = 0
            for c in 0..<classes {
                let e = PortableMath.exp(z[c] - maxZ)
                p[c] = e
                total += e
            }
            let inv = 1 / total
            for c in 0..<classes { p[c] *= inv }
            let label = Int(labels[s])
            let logSum = Double(PortableMath.log(total))
            // -sum_c t_c log p_c with log p_c = z_c - max - log(total)
            if labelSmoothing == 0 {
                loss += logSum - Double(z[label] - maxZ)
            } else {
                for c in 0..<classes {
                    let t = c == label ? on : off
                    loss += Double(t) * (logSum - Double(z[c] - maxZ))
                }
            }
            if argmax == label { correct += 1 }
            if let dLogits {
                let d = dLogits + s * classes
                for c in 0..<classes { d[c] = p[c] - (c == label ? on : off) }
            }
        }
        return (loss, correct)
    }
}
