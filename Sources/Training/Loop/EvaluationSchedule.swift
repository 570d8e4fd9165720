import Configuration
/// Held-out evaluation during training, as `evaluation` and `checkpoint.keep_best` say: every N
/// steps, keeping the best AUC seen, stopping early once the AUC reaches a target.
struct EvaluationSchedule {
    let section: EvaluationSection
    let keepsBest: Bool
    private(set) var bestAUC = -Double.infinity

    /// Whether to evaluate after `step` (the last step is evaluated by the end of training).
    func isDue(afterStep step: Int, isLast: Bool) -> Bool {
        section.everySteps > 0 && step % section.everySteps == 0 && !isLast
    }

    /// What an evaluation's AUC means: a new best to save (with keep_best), a reason to stop.
    mutating func record(auc: Double) -> (savesBest: Bool, stopsEarly: Bool) {
        let savesBest = keepsBest && auc > bestAUC
        bestAUC = max(bestAUC, auc)
        return (savesBest, section.earlyStopAUC > 0 && auc >= section.earlyStopAUC)
    }

    /// Whether the final evaluation's AUC beats every earlier one (then `best` points at the end).
    func isBestAtEnd(auc: Double) -> Bool { keepsBest && auc > bestAUC }
}
