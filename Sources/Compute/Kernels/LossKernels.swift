#if canImport(Glibc)
import Glibc
#endif

/// Loss kernels over host memory.
enum LossKernels {
    /// Summed binary cross-entropy on logits in the stable form
    /// `max(x, 0) - x*y + log(1 + exp(-|x|))`; writes `scale * (sigmoid(x) - y)` when asked.
    static func binaryCrossEntropy(logits: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Float>,
                                   logitGradient: UnsafeMutablePointer<Float>?, count: Int, gradientScale: Float) -> Double {
        var total = 0.0
        for i in 0..<count {
            let x = logits[i], y = labels[i]
            total += Double(max(x, 0) - x * y + log1pf(expf(-abs(x))))
            logitGradient?[i] = (sigmoid(x) - y) * gradientScale
        }
        return total
    }

    /// Summed squared error `(p - y)²`; writes `scale * 2 (p - y)` when asked.
    static func squaredError(predictions: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Float>,
                             gradient: UnsafeMutablePointer<Float>?, count: Int, gradientScale: Float) -> Double {
        var total = 0.0
        for i in 0..<count {
            let difference = predictions[i] - labels[i]
            total += Double(difference * difference)
            gradient?[i] = 2 * difference * gradientScale
        }
        return total
    }

    /// A logistic sigmoid that does not overflow for large |x|.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + expf(-x)) }
        let e = expf(x)
        return e / (1 + e)
    }
}

/// Optimizer kernels shared by the dense and the sparse (row) updates.
enum OptimizerKernels {
    /// Adam on `count` elements: moments, then `p -= stepSize m / (sqrt(v) secondCorrection + eps)`.
    @inline(__always)
    static func adam(values p: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>,
                     first m: UnsafeMutablePointer<Float>, second v: UnsafeMutablePointer<Float>, count: Int, step: AdamStep) {
        let b1 = step.beta1, b2 = step.beta2, stepSize = step.stepSize
        let secondCorrection = step.secondCorrection, epsilon = step.epsilon
        for i in 0..<count {
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            p[i] -= stepSize * m[i] / (v[i].squareRoot() * secondCorrection + epsilon)
        }
    }
}
