import Configuration
import Dispatch

/// When a run saves, as `checkpoint` says: every N steps, every S seconds (rank 0's clock
/// decides, for all ranks), at the end of every epoch, at the end of training. It remembers the
/// last save, so no step is saved twice.
struct CheckpointSchedule {
    let section: CheckpointSection
    /// The step of the last checkpoint written (-1: none yet).
    private(set) var savedStep = -1
    private var lastSave = DispatchTime.now()

    init(_ section: CheckpointSection) { self.section = section }

    /// Rank 0's vote for a timed save now (1 or 0); the ranks agree on the largest vote.
    func timedSaveVote(isRoot: Bool) -> Double {
        isRoot && section.everySeconds > 0 && seconds(since: lastSave) >= section.everySeconds ? 1 : 0
    }

    /// Whether to save after `step`, given the ranks' agreement on a timed save.
    func isDue(afterStep step: Int, timedSaveAgreed: Bool) -> Bool {
        (section.everySteps > 0 && step % section.everySteps == 0) || timedSaveAgreed
    }

    /// Whether to save at the end of an epoch that ended after `step`.
    func isDueAtEpochEnd(step: Int) -> Bool { section.atEpochEnd && savedStep != step }

    /// Whether the run ends with a checkpoint of `step` (saved already, or to save now).
    func endsWithCheckpoint(step: Int) -> Bool { section.saveFinal || savedStep == step }

    mutating func didSave(step: Int) {
        savedStep = step
        lastSave = DispatchTime.now()
    }
}
