import CNCCL
import Compute
import Distributed
import Foundation

/// A communicator whose collectives on GPU memory run on NCCL (libnccl, opened with dlopen):
/// the gradient buckets' all-reduce, the rows' all-to-all as grouped sends and receives, and
/// broadcast. Everything else (host metadata, posts, barriers, aborts) and payloads in host
/// memory go to the MPI communicator it wraps. NCCL's communicator is made at the first device
/// collective (every rank reaches it at the same point), its unique id sent over MPI.
public final class NCCLCommunicator: Communicator, @unchecked Sendable {
    private typealias Status = Int32
    private typealias GetUniqueId = @convention(c) (UnsafeMutablePointer<ncclUniqueId>) -> Status
    private typealias ErrorString = @convention(c) (Status) -> UnsafePointer<CChar>?
    private typealias AllReduce = @convention(c) (UInt64, UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> Status
    private typealias Broadcast = @convention(c) (UInt64, UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> Status
    private typealias Transfer = @convention(c) (UInt64, Int, Int32, Int32, OpaquePointer?, OpaquePointer?) -> Status
    private typealias Group = @convention(c) () -> Status
    private typealias Destroy = @convention(c) (OpaquePointer?) -> Status

    private enum DataType: Int32 {
        case float16 = 6, float32 = 7
    }

    private let base: Communicator
    public let library: CUDALibrary
    private let getUniqueId: GetUniqueId, initRank: recsys_nccl_comm_init_rank, errorString: ErrorString
    private let allReduce: AllReduce, broadcastCall: Broadcast, send: Transfer, receive: Transfer
    private let groupStart: Group, groupEnd: Group, destroy: Destroy
    private var communicator: OpaquePointer?

    public var rank: Int { base.rank }
    public var size: Int { base.size }

    /// NCCL over the ranks of `base`.
    public init(wrapping base: Communicator, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.base = base
        library = try CUDALibrary.open(["libnccl.so.2", "libnccl.so"], purpose: "NCCL", emulated: true, environment: environment)
        getUniqueId = try library.symbol("ncclGetUniqueId", as: GetUniqueId.self)
        initRank = try library.symbol("ncclCommInitRank", as: recsys_nccl_comm_init_rank.self)
        errorString = try library.symbol("ncclGetErrorString", as: ErrorString.self)
        allReduce = try library.symbol("ncclAllReduce", as: AllReduce.self)
        broadcastCall = try library.symbol("ncclBroadcast", as: Broadcast.self)
        send = try library.symbol("ncclSend", as: Transfer.self)
        receive = try library.symbol("ncclRecv", as: Transfer.self)
        groupStart = try library.symbol("ncclGroupStart", as: Group.self)
        groupEnd = try library.symbol("ncclGroupEnd", as: Group.self)
        destroy = try library.symbol("ncclCommDestroy", as: Destroy.self)
    }

    deinit { if let communicator { _ = destroy(communicator) } }

    private func check(_ status: Status, _ call: String) throws {
        guard status != 0 else { return }
        let words = errorString(status).map { String(cString: $0) } ?? "error \(status)"
        throw CommunicationError(call: "\(call) (NCCL: \(words); NCCL needs a GPU of its own per rank, "
                                     + "else set distributed.device_transport: mpi)", code: status, rank: rank)
    }

    /// NCCL's communicator, made by every rank together at the first device collective.
    private func nccl(on backend: CUDABackend) throws -> OpaquePointer? {
        try backend.device.makeCurrent()
        if let communicator { return communicator }
        var id = ncclUniqueId()
        if rank == 0 { try check(getUniqueId(&id), "ncclGetUniqueId") }
        // The id's 128 bytes from rank 0 to every rank, as exact small integers in doubles.
        let bytes = withUnsafeBytes(of: &id.internal) { Array($0) }
        let shared = try base.allReduceSum(bytes.map { rank == 0 ? Double($0) : 0 })
        withUnsafeMutableBytes(of: &id.internal) { raw in for i in raw.indices { raw[i] = UInt8(shared[i]) } }
        var made: UnsafeMutableRawPointer?
        try check(initRank(&made, Int32(size), id, Int32(rank)), "ncclCommInitRank")
        communicator = OpaquePointer(made)
        return communicator
    }

    /// The GPU backend holding `slice`, nil for host memory (which goes to MPI).
    private func device<Element>(_ slice: DeviceSlice<Element>) -> CUDABackend? { slice.backend as? CUDABackend }

    public func broadcast(_ values: DeviceSlice<Float>, root: Int) throws {
        guard let backend = device(values), size > 1 else { return try base.broadcast(values, root: root) }
        let address = backend.address(values)
        try check(broadcastCall(address.value, address.value, values.count, DataType.float32.rawValue, Int32(root), try nccl(on: backend), nil),
                  "ncclBroadcast")
        backend.synchronize()
    }

    public func allReduceSum(_ values: DeviceSlice<Float>) throws {
        guard let backend = device(values), size > 1 else { return try base.allReduceSum(values) }
        let address = backend.address(values)
        try check(allReduce(address.value, address.value, values.count, DataType.float32.rawValue, 0, try nccl(on: backend), nil), "ncclAllReduce")
        backend.synchronize()
    }

    public func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        guard try exchange(send, sendCounts, sendOffsets, receive, receiveCounts, receiveOffsets, type: .float32) else {
            return try base.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                      receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
    }

    public func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        guard try exchange(send, sendCounts, sendOffsets, receive, receiveCounts, receiveOffsets, type: .float16) else {
            return try base.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                      receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
    }

    /// An all-to-all of GPU memory as one group of sends and receives (a rank's block to itself
    /// included); false, doing nothing, for host memory or a single rank (MPI's then).
    private func exchange<Element>(_ sent: DeviceSlice<Element>, _ sendCounts: [Int32], _ sendOffsets: [Int32],
                                   _ received: DeviceSlice<Element>, _ receiveCounts: [Int32], _ receiveOffsets: [Int32],
                                   type: DataType) throws -> Bool {
        guard let backend = device(sent), size > 1 else { return false }
        let sendBase = backend.address(sent), receiveBase = backend.address(received), elementBytes = MemoryLayout<Element>.stride
        let communicator = try nccl(on: backend)
        try check(groupStart(), "ncclGroupStart")
        for peer in 0..<size {
            if sendCounts[peer] > 0 {
                try check(send(sendBase.advanced(by: Int(sendOffsets[peer]) * elementBytes).value, Int(sendCounts[peer]), type.rawValue,
                               Int32(peer), communicator, nil), "ncclSend")
            }
            if receiveCounts[peer] > 0 {
                try check(receive(receiveBase.advanced(by: Int(receiveOffsets[peer]) * elementBytes).value, Int(receiveCounts[peer]),
                                  type.rawValue, Int32(peer), communicator, nil), "ncclRecv")
            }
        }
        try check(groupEnd(), "ncclGroupEnd")
        backend.synchronize()
        return true
    }

    // MARK: Host memory and control: the MPI communicator

    public func barrier() throws { try base.barrier() }
    public func allReduceSum(_ values: [Double]) throws -> [Double] { try base.allReduceSum(values) }
    public func allReduceMax(_ values: [Double]) throws -> [Double] { try base.allReduceMax(values) }
    public func allReduceMin(_ values: [Double]) throws -> [Double] { try base.allReduceMin(values) }
    public func allToAll(_ values: [Int32]) throws -> [Int32] { try base.allToAll(values) }

    public func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try base.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive, receiveCounts: receiveCounts,
                           receiveOffsets: receiveOffsets)
    }

    public func startAllToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        try base.startAllToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
    }

    public func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?, receiveCounts: [Int32], receiveOffsets: [Int32],
                        root: Int) throws {
        try base.gatherV(send: send, receive: receive, receiveCounts: receiveCounts, receiveOffsets: receiveOffsets, root: root)
    }

    public func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?, receiveCounts: [Int32],
                        receiveOffsets: [Int32], root: Int) throws {
        try base.gatherV(send: send, count: count, receive: receive, receiveCounts: receiveCounts, receiveOffsets: receiveOffsets,
                         root: root)
    }

    public func post(_ values: [Double], to destination: Int) throws { try base.post(values, to: destination) }
    public func nextPost(wait: Bool) throws -> (source: Int, values: [Double])? { try base.nextPost(wait: wait) }
    public func completePosts() throws { try base.completePosts() }
    public func abort(code: Int32) -> Never { base.abort(code: code) }
}
