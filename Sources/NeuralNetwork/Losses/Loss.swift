import Compute

/// How a task's outputs are scored against its labels in training: the loss, and its gradient
/// for backward. One per task, passed into the training step; a softmax over items or a ranking
/// loss is a new conforming type.
public protocol Loss: Sendable {
    /// The mean loss over `count` samples of `outputs` (one per sample); writes dL/d(output)
    /// into `gradient`: the derivative of each sample's loss times `gradientScale` (the task's
    /// weight over the global batch, when this process holds only a slice of it).
    func lossAndGradient(outputs: DeviceSlice<Float>, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                         count: Int, gradientScale: Float) -> Double
}

/// Binary cross-entropy on logits (a binary task), in the numerically stable form
/// `max(x, 0) - x*y + log(1 + exp(-|x|))`; its gradient `sigmoid(x) - y`.
public struct BinaryCrossEntropyLoss: Loss {
    public init() {}

    public func lossAndGradient(outputs: DeviceSlice<Float>, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                                count: Int, gradientScale: Float) -> Double {
        let total = outputs.backend.binaryCrossEntropy(logits: outputs, labels: labels, logitGradient: gradient, count: count,
                                                       gradientScale: gradientScale)
        return count > 0 ? total / Double(count) : 0
    }
}

/// Squared error `(p - y)²` of predicted values (a regression task).
public struct SquaredErrorLoss: Loss {
    public init() {}

    public func lossAndGradient(outputs: DeviceSlice<Float>, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                                count: Int, gradientScale: Float) -> Double {
        let total = outputs.backend.squaredError(predictions: outputs, labels: labels, gradient: gradient, count: count,
                                                 gradientScale: gradientScale)
        return count > 0 ? total / Double(count) : 0
    }
}

extension PredictionTask {
    /// The loss a task of its kind is trained with.
    public var loss: any Loss {
        switch kind {
        case .binary: BinaryCrossEntropyLoss()
        case .regression: SquaredErrorLoss()
        }
    }
}
