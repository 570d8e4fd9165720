import CZlib
import Foundation

/// A gzip file inflated on a thread of its own, one chunk ahead of its reader: while the reader
/// parses chunk i, the thread inflates chunk i + 1 into the other of two buffers (semaphores
/// hand them over). Inflating costs about as much as parsing, so on two cores a .gz file is read
/// nearly as fast as a plain one.
final class BackgroundInflater: @unchecked Sendable {
    private let path: String
    private let file: gzFile
    private let capacity: Int
    private let buffers: [UnsafeMutablePointer<UInt8>]
    /// Per buffer: the bytes inflated into it, and the compressed offset after them.
    private var filled = [0, 0]
    private var offsets = [0, 0]
    private var failure: DataError?
    private var stopping = false
    private let inflated = DispatchSemaphore(value: 0)
    private let emptied = DispatchSemaphore(value: 2)
    private let finished = DispatchSemaphore(value: 0)
    private var readIndex = 0
    /// Compressed bytes consumed by the chunks handed to the reader.
    private(set) var position = 0

    init(path: String, capacity: Int) throws {
        guard let file = gzopen(path, "rb") else { throw DataError("\(path): cannot open") }
        gzbuffer(file, 1 << 20)
        self.path = path
        self.file = file
        self.capacity = capacity
        buffers = [.allocate(capacity: capacity), .allocate(capacity: capacity)]
        Thread { [self] in inflateAll() }.start()
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    private func inflateAll() {
        var index = 0
        while true {
            emptied.wait()
            if stopping { break }
            let got = gzread(file, buffers[index], UInt32(capacity))
            if got <= 0 {
                // zlib reports a stream that ends inside compressed data as Z_BUF_ERROR.
                var code: Int32 = 0
                _ = gzerror(file, &code)
                if code == Z_BUF_ERROR {
                    failure = DataError("\(path): truncated gzip stream (the file ends inside compressed data)")
                } else if got < 0 || code != Z_OK {
                    failure = DataError("\(path): corrupt gzip data")
                }
            }
            filled[index] = max(Int(got), 0)
            offsets[index] = Int(gzoffset(file))
            inflated.signal()
            if got <= 0 { break }
            index ^= 1
        }
        finished.signal()
    }

    /// Copies the next inflated chunk into `destination`; 0 at the end of the file.
    func next(into destination: UnsafeMutablePointer<UInt8>, capacity: Int) throws -> Int {
        precondition(capacity >= self.capacity, "BackgroundInflater: a chunk does not fit")
        inflated.wait()
        let got = filled[readIndex]
        if got == 0, let failure {
            inflated.signal()  // the end stays visible to another call
            throw failure
        }
        if got == 0 {
            inflated.signal()
            return 0
        }
        destination.update(from: buffers[readIndex], count: got)
        position = offsets[readIndex]
        readIndex ^= 1
        emptied.signal()
        return got
    }

    /// Stops the thread (waiting for the chunk it is inflating) and closes the file.
    func close() {
        stopping = true
        emptied.signal()
        finished.wait()
        gzclose(file)
    }
}
