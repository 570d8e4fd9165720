import Foundation

/// Data files are regular files: a pipe, socket or device would block the open or the read
/// (a FIFO with no writer, forever) and cannot be read twice, so each is refused by name first.
public enum RegularFile {
    public static func check(_ path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { throw DataError("\(path): no such file") }
        guard status.st_mode & S_IFMT != S_IFDIR else { throw DataError("\(path): a folder, not a data file") }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw DataError("\(path): not a regular file (a pipe, socket or device); give a file")
        }
    }
}
