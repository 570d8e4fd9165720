import Compute
import NeuralNetwork

/// One optimisation step on a batch: forward, loss, backward, dense and sparse updates.
/// Allocates nothing: every buffer it touches was sized when the model was built.
public final class TrainingStep: @unchecked Sendable {
    public let model: RecommendationModel
    public let denseOptimizer: DenseOptimizer
    public let sparseOptimizer: SparseOptimizer

    public init(model: RecommendationModel, settings: OptimizerSettings) {
        self.model = model
        denseOptimizer = DenseOptimizer(settings: settings, parameterCount: model.arena.count)
        sparseOptimizer = SparseOptimizer(settings: settings, tables: model.embeddingTables)
    }

    /// Trains on `batch`; returns its mean loss before the update.
    public func run(_ batch: Batch, learningRate: Float) -> Double {
        let loss = forward(batch)
        backward(batch, learningRate: learningRate)
        update(learningRate: learningRate)
        return loss
    }

    /// Forward and loss; leaves dL/d(logit) in the model. Returns the mean loss.
    public func forward(_ batch: Batch) -> Double {
        let logits = model.forward(batch)
        return BinaryCrossEntropy.lossAndGradient(logits: logits, labels: batch.labels.base,
                                                  logitGradient: model.logitGradient, count: batch.size)
    }

    /// With SGD, embedding rows are updated during backward (fused); otherwise their gradients
    /// are collected for `update`.
    private var fusesEmbeddingUpdate: Bool { denseOptimizer.settings.algorithm == .sgd }

    /// Zeroes the dense gradients, then fills them; embedding tables either collect their row
    /// gradients or, with SGD, are updated at `learningRate` in the same pass.
    public func backward(_ batch: Batch, learningRate: Float) {
        model.arena.zeroGradients()
        model.backward(batch, embeddingMode: fusesEmbeddingUpdate ? .fusedSGD(learningRate: learningRate) : .collectGradients)
    }

    /// Applies the dense optimizer, and the sparse one unless backward already did.
    public func update(learningRate: Float) {
        denseOptimizer.step(values: model.arena.values.view, gradients: model.arena.gradients.view,
                            learningRate: learningRate)
        if !fusesEmbeddingUpdate {
            sparseOptimizer.step(tables: model.embeddingTables, learningRate: learningRate)
        }
    }
}
