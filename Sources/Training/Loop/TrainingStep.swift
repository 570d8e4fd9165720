import Compute
import Distributed
import NeuralNetwork

/// One optimisation step on a batch: forward, loss, backward, gradient sync, dense and sparse
/// updates. With N ranks each holds a slice of the global batch: the loss gradient is scaled by
/// the global batch size and the dense gradients are summed over ranks, so every replica takes
/// the step one process would take on the whole batch.
public final class TrainingStep: @unchecked Sendable {
    public let model: RecommendationModel
    public let communicator: Communicator
    public let denseOptimizer: DenseOptimizer
    public let sparseOptimizer: SparseOptimizer
    /// One loss per model output (task), in order, and its weight in the total.
    public let losses: [any Loss]
    public let lossWeights: [Float]
    /// Each task's mean loss of the last forward (one entry with one task), rewritten in place.
    public private(set) var taskLosses: [Double]
    /// With several tasks: one task's outputs, labels and gradient (B), taken out of the
    /// (B, tasks) matrices for its loss.
    private let taskColumns: (outputs: DeviceBuffer<Float>, labels: DeviceBuffer<Float>, gradient: DeviceBuffer<Float>)?

    /// The exchange ahead and the bucketed gradient sum, which the step drives in order.
    private let pipeline: TrainPipeline

    /// `losses`: one per model output (default: binary cross-entropy on each); `lossWeights`:
    /// each one's weight in the total loss (default: 1 each).
    public init(model: RecommendationModel, settings: OptimizerSettings, communicator: Communicator = LocalCommunicator(),
                losses: [any Loss]? = nil, lossWeights: [Float]? = nil) {
        self.model = model
        self.communicator = communicator
        self.losses = losses ?? Array(repeating: BinaryCrossEntropyLoss(), count: model.outputCount)
        self.lossWeights = lossWeights ?? Array(repeating: 1, count: model.outputCount)
        precondition(self.losses.count == model.outputCount, "TrainingStep: \(self.losses.count) losses for \(model.outputCount) outputs")
        precondition(self.lossWeights.count == model.outputCount, "TrainingStep: \(self.lossWeights.count) loss weights for \(model.outputCount) outputs")
        taskLosses = Array(repeating: 0, count: model.outputCount)
        let backend = model.backend, capacity = model.batchCapacity
        taskColumns = model.outputCount > 1
            ? (backend.makeFloats(capacity), backend.makeFloats(capacity), backend.makeFloats(capacity)) : nil
        denseOptimizer = DenseOptimizer(settings: settings, backend: model.backend, parameterCount: model.arena.count)
        sparseOptimizer = SparseOptimizer(settings: settings, tables: model.embeddingTables)
        pipeline = TrainPipeline(model: model, communicator: communicator)
    }

    /// The arena slices all-reduced in each backward, in order (the gradient buckets), as
    /// recorded in the first step.
    public var bucketRanges: [Range<Int>] { pipeline.bucketRanges }

    /// Trains on `batch` (this rank's slice of a global batch of `globalBatchSize`); returns the
    /// mean loss of the slice before the update. With `next`, the batch the following step
    /// trains on, its embedding requests are exchanged while this step's backward runs
    /// (`routeAhead`); the results are the same.
    public func run(_ batch: Batch, globalBatchSize: Int, learningRate: Float, next: Batch? = nil) throws -> Double {
        let loss = try forward(batch, globalBatchSize: globalBatchSize)
        if let next { try routeAhead(next) }
        try backward(learningRate: learningRate)
        try synchronizeGradients()
        update(learningRate: learningRate)
        return loss
    }

    /// Forward and loss; leaves dL/d(output) in the model. Returns the mean loss of the slice,
    /// summed over the tasks with their weights.
    public func forward(_ batch: Batch, globalBatchSize: Int) throws -> Double {
        pipeline.beginForward(batch)
        let outputs = try model.forward(batch), labels = model.inputs.labelSlice, gradient = model.logitGradient
        guard let taskColumns else {
            let loss = losses[0].lossAndGradient(outputs: outputs, labels: labels, gradient: gradient, count: batch.size,
                                                 gradientScale: lossWeights[0] / Float(globalBatchSize))
            taskLosses[0] = loss
            return Double(lossWeights[0]) * loss
        }
        // Each task's column of the (B, tasks) outputs, labels and gradient, through a buffer of its own.
        let backend = model.backend, rows = batch.size, tasks = losses.count
        let columnOutputs = taskColumns.outputs.slice(0, rows), columnLabels = taskColumns.labels.slice(0, rows)
        let columnGradient = taskColumns.gradient.slice(0, rows)
        for (task, loss) in losses.enumerated() {
            backend.copyRows(from: outputs.suffix(from: task), sourceStride: tasks, to: columnOutputs, destinationStride: 1,
                             rows: rows, columns: 1)
            backend.copyRows(from: labels.suffix(from: task), sourceStride: tasks, to: columnLabels, destinationStride: 1,
                             rows: rows, columns: 1)
            taskLosses[task] = loss.lossAndGradient(outputs: columnOutputs, labels: columnLabels, gradient: columnGradient,
                                                    count: rows, gradientScale: lossWeights[task] / Float(globalBatchSize))
            backend.copyRows(from: columnGradient, sourceStride: 1, to: gradient.suffix(from: task), destinationStride: tasks,
                             rows: rows, columns: 1)
        }
        return zip(taskLosses, lossWeights).reduce(0) { $0 + $1.0 * Double($1.1) }
    }

    /// Starts exchanging the embedding requests of `next` (the batch the next forward takes):
    /// the ids go to their owners during this step's backward, between the gradient all-reduces;
    /// the rows are still fetched in that forward, after this step's update.
    public func routeAhead(_ next: Batch) throws {
        try pipeline.routeAhead(next)
    }

    /// Ends an exchange begun by `routeAhead` whose batch will not be trained on.
    public func abandonRouteAhead() throws {
        try pipeline.abandonRouteAhead()
    }

    /// Ends the sum of the dense gradients over all ranks (they are already scaled by the
    /// global batch): backward all-reduced each bucket; this reports a failure of any of them.
    public func synchronizeGradients() throws {
        try pipeline.synchronizeGradients()
    }

    /// With SGD, embedding rows are updated during backward (fused); otherwise their gradients
    /// are collected for `update`.
    private var fusesEmbeddingUpdate: Bool { denseOptimizer.settings.algorithm == .sgd }

    /// Zeroes the dense gradients, then fills them; embedding tables either collect their row
    /// gradients or, with SGD, are updated at `learningRate` in the same pass.
    public func backward(learningRate: Float) throws {
        model.arena.zeroGradients()
        let mode: EmbeddingBackwardMode = fusesEmbeddingUpdate ? .fusedSGD(learningRate: learningRate) : .collectGradients
        // Stage by stage: on several ranks each finished slice is summed over them before the next stage.
        for stage in model.backwardStages(embeddingMode: mode) {
            if let range = try stage(), communicator.size > 1 { pipeline.gradientsReady(range) }
        }
    }

    /// Applies the dense optimizer, and the sparse one unless backward already did.
    public func update(learningRate: Float) {
        denseOptimizer.step(values: model.arena.values.whole, gradients: model.arena.gradients.whole,
                            learningRate: learningRate)
        if !fusesEmbeddingUpdate {
            sparseOptimizer.step(tables: model.embeddingTables, learningRate: learningRate)
        }
    }
}
