import Foundation

/// A reader's hold on one checkpoint folder: a shared `flock` on the folder itself (no file is
/// written, so read-only checkpoints are held too). Pruning (`keep_last`) takes the lock
/// exclusively without waiting and leaves a held folder for a later save, so `evaluate` on
/// `latest` is never pulled out from under while a run writes newer checkpoints. Released when
/// the hold is freed.
public final class CheckpointReadHold {
    private let descriptor: Int32

    /// Holds `directory` (a resolved `step-N` folder), waiting while a pruner removes it; a
    /// folder removed meanwhile is an error that says to try again.
    public init(_ directory: String) throws {
        descriptor = open(directory, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw CheckpointError.noSuchFolder(path: directory) }
        flock(descriptor, LOCK_SH)
        guard FileManager.default.fileExists(atPath: "\(directory)/dense.h5") else {
            close(descriptor)
            throw CheckpointError.pruned(path: directory)
        }
    }

    deinit { close(descriptor) }

    /// Removes `directory` unless a reader holds it (then it stays for a later save).
    static func removeUnlessHeld(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { FileSystem.remove(directory) }
    }
}
