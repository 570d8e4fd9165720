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

    /// Removes a file or a folder with everything in it; a missing path is no error.
    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Bytes free to an unprivileged writer on the file system holding `path`.
    static func freeBytes(at path: String) throws -> Int {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { throw FileSystemError.current(path) }
        return Int(status.f_bavail) * Int(status.f_frsize)
    }
}
