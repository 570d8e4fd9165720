import CZlib
import Foundation

/// Reads a text file line by line as raw bytes, plain or gzip-compressed (by its `.gz` name),
/// in large chunks, without making a `String` per line. Lines end with LF; a CR before it
/// (CRLF) is dropped; a last line without LF is still a line.
///
/// A plain file can be read in part: the lines that start within a byte range (a line starts at
/// byte 0 or after an LF), so ranges that tile a file read each line exactly once.
public final class LineReader {
    public let path: String
    private let chunkSize: Int
    /// The bytes whose lines are read (nil: the whole file).
    public let byteRange: Range<Int>?
    /// Told the file bytes (compressed bytes for .gz) and lines each chunk consumed.
    public var progress: ReadProgress?

    public init(path: String, chunkSize: Int = 4 << 20, byteRange: Range<Int>? = nil) throws {
        try RegularFile.check(path)
        precondition(byteRange == nil || !path.hasSuffix(".gz"), "LineReader: a gzip file is read whole")
        self.path = path
        self.chunkSize = chunkSize
        self.byteRange = byteRange
    }

    public var isCompressed: Bool { path.hasSuffix(".gz") }

    /// The file's size on disk.
    public var sizeInBytes: Int { ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0 }

    /// Calls `body` with each line (without its line ending) and its 1-based number (counted
    /// from the first line of the byte range).
    public func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
        defer { buffer.deallocate() }
        var carry: [UInt8] = []  // a line split across two chunks
        var lineNumber = 0
        let read = try makeReader()
        defer { read.close() }
        // With a range: skip to the first line starting in it; stop after the last one.
        var skipping = (byteRange?.lowerBound ?? 0) > 0
        var lineStart = byteRange?.lowerBound ?? 0  // file offset of the line being assembled
        let end = byteRange?.upperBound ?? .max
        var finished = false

        func emit(_ start: UnsafePointer<UInt8>, _ count: Int) throws {
            lineNumber += 1
            var length = count
            if length > 0 && start[length - 1] == 13 { length -= 1 }
            try body(UnsafeBufferPointer(start: start, count: length), lineNumber)
        }

        var chunkOffset = byteRange.map { max($0.lowerBound - 1, 0) } ?? 0  // file offset of buffer[0]
        // Progress counts the bytes of the range only (a read starts before it and ends past it).
        var reported = (bytes: byteRange?.lowerBound ?? 0, lines: 0)
        func report() {
            let position = min(read.position(), end)
            progress?.advance(bytes: max(position - reported.bytes, 0), lines: lineNumber - reported.lines)
            reported = (max(position, reported.bytes), lineNumber)
        }
        defer { report() }
        while !finished {
            let got = try read.next(buffer, chunkSize)
            if got == 0 { break }
            report()
            var start = 0
            while let newline = memchr(buffer + start, 10, got - start) {
                let stop = newline.assumingMemoryBound(to: UInt8.self) - buffer
                if skipping {
                    // The byte before the range was read too: a line starts after the first LF.
                    skipping = false
                } else if carry.isEmpty {
                    try emit(buffer + start, stop - start)
                } else {
                    carry.append(contentsOf: UnsafeBufferPointer(start: buffer + start, count: stop - start))
                    try carry.withUnsafeBufferPointer { try emit($0.baseAddress!, $0.count) }
                    carry.removeAll(keepingCapacity: true)
                }
                start = stop + 1
                lineStart = chunkOffset + start
                if lineStart >= end { finished = true; break }
            }
            if finished { break }
            if !skipping { carry.append(contentsOf: UnsafeBufferPointer(start: buffer + start, count: got - start)) }
            chunkOffset += got
        }
        if !finished && !carry.isEmpty && lineStart < end { try carry.withUnsafeBufferPointer { try emit($0.baseAddress!, $0.count) } }
    }

    private struct ChunkSource {
        let next: (UnsafeMutablePointer<UInt8>, Int) throws -> Int
        /// Bytes of the file consumed so far.
        let position: () -> Int
        let close: () -> Void
    }

    private func makeReader() throws -> ChunkSource {
        let path = self.path
        if isCompressed {
            let inflater = try BackgroundInflater(path: path, capacity: chunkSize)
            return ChunkSource(next: { try inflater.next(into: $0, capacity: $1) }, position: { inflater.position },
                               close: { inflater.close() })
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw DataError("\(path): cannot open") }
        if let byteRange, byteRange.lowerBound > 0 { lseek(descriptor, off_t(byteRange.lowerBound - 1), SEEK_SET) }
        return ChunkSource(next: { buffer, capacity in
            let got = Foundation.read(descriptor, buffer, capacity)
            if got < 0 { throw DataError("\(path): read failed") }
            return got
        }, position: { Int(lseek(descriptor, 0, SEEK_CUR)) }, close: { Foundation.close(descriptor) })
    }
}
