import Foundation

/// Binary cross-entropy on logits, averaged over the batch, in the numerically stable form
/// `max(x, 0) - x*y + log(1 + exp(-|x|))`.
public enum BinaryCrossEntropy {
    /// Returns the mean loss over `count` samples and writes dL/dx = (sigmoid(x) - y) / B into
    /// `logitGradient`. `B` is `normalizer` when given: the global batch, when this process
    /// holds only a slice of it.
    public static func lossAndGradient(logits: UnsafePointer<Float>, labels: UnsafePointer<Float>,
                                       logitGradient: UnsafeMutablePointer<Float>, count: Int,
                                       normalizer: Int? = nil) -> Double {
        var total = 0.0
        let scale = 1 / Float(normalizer ?? count)
        for i in 0..<count {
            let x = logits[i], y = labels[i]
            total += Double(max(x, 0) - x * y + log1pf(expf(-abs(x))))
            logitGradient[i] = (sigmoid(x) - y) * scale
        }
        return count > 0 ? total / Double(count) : 0
    }

    /// Mean loss only.
    public static func loss(logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, count: Int) -> Double {
        var total = 0.0
        for i in 0..<count {
            let x = logits[i], y = labels[i]
            total += Double(max(x, 0) - x * y + log1pf(expf(-abs(x))))
        }
        return total / Double(count)
    }

    /// A logistic sigmoid that does not overflow for large |x|.
    @inlinable
    public static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }
}
