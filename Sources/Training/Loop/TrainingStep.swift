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
    /// What the step minimises: a loss per task, or a retriever's in-batch softmax.
    public let objective: any TrainingObjective

    /// The exchange ahead and the bucketed gradient sum, which the step drives in order.
    private let pipeline: TrainPipeline

    /// `losses`: one per model output (default: binary cross-entropy on each); `lossWeights`:
    /// each one's weight in the total loss (default: 1 each); `objective`, when given, replaces both.
    public init(model: RecommendationModel, settings: OptimizerSettings, communicator: Communicator = LocalCommunicator(),
                losses: [any Loss]? = nil, lossWeights: [Float]? = nil, objective: (any TrainingObjective)? = nil) {
        self.model = model
        self.communicator = communicator
        if let objective {
            self.objective = objective
        } else {
            let losses = losses ?? Array(repeating: BinaryCrossEntropyLoss(), count: model.outputCount)
            let weights = lossWeights ?? Array(repeating: 1, count: model.outputCount)
            precondition(losses.count == model.outputCount, "TrainingStep: \(losses.count) losses for \(model.outputCount) outputs")
            self.objective = TaskLosses(losses: losses, weights: weights, backend: model.backend, batchCapacity: model.batchCapacity)
        }
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

    /// Each part's mean loss of the last forward (a task each; one entry with one task).
    public var taskLosses: [Double] { objective.partLosses }

    /// Forward and loss; leaves dL/d(output) in the model. Returns the mean loss of the slice
    /// (summed over the tasks with their weights).
    public func forward(_ batch: Batch, globalBatchSize: Int) throws -> Double {
        pipeline.beginForward(batch)
        let outputs = try model.forward(batch)
        return try objective.lossAndGradient(outputs: outputs, batch: batch, labels: model.inputs.labelSlice, gradient: model.logitGradient,
                                             globalBatchSize: globalBatchSize)
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

    /// With SGD, fp32 embedding rows are updated during backward (fused); otherwise their
    /// gradients are collected for `update` (a bf16 row is rounded once per step, after its
    /// gradient is summed).
    private var fusesEmbeddingUpdate: Bool {
        denseOptimizer.settings.algorithm == .sgd && model.tablesAreFP32
    }

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
