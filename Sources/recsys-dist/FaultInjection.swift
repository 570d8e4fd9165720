import Checkpointing
import Foundation

/// Fault injection for the crash and timing tests, in the tests' (debug) builds only: with
/// `RECSYS_DIST_CRASH_AFTER_CHECKPOINT_FILES=k`, a rank exits at once (as if killed) right after
/// its k-th checkpoint file of the process is complete; with `RECSYS_DIST_CRASH_RANK=r` too, only
/// rank r does; with `RECSYS_DIST_CRASH_BEFORE_CHECKPOINT_PLACED=1`, rank 0 exits once a
/// checkpoint is complete, just before it is put in place of the folder it replaces (where a
/// remove-then-rename would have removed the old one); with
/// `RECSYS_DIST_SLOW_CHECKPOINT_OPEN=s`, every checkpoint file waits s seconds
/// before it is opened for reading (a slow file system: the window in which `latest` may move).
/// Without the variables, nothing. A release build holds no hook.
func installFaultInjection() {
    #if DEBUG
    let environment = ProcessInfo.processInfo.environment
    if let pause = environment["RECSYS_DIST_SLOW_CHECKPOINT_OPEN"].flatMap(Double.init) {
        TrainingCheckpoint.willOpen = { path in
            FileHandle.standardError.write(Data("test hook: opening \(path) in \(pause) s\n".utf8))
            usleep(UInt32(pause * 1_000_000))
        }
    }
    if environment["RECSYS_DIST_CRASH_BEFORE_CHECKPOINT_PLACED"] == "1" {
        TrainingCheckpoint.willPlace = { folder in
            FileHandle.standardError.write(Data("test hook: crashing before \(folder) is put in place\n".utf8))
            _exit(99)
        }
    }
    guard let limit = environment["RECSYS_DIST_CRASH_AFTER_CHECKPOINT_FILES"].flatMap(Int.init) else { return }
    let onlyRank = environment["RECSYS_DIST_CRASH_RANK"].flatMap(Int.init)
    FileHandle.standardError.write(Data(("warning: RECSYS_DIST_CRASH_AFTER_CHECKPOINT_FILES=\(limit) is set: a test hook that ends "
                                         + "\(onlyRank.map { "rank \($0)" } ?? "every rank") after checkpoint file \(limit)\n").utf8))
    nonisolated(unsafe) var written = 0
    TrainingCheckpoint.fileWritten = { rank, _ in
        written += 1
        guard written >= limit, onlyRank.map({ $0 == rank }) ?? true else { return }
        FileHandle.standardError.write(Data("test hook: rank \(rank) crashing after checkpoint file \(written)\n".utf8))
        _exit(99)
    }
    #endif
}
