/// Failures of a training run that are not config errors.
public enum TrainingError: Error, CustomStringConvertible {
    /// `largestDense`: the largest magnitude among the step's dense inputs.
    case nonFiniteLoss(step: Int, loss: Double, rank: Int, largestDense: Float)
    /// `parameter` is nil on the ranks that hold no bad value themselves.
    case nonFiniteParameter(step: Int, parameter: String?, rank: Int)
    /// Every rank stopped together at `step` on a signal, after saving `checkpoint` (nil when
    /// the config writes none).
    case stopped(signal: Int32, step: Int, checkpoint: String?)
    /// `--resume latest` in a run folder with no checkpoint.
    case nothingToResume(folder: String)
    /// A fresh run (no `--resume`, no `--overwrite`) in a checkpoint folder that holds checkpoints.
    case checkpointsExist(folder: String, found: String)
    public var description: String {
        switch self {
        case .nonFiniteLoss(let step, let loss, let rank, let largestDense):
            return "rank \(rank): training diverged: loss is \(loss) at step \(step) (\(DivergenceGuard.advice(largestDense: largestDense)))"
        case .nonFiniteParameter(let step, let parameter, let rank):
            return "rank \(rank): training diverged: " + (parameter.map { "parameter '\($0)' holds" } ?? "a parameter holds")
                + " a non-finite value after step \(step); no checkpoint written (lower training.optimizer.learning_rate)"
        case .nothingToResume(let folder):
            return "\(folder): no checkpoint to resume (no 'latest' here: the run has saved none, or checkpoint.run_name differs)"
        case .checkpointsExist(let folder, let found):
            return "\(folder): already holds checkpoints (\(found)); continue them with --resume latest, start over with "
                + "--overwrite (removes them), or choose another checkpoint.run_name"
        case .stopped(let signal, let step, let checkpoint):
            return "stopped by \(signalName(signal)) after step \(step); "
                + (checkpoint.map { "checkpoint \($0) written (continue with --resume latest)" } ?? "no checkpoint (the config writes none)")
        }
    }
}
