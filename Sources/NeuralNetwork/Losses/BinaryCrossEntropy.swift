import Compute

/// Binary cross-entropy on logits, averaged over the batch, in the numerically stable form
/// `max(x, 0) - x*y + log(1 + exp(-|x|))`.
public enum BinaryCrossEntropy {
    /// Returns the mean loss over `count` samples and writes dL/dx = (sigmoid(x) - y) / B into
    /// `logitGradient`. `B` is `normalizer` when given: the global batch, when this process
    /// holds only a slice of it.
    public static func lossAndGradient(logits: DeviceSlice<Float>, labels: DeviceSlice<Float>,
                                       logitGradient: DeviceSlice<Float>, count: Int, normalizer: Int? = nil) -> Double {
        let total = logits.backend.binaryCrossEntropy(logits: logits, labels: labels, logitGradient: logitGradient,
                                                      count: count, gradientScale: 1 / Float(normalizer ?? count))
        return count > 0 ? total / Double(count) : 0
    }

    /// Mean loss only.
    public static func loss(logits: DeviceSlice<Float>, labels: DeviceSlice<Float>, count: Int) -> Double {
        logits.backend.binaryCrossEntropy(logits: logits, labels: labels, logitGradient: nil, count: count,
                                          gradientScale: 0) / Double(count)
    }
}
