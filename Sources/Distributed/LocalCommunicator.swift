import Compute
#if canImport(Glibc)
import Glibc
#endif

/// One process, no MPI: every collective over a group of one is a copy (or nothing).
public final class LocalCommunicator: Communicator, @unchecked Sendable {
    public let rank = 0
    public let size = 1

    public init() {}

    public func barrier() throws {}
    public func broadcast(_ values: DeviceSlice<Float>, root: Int) throws {}
    public func allReduceSum(_ values: DeviceSlice<Float>) throws {}
    public func allReduceSum(_ values: [Double]) throws -> [Double] { values }
    public func allReduceMax(_ values: [Double]) throws -> [Double] { values }
    public func allReduceMin(_ values: [Double]) throws -> [Double] { values }
    public func allToAll(_ values: [Int32]) throws -> [Int32] { values }

    public func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        (receive + Int(receiveOffsets[0])).update(from: send + Int(sendOffsets[0]), count: Int(sendCounts[0]))
    }

    public func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        send.backend.copy(send.slice(Int(sendOffsets[0]), Int(sendCounts[0])),
                          to: receive.slice(Int(receiveOffsets[0]), Int(sendCounts[0])))
    }

    public func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        let values = send.slice(Int(sendOffsets[0]), Int(sendCounts[0])).toArray()
        receive.slice(Int(receiveOffsets[0]), values.count).copy(from: values)
    }

    public func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        guard let receive else { return }
        send.backend.download(send, into: UnsafeMutableBufferPointer(start: receive + Int(receiveOffsets[0]), count: send.count))
    }

    public func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        guard let send, let receive else { return }
        (receive + Int(receiveOffsets[0])).update(from: send, count: count)
    }

    private var posts: [[Double]] = []

    public func post(_ values: [Double], to destination: Int) throws {
        precondition(destination == 0, "post: a group of one has rank 0 only")
        posts.append(values)
    }

    public func nextPost(wait: Bool) throws -> (source: Int, values: [Double])? {
        precondition(!posts.isEmpty || !wait, "nextPost: waiting for a post no one will send")
        return posts.isEmpty ? nil : (0, posts.removeFirst())
    }

    public func completePosts() throws {}

    public func abort(code: Int32) -> Never { exit(code) }
}
