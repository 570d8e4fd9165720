import Foundation

/// The lock a run holds on its checkpoint folder while it trains, so that two runs never write
/// (and prune) one folder: an exclusive `flock` on `<folder>/.lock`, which holds the holder's
/// host and process id. The system releases it when the process ends, however it ends; taking
/// it also proves at start that the folder can be created and written.
public final class CheckpointFolderLock {
    public let folder: String
    private let descriptor: Int32

    /// Creates `folder` where missing and takes its lock; throws `CheckpointError.folderInUse`
    /// naming the holder when another process has it, a `FileSystemError` when the folder cannot
    /// be made or written.
    public init(folder: String) throws {
        try FileSystem.makeDirectory(folder)
        let path = "\(folder)/.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError.current(path) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw CheckpointError.folderInUse(path: folder, holder: holder.flatMap { $0.isEmpty ? nil : $0 } ?? "another process")
        }
        let holder = "host \(ProcessInfo.processInfo.hostName), pid \(getpid())\n"
        guard ftruncate(descriptor, 0) == 0,
              holder.withCString({ write(descriptor, $0, strlen($0)) }) == holder.utf8.count else {
            let error = FileSystemError.current(path)
            close(descriptor)
            throw error
        }
        self.folder = folder
        self.descriptor = descriptor
        removeLeftovers()
    }

    /// Removes what a run killed while saving left behind (`.step-<N>.partial` folders, links
    /// being swapped in): with the lock held, nothing else is writing them.
    private func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names where (name.hasPrefix(".step-") && name.hasSuffix(".partial")) || name.hasPrefix(".latest-") || name.hasPrefix(".best-") {
            FileSystem.remove("\(folder)/\(name)")
        }
    }

    deinit { close(descriptor) }
}
