import CZlib
import Foundation

/// Writes bytes to a file, plain or gzip (zlib's gz stream at level 1), in blocks; the file
/// appears under its name only when `finish()` succeeds (written aside and renamed).
public final class ClickLogFileWriter {
    public let path: String
    private let temporaryPath: String
    private var handle: FileHandle?
    private var compressed: gzFile?
    private var finished = false
    public private(set) var bytesWritten = 0

    public init(path: String) throws {
        self.path = path
        temporaryPath = path + ".partial"
        if path.hasSuffix(".gz") {
            guard let file = gzopen(temporaryPath, "wb1") else { throw DataError("\(path): cannot create") }
            compressed = file
        } else {
            guard FileManager.default.createFile(atPath: temporaryPath, contents: nil),
                  let handle = FileHandle(forWritingAtPath: temporaryPath) else { throw DataError("\(path): cannot create") }
            self.handle = handle
        }
    }

    /// Writes `bytes` (uncompressed; counted in `bytesWritten`).
    public func write(_ bytes: [UInt8]) throws {
        if let compressed {
            let written = bytes.withUnsafeBytes { gzwrite(compressed, $0.baseAddress, UInt32($0.count)) }
            guard written == Int32(bytes.count) else { throw DataError("\(path): write failed (disk full?)") }
        } else {
            try handle!.write(contentsOf: bytes)
        }
        bytesWritten += bytes.count
    }

    /// Flushes, closes and renames the file into place.
    public func finish() throws {
        if let compressed {
            self.compressed = nil
            guard gzclose(compressed) == Z_OK else { throw DataError("\(path): closing the gzip stream failed") }
        } else {
            try handle!.synchronize()
            try handle!.close()
            handle = nil
        }
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporaryPath, toPath: path)
        finished = true
    }

    deinit {
        guard !finished else { return }
        if let compressed { gzclose(compressed) }
        try? handle?.close()
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }
}
