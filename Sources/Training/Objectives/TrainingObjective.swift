import Compute
import NeuralNetwork

/// What a training step minimises over a batch: the loss of the model's outputs for the batch,
/// and dL/d(output) for backward. A ranker's is a loss per task (`TaskLosses`); a retriever's
/// scores the batch's users against its items (`InBatchSoftmax`).
public protocol TrainingObjective: AnyObject {
    /// Each part's mean loss over the last batch (a ranker's tasks; one part for a retriever).
    var partLosses: [Double] { get }
    /// The loss of `outputs` (the model's for `batch`, this rank's slice of a global batch of
    /// `globalBatchSize`): writes dL/d(output) into `gradient`, scaled by the global batch so
    /// that the ranks' gradients sum to one process's; returns the slice's mean loss.
    func lossAndGradient(outputs: DeviceSlice<Float>, batch: Batch, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                         globalBatchSize: Int) throws -> Double
}

/// A ranker's objective: one `Loss` per output (task), weighted, each on its column of the
/// (B, tasks) outputs.
public final class TaskLosses: TrainingObjective {
    public let losses: [any Loss]
    public let weights: [Float]
    public private(set) var partLosses: [Double]
    private let backend: any ComputeBackend
    /// With several tasks: one task's outputs, labels and gradient (B), taken out of the
    /// (B, tasks) matrices for its loss.
    private let taskColumns: (outputs: DeviceBuffer<Float>, labels: DeviceBuffer<Float>, gradient: DeviceBuffer<Float>)?

    public init(losses: [any Loss], weights: [Float], backend: any ComputeBackend, batchCapacity: Int) {
        precondition(losses.count == weights.count, "TaskLosses: \(losses.count) losses, \(weights.count) weights")
        self.losses = losses
        self.weights = weights
        self.backend = backend
        partLosses = Array(repeating: 0, count: losses.count)
        taskColumns = losses.count > 1
            ? (backend.makeFloats(batchCapacity), backend.makeFloats(batchCapacity), backend.makeFloats(batchCapacity)) : nil
    }

    public func lossAndGradient(outputs: DeviceSlice<Float>, batch: Batch, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                                globalBatchSize: Int) throws -> Double {
        guard let taskColumns else {
            let loss = losses[0].lossAndGradient(outputs: outputs, labels: labels, gradient: gradient, count: batch.size,
                                                 gradientScale: weights[0] / Float(globalBatchSize))
            partLosses[0] = loss
            return Double(weights[0]) * loss
        }
        // Each task's column of the (B, tasks) outputs, labels and gradient, through a buffer of its own.
        let rows = batch.size, tasks = losses.count
        let columnOutputs = taskColumns.outputs.slice(0, rows), columnLabels = taskColumns.labels.slice(0, rows)
        let columnGradient = taskColumns.gradient.slice(0, rows)
        for (task, loss) in losses.enumerated() {
            backend.copyRows(from: outputs.suffix(from: task), sourceStride: tasks, to: columnOutputs, destinationStride: 1,
                             rows: rows, columns: 1)
            backend.copyRows(from: labels.suffix(from: task), sourceStride: tasks, to: columnLabels, destinationStride: 1,
                             rows: rows, columns: 1)
            partLosses[task] = loss.lossAndGradient(outputs: columnOutputs, labels: columnLabels, gradient: columnGradient,
                                                    count: rows, gradientScale: weights[task] / Float(globalBatchSize))
            backend.copyRows(from: columnGradient, sourceStride: 1, to: gradient.suffix(from: task), destinationStride: tasks,
                             rows: rows, columns: 1)
        }
        return zip(partLosses, weights).reduce(0) { $0 + $1.0 * Double($1.1) }
    }
}
