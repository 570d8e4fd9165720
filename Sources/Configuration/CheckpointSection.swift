/// When and where checkpoints are written.
public struct CheckpointSection: Codable, Sendable, Equatable {
    /// Runs are saved under `<directory>/<run_name>/step-<N>/`.
    public var directory = "checkpoints"
    /// Defaults to the config file's name without its extension.
    public var runName: String?
    /// Save every this many steps (0: never).
    public var everySteps = 0
    /// Save when this many seconds have passed since the last save (0: never).
    public var everySeconds = 0.0
    /// Save at the end of every epoch.
    public var atEpochEnd = false
    /// Save when training ends.
    public var saveFinal = true
    /// Keep the newest this many checkpoints (0: all).
    public var keepLast = 3
    /// Save a checkpoint whenever a held-out evaluation reaches a new best AUC, and point
    /// `<run>/best` at it (it is never removed by `keep_last`).
    public var keepBest = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case directory
        case runName = "run_name"
        case everySteps = "every_steps"
        case everySeconds = "every_seconds"
        case atEpochEnd = "at_epoch_end"
        case saveFinal = "save_final"
        case keepLast = "keep_last"
        case keepBest = "keep_best"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CheckpointSection()
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? d.directory
        runName = try c.decodeIfPresent(String.self, forKey: .runName)
        everySteps = try c.decodeIfPresent(Int.self, forKey: .everySteps) ?? d.everySteps
        everySeconds = try c.decodeIfPresent(Double.self, forKey: .everySeconds) ?? d.everySeconds
        atEpochEnd = try c.decodeIfPresent(Bool.self, forKey: .atEpochEnd) ?? d.atEpochEnd
        saveFinal = try c.decodeIfPresent(Bool.self, forKey: .saveFinal) ?? d.saveFinal
        keepLast = try c.decodeIfPresent(Int.self, forKey: .keepLast) ?? d.keepLast
        keepBest = try c.decodeIfPresent(Bool.self, forKey: .keepBest) ?? d.keepBest
    }

    /// The folder of this run's checkpoints.
    public var runDirectory: String { "\(directory)/\(runName ?? "run")" }

    /// Whether a run may write checkpoints (then it locks `runDirectory` while it trains).
    public var writesCheckpoints: Bool { saveFinal || everySteps > 0 || everySeconds > 0 || atEpochEnd || keepBest }
}
