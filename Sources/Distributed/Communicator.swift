import Compute

/// Errors from collective communication; each names the MPI call and the rank.
public struct CommunicationError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let code: Int32
    public let rank: Int

    public init(call: String, code: Int32, rank: Int) {
        self.call = call
        self.code = code
        self.rank = rank
    }

    public var description: String { "rank \(rank): \(call) failed with MPI error code \(code)" }
}

/// The group of processes that train together: rank, size and the collectives the trainer
/// uses. It is a value passed in, never a global. `MPICommunicator` spans the ranks of an MPI
/// job (a plain run is an MPI singleton of size 1); `LocalCommunicator` is one process with no
/// MPI at all. Either way there is one code path: with one rank every collective is a copy.
///
/// Payloads (parameters, gradients, embedding rows) are backend buffers, so that a device
/// backend's communicator can move device memory (NCCL, CUDA-aware MPI); over MPI on host memory,
/// a backend whose memory the host cannot address is staged through host copies. Metadata
/// (counts, row ids, losses) is host memory. Counts and offsets of the `-V` collectives are in
/// elements, one entry per rank.
public protocol Communicator: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }

    func barrier() throws
    /// Copies `values` from `root` to every rank.
    func broadcast(_ values: DeviceSlice<Float>, root: Int) throws
    /// Sums `values` over all ranks, in place.
    func allReduceSum(_ values: DeviceSlice<Float>) throws
    /// Element-wise sums of small vectors of doubles (losses, counts).
    func allReduceSum(_ values: [Double]) throws -> [Double]
    func allReduceMax(_ values: [Double]) throws -> [Double]
    func allReduceMin(_ values: [Double]) throws -> [Double]
    /// Each rank sends `values[r]` to rank r; returns what every rank sent to this one.
    func allToAll(_ values: [Int32]) throws -> [Int32]
    func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                   receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
    func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                   receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
    /// The same for 16-bit floats (bit patterns): rows and row gradients in reduced precision.
    func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                   receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
    /// Starts `allToAllV` of Int32s and returns without waiting for it: `send` and `receive`
    /// stay untouched by the caller until the exchange's `wait` returns. Every rank starts it at
    /// the same point among its collectives; others may run before the wait. Communicators
    /// without non-blocking collectives complete it before returning (the default).
    func startAllToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                        receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange
    /// Starts `allToAllV` of floats (the rows of an embedding lookup) and returns without waiting:
    /// `send` and `receive` stay untouched by the caller until `wait` returns. A communicator
    /// that cannot leave the exchange in flight (the default; memory the host cannot address)
    /// completes it before returning.
    func startAllToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                        receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws -> PendingExchange
    /// Gathers every rank's `send` into host memory `receive` on `root`, rank after rank.
    func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?,
                 receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws
    /// The same for Int32s (`send` may be nil when `count` is 0).
    func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?,
                 receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws
    /// Sends a few doubles to rank `destination` without waiting for them to be received:
    /// reports (progress) outside the collectives. Posts from one rank to another arrive in order.
    func post(_ values: [Double], to destination: Int) throws
    /// The next post to this rank and its sender: nil when none has arrived, unless `wait`,
    /// which waits for one.
    func nextPost(wait: Bool) throws -> (source: Int, values: [Double])?
    /// Waits until every post of this rank has been taken by its receiver.
    func completePosts() throws
    /// Ends every rank of the job: a failing rank must never leave the others waiting.
    func abort(code: Int32) -> Never
}

/// How the ranks of a GPU backend move device memory: NCCL (a GPU of its own per rank), MPI over
/// host copies of it (any MPI, any number of ranks per GPU), or MPI given the device memory as
/// it is (an MPI built with CUDA support).
public enum DeviceTransport: String, Codable, Sendable, CaseIterable {
    case nccl, mpi
    case cudaAwareMPI = "cuda_aware_mpi"
}

/// An exchange started by `startAllToAllV`: `wait` returns once its data has arrived.
public protocol PendingExchange: AnyObject {
    func wait() throws
}

/// An exchange that completed when it was started.
public final class CompletedExchange: PendingExchange {
    public init() {}
    public func wait() {}
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }

    public func startAllToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        try allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                      receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        return CompletedExchange()
    }

    public func startAllToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        try allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                      receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        return CompletedExchange()
    }

    /// Every rank's `values` (any length, empty included), on `root` in rank order; empty on
    /// the other ranks. For small metadata (host names, the row blocks of a checkpoint).
    public func gather(_ values: [Int32], root: Int = 0) throws -> [[Int32]] {
        let isReceiver = rank == root
        var counts = [Int32](repeating: 0, count: size)
        try [Int32(values.count)].withUnsafeBufferPointer { mine in
            try counts.withUnsafeMutableBufferPointer { all in
                try gatherV(send: mine.baseAddress, count: 1, receive: isReceiver ? all.baseAddress : nil,
                            receiveCounts: Array(repeating: 1, count: size), receiveOffsets: (0..<size).map { Int32($0) }, root: root)
            }
        }
        let starts = offsets(of: counts)
        var received = [Int32](repeating: 0, count: isReceiver ? Int(counts.reduce(0, +)) : 0)
        try values.withUnsafeBufferPointer { mine in
            try received.withUnsafeMutableBufferPointer { all in
                try gatherV(send: mine.baseAddress, count: values.count, receive: isReceiver ? all.baseAddress : nil,
                            receiveCounts: counts, receiveOffsets: starts, root: root)
            }
        }
        guard isReceiver else { return [] }
        return (0..<size).map { Array(received[Int(starts[$0])..<Int(starts[$0] + counts[$0])]) }
    }
}

/// Exclusive prefix sums: the offsets of consecutive blocks of the given counts.
public func offsets(of counts: [Int32]) -> [Int32] {
    var result = [Int32](repeating: 0, count: counts.count)
    writeOffsets(of: counts, into: &result)
    return result
}

/// `offsets(of:)` written into an existing array of the same length (no allocation).
public func writeOffsets(of counts: [Int32], into result: inout [Int32]) {
    var running: Int32 = 0
    for r in counts.indices {
        result[r] = running
        running += counts[r]
    }
}

extension Communicator {
    /// Every rank's `send` (`counts[r]` values from rank r) in `receive`, in rank order, on every
    /// rank: an all-to-all that sends each rank the same block.
    public func allGatherV(send: DeviceSlice<Float>, counts: [Int32], receive: DeviceSlice<Float>) throws {
        try allToAllV(send: send, sendCounts: counts.map { _ in counts[rank] }, sendOffsets: counts.map { _ in 0 },
                      receive: receive, receiveCounts: counts, receiveOffsets: offsets(of: counts))
    }

    /// The same for Int32s in host memory.
    public func allGatherV(send: UnsafePointer<Int32>, counts: [Int32], receive: UnsafeMutablePointer<Int32>) throws {
        try allToAllV(send: send, sendCounts: counts.map { _ in counts[rank] }, sendOffsets: counts.map { _ in 0 },
                      receive: receive, receiveCounts: counts, receiveOffsets: offsets(of: counts))
    }
}
