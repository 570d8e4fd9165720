import Foundation

/// A file-system failure in one line: the path and the system's reason ("No space left on
/// device", "Not a directory", "Permission denied").
public struct FileSystemError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }

    /// The failure `errno` describes now.
    static func current(_ path: String) -> FileSystemError {
        FileSystemError(path: path, reason: String(cString: strerror(errno)))
    }

    /// A Foundation error as one line: the path it names (else `path`) and its underlying
    /// POSIX reason when it has one.
    public static func from(_ error: Error, path: String) -> FileSystemError {
        if let error = error as? FileSystemError { return error }
        let nsError = error as NSError
        let path = nsError.userInfo[NSFilePathErrorKey] as? String ?? path
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return FileSystemError(path: path, reason: String(cString: strerror(underlying.code.rawValue)))
        }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return FileSystemError(path: path, reason: String(cString: strerror(Int32(underlying.code))))
        }
        if nsError.domain == NSPOSIXErrorDomain { return FileSystemError(path: path, reason: String(cString: strerror(Int32(nsError.code)))) }
        return FileSystemError(path: path, reason: nsError.localizedDescription)
    }
}

/// The few file-system calls checkpoints and run records make, each failing with a
/// `FileSystemError`.
public enum FileSystem {
    /// Refuses a path whose folder does not exist or is no folder: a typo in an output path is
    /// an error, not a new tree of folders.
    public static func requireParentFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        guard !folder.isEmpty else { return }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            throw FileSystemError(path: folder, reason: "no such folder (create it first)")
        }
        guard isFolder.boolValue else { throw FileSystemError(path: folder, reason: "not a folder") }
    }

    /// Creates `path` and the folders above it where missing (mkdir -p).
    public static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw FileSystemError.current(prefix) }
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw FileSystemError.current(path) }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw FileSystemError(path: path, reason: String(cString: strerror(ENOTDIR))) }
    }

    /// Renames `source` to `destination` (atomic within one file system).
    static func rename(_ source: String, to destination: String) throws {
        guard Foundation.rename(source, destination) == 0 else { throw FileSystemError.current(destination) }
    }

    /// Puts the folder `source` at `destination`, replacing what is there (rank 0 of a job, or
    /// one process): a missing destination is a rename; an existing one is swapped with the
    /// source in one step (`renameat2` with `RENAME_EXCHANGE`) and then removed, so a crash
    /// leaves the old folder or the new one at `destination`, never neither. Where the file
    /// system cannot swap, the old folder is moved aside first and removed last.
    public static func replaceDirectory(_ destination: String, with source: String) throws {
        guard FileManager.default.fileExists(atPath: destination) else { return try rename(source, to: destination) }
        if try exchange(source, destination) {
            remove(source)
            return
        }
        let aside = "\(destination).replaced-\(getpid())"
        try rename(destination, to: aside)
        try rename(source, to: destination)
        remove(aside)
    }

    /// Swaps two paths atomically; false where this kernel or file system cannot.
    static func exchange(_ first: String, _ second: String) throws -> Bool {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        // glibc declares renameat2 only under _GNU_SOURCE, which Swift's Glibc module lacks.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        let renameExchange: UInt32 = 2  // RENAME_EXCHANGE
        guard renameat2(AT_FDCWD, first, AT_FDCWD, second, renameExchange) == 0 else {
            if errno == EINVAL || errno == ENOSYS || errno == ENOTSUP { return false }
            throw FileSystemError.current(second)
        }
        return true
    }

    /// Removes a file or a folder with everything in it; a missing path is no error.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Bytes free to an unprivileged writer on the file system holding `path`.
    static func freeBytes(at path: String) throws -> Int {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { throw FileSystemError.current(path) }
        return Int(status.f_bavail) * Int(status.f_frsize)
    }
}
