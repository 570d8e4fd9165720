import Compute
import Dispatch

/// A communicator that forwards every call to another and adds up the seconds spent in each
/// kind of collective, for benchmarks: all-to-all (the embedding exchange) and all-reduce (the
/// dense gradient sync).
public final class InstrumentedCommunicator: Communicator, @unchecked Sendable {
    public let wrapped: Communicator
    public private(set) var allToAllSeconds = 0.0
    public private(set) var allReduceSeconds = 0.0
    public private(set) var allReducedBytes = 0

    public init(wrapping communicator: Communicator) { wrapped = communicator }

    public var rank: Int { wrapped.rank }
    public var size: Int { wrapped.size }

    public func resetCounters() {
        allToAllSeconds = 0
        allReduceSeconds = 0
        allReducedBytes = 0
    }

    private func timed<T>(_ counter: ReferenceWritableKeyPath<InstrumentedCommunicator, Double>, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { self[keyPath: counter] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    public func barrier() throws { try wrapped.barrier() }
    public func broadcast(_ values: DeviceSlice<Float>, root: Int) throws { try wrapped.broadcast(values, root: root) }
    public func allReduceSum(_ values: DeviceSlice<Float>) throws {
        allReducedBytes += 4 * values.count
        try timed(\.allReduceSeconds) { try wrapped.allReduceSum(values) }
    }
    public func allReduceSum(_ values: [Double]) throws -> [Double] { try wrapped.allReduceSum(values) }
    public func allReduceMax(_ values: [Double]) throws -> [Double] { try wrapped.allReduceMax(values) }
    public func allReduceMin(_ values: [Double]) throws -> [Double] { try wrapped.allReduceMin(values) }
    public func allToAll(_ values: [Int32]) throws -> [Int32] { try timed(\.allToAllSeconds) { try wrapped.allToAll(values) } }
    public func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try timed(\.allToAllSeconds) {
            try wrapped.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                  receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
    }
    /// The start and the wait both count as all-to-all time: what the caller waits for.
    public func startAllToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        let pending = try timed(\.allToAllSeconds) {
            try wrapped.startAllToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                       receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        return TimedExchange(pending, counter: self)
    }

    /// A pending exchange whose wait adds to its communicator's all-to-all time.
    private final class TimedExchange: PendingExchange {
        let pending: PendingExchange
        unowned let counter: InstrumentedCommunicator
        init(_ pending: PendingExchange, counter: InstrumentedCommunicator) {
            self.pending = pending
            self.counter = counter
        }
        func wait() throws { try counter.timed(\.allToAllSeconds) { try pending.wait() } }
    }

    public func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try timed(\.allToAllSeconds) {
            try wrapped.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                  receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
    }

    public func startAllToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        let pending = try timed(\.allToAllSeconds) {
            try wrapped.startAllToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                       receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        return TimedExchange(pending, counter: self)
    }

    public func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try timed(\.allToAllSeconds) {
            try wrapped.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                  receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
    }
    public func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        try wrapped.gatherV(send: send, receive: receive, receiveCounts: receiveCounts,
                            receiveOffsets: receiveOffsets, root: root)
    }
    public func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        try wrapped.gatherV(send: send, count: count, receive: receive, receiveCounts: receiveCounts,
                            receiveOffsets: receiveOffsets, root: root)
    }
    public func post(_ values: [Double], to destination: Int) throws { try wrapped.post(values, to: destination) }
    public func nextPost(wait: Bool) throws -> (source: Int, values: [Double])? { try wrapped.nextPost(wait: wait) }
    public func completePosts() throws { try wrapped.completePosts() }
    public func abort(code: Int32) -> Never { wrapped.abort(code: code) }
}
