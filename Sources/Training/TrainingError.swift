/// Failures of a training run that are not config errors.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, loss: Double, rank: Int)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step, let loss, let rank):
            return "rank \(rank): training diverged: loss is \(loss) at step \(step) (lower training.optimizer.learning_rate)"
        }
    }
}
