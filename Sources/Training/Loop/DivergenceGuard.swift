import Compute
import Foundation
import Distributed
import NeuralNetwork

/// Stops a run whose parameters have left the finite floats (before they can reach a
/// checkpoint), and warns once of a loss far worse than knowing nothing.
struct DivergenceGuard {
    /// The loss of predicting 0.5 for every sample (ln 2): any model that learned anything does
    /// better, so a loss many times this is divergence, not a slow start.
    static let uninformedLoss = log(2.0)
    /// A window loss this many times `uninformedLoss` is reported as divergence.
    static let growthLimit = 10.0
    private var warned = false

    /// A warning, the first time a logging window's loss exceeds `growthLimit` times
    /// `uninformedLoss`; nil otherwise.
    mutating func warning(windowLoss: Double, step: Int, largestDense: @autoclosure () -> Float) -> String? {
        guard !warned, windowLoss > Self.growthLimit * Self.uninformedLoss else { return nil }
        warned = true
        return "warning: training is diverging: loss \(format(windowLoss, 4)) at step \(step) is over \(Int(Self.growthLimit)) "
            + "times that of predicting 0.5 for every sample (\(Self.advice(largestDense: largestDense())))"
    }

    /// What to change: unscaled dense values (counts, prices, timestamps) blow a model up
    /// whatever the learning rate, so past 1,000 in magnitude they are named first.
    static func advice(largestDense: Float) -> String {
        largestDense > 1000
            ? "a dense input is \(largestDense): scale the dense columns (transform: log1p), or lower training.optimizer.learning_rate"
            : "lower training.optimizer.learning_rate"
    }

    /// The largest magnitude among the dense inputs of `batch`'s samples.
    static func largestDense(_ batch: Batch) -> Float {
        batch.dense.toArray().prefix(batch.size * batch.denseFeatureCount).reduce(Float(0)) { max($0, abs($1)) }
    }

    /// Throws on every rank when any rank holds a non-finite parameter: the dense replica, and
    /// with `includingEmbeddings` this rank's table rows (a pass over all of them: before a
    /// checkpoint, not every step). Collective: every rank calls it at the same step.
    static func checkParameters(_ model: RecommendationModel, step: Int, includingEmbeddings: Bool,
                                communicator: Communicator) throws {
        var bad: String?
        for entry in model.arena.entries where !model.backend.allFinite(model.arena.value(of: entry)) {
            bad = entry.name
            break
        }
        if bad == nil && includingEmbeddings {
            bad = model.embeddingTables.first { !$0.allFinite() }?.name
        }
        let flag = bad == nil ? 0.0 : Double(communicator.rank + 1)
        let worst = try communicator.allReduceMax([flag])[0]
        guard worst > 0 else { return }
        let rank = bad == nil ? Int(worst) - 1 : communicator.rank
        throw TrainingError.nonFiniteParameter(step: step, parameter: bad, rank: rank)
    }
}
