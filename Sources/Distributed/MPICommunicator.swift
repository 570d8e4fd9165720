import Compute
import CMPI

/// The ranks of an MPI job (COMM_WORLD). Every call's result is checked: MPI returns errors
/// instead of aborting, and each becomes a `CommunicationError` naming the call and the rank.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let communicator: MPI_Comm

    /// Initialises MPI (once per process) and wraps COMM_WORLD. Without mpirun this is an MPI
    /// singleton of size 1.
    public static func world() throws -> MPICommunicator {
        var initialised: Int32 = 0
        MPI_Initialized(&initialised)
        if initialised == 0 {
            var provided: Int32 = 0
            let code = MPI_Init_thread(nil, nil, recsys_mpi_thread_funneled(), &provided)
            guard code == recsys_mpi_success() else { throw CommunicationError(call: "MPI_Init_thread", code: code, rank: -1) }
        }
        guard let world = recsys_mpi_comm_world() else {
            throw CommunicationError(call: "MPI_COMM_WORLD", code: -1, rank: -1)
        }
        MPI_Comm_set_errhandler(world, recsys_mpi_errors_return())
        return MPICommunicator(world)
    }

    private init(_ communicator: MPI_Comm) {
        self.communicator = communicator
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(communicator, &rank)
        MPI_Comm_size(communicator, &size)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Shuts MPI down at the end of a run.
    public static func finalize() {
        var initialised: Int32 = 0, finalised: Int32 = 0
        MPI_Initialized(&initialised)
        MPI_Finalized(&finalised)
        if initialised != 0 && finalised == 0 { MPI_Finalize() }
    }

    /// Whether MPI is given a GPU's device memory as it is (a CUDA-aware MPI:
    /// `distributed.device_transport: cuda_aware_mpi`) instead of host copies of it.
    public var passesDeviceMemory = false

    /// `slice`'s memory for an MPI call: the device memory itself when `passesDeviceMemory` and
    /// the backend has a transport address (the device's work finished first), else host memory,
    /// in place or staged through a copy.
    private func withTransportMemory<Element: DeviceElement, Result>(
        _ slice: DeviceSlice<Element>, writesBack: Bool, _ body: (UnsafeMutableBufferPointer<Element>) throws -> Result
    ) throws -> Result {
        if passesDeviceMemory, slice.backend.hostAddress(of: slice) == nil, let address = slice.backend.transportAddress(of: slice) {
            slice.backend.synchronize()
            return try body(UnsafeMutableBufferPointer(start: address.assumingMemoryBound(to: Element.self), count: slice.count))
        }
        return try slice.withHostMemory(writesBack: writesBack, body)
    }

    private func check(_ code: Int32, _ call: String) throws {
        if code != recsys_mpi_success() { throw CommunicationError(call: call, code: code, rank: rank) }
    }

    public func barrier() throws { try check(MPI_Barrier(communicator), "MPI_Barrier") }

    public func broadcast(_ slice: DeviceSlice<Float>, root: Int) throws {
        try withTransportMemory(slice, writesBack: rank != root) { values in
            try forEachChunk(values.count) { offset, chunk in
                try check(MPI_Bcast(values.baseAddress! + offset, chunk, recsys_mpi_float(), Int32(root), communicator), "MPI_Bcast")
            }
        }
    }

    public func allReduceSum(_ slice: DeviceSlice<Float>) throws {
        try withTransportMemory(slice, writesBack: true) { values in
            try forEachChunk(values.count) { offset, chunk in
                try check(MPI_Allreduce(recsys_mpi_in_place(), values.baseAddress! + offset, chunk, recsys_mpi_float(),
                                        recsys_mpi_sum(), communicator), "MPI_Allreduce")
            }
        }
    }

    public func allReduceSum(_ values: [Double]) throws -> [Double] { try allReduce(values, recsys_mpi_sum(), "sum") }
    public func allReduceMax(_ values: [Double]) throws -> [Double] { try allReduce(values, recsys_mpi_max(), "max") }
    public func allReduceMin(_ values: [Double]) throws -> [Double] { try allReduce(values, recsys_mpi_min(), "min") }

    private func allReduce(_ values: [Double], _ operation: MPI_Op, _ name: String) throws -> [Double] {
        var result = values
        try result.withUnsafeMutableBufferPointer { buffer in
            try check(MPI_Allreduce(recsys_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), recsys_mpi_double(),
                                    operation, communicator), "MPI_Allreduce(\(name))")
        }
        return result
    }

    public func allToAll(_ values: [Int32]) throws -> [Int32] {
        precondition(values.count == size, "allToAll: one value per rank")
        var result = [Int32](repeating: 0, count: size)
        try values.withUnsafeBufferPointer { send in
            try result.withUnsafeMutableBufferPointer { receive in
                try check(MPI_Alltoall(send.baseAddress, 1, recsys_mpi_int32(), receive.baseAddress, 1, recsys_mpi_int32(),
                                       communicator), "MPI_Alltoall")
            }
        }
        return result
    }

    public func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try check(MPI_Alltoallv(send, sendCounts, sendOffsets, recsys_mpi_int32(),
                                receive, receiveCounts, receiveOffsets, recsys_mpi_int32(), communicator), "MPI_Alltoallv")
    }

    public func startAllToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        let exchange = MPIExchange(counts: [sendCounts, sendOffsets, receiveCounts, receiveOffsets], rank: rank)
        let n = size, counts = exchange.counts
        try check(MPI_Ialltoallv(send, counts, counts + n, recsys_mpi_int32(), receive, counts + 2 * n, counts + 3 * n,
                                 recsys_mpi_int32(), communicator, &exchange.request), "MPI_Ialltoallv")
        exchange.started = true
        return exchange
    }

    public func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try withTransportMemory(send, writesBack: false) { sent in
            try withTransportMemory(receive, writesBack: true) { received in
                try check(MPI_Alltoallv(sent.baseAddress, sendCounts, sendOffsets, recsys_mpi_float(), received.baseAddress,
                                        receiveCounts, receiveOffsets, recsys_mpi_float(), communicator), "MPI_Alltoallv")
            }
        }
    }

    /// In place over host memory (MPI_Ialltoallv); staged through host copies, and so
    /// completed at once, over memory the host cannot address.
    public func startAllToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                               receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
        -> PendingExchange {
        guard let sent = send.backend.hostAddress(of: send), let received = receive.backend.hostAddress(of: receive) else {
            try allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                          receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
            return CompletedExchange()
        }
        let exchange = MPIExchange(counts: [sendCounts, sendOffsets, receiveCounts, receiveOffsets], rank: rank)
        let n = size, counts = exchange.counts
        try check(MPI_Ialltoallv(sent, counts, counts + n, recsys_mpi_float(), received, counts + 2 * n, counts + 3 * n,
                                 recsys_mpi_float(), communicator, &exchange.request), "MPI_Ialltoallv")
        exchange.started = true
        return exchange
    }

    public func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        try withTransportMemory(send, writesBack: false) { sent in
            try withTransportMemory(receive, writesBack: true) { received in
                try check(MPI_Alltoallv(sent.baseAddress, sendCounts, sendOffsets, recsys_mpi_uint16(), received.baseAddress,
                                        receiveCounts, receiveOffsets, recsys_mpi_uint16(), communicator), "MPI_Alltoallv")
            }
        }
    }

    public func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        try withTransportMemory(send, writesBack: false) { sent in
            try check(MPI_Gatherv(sent.baseAddress, Int32(sent.count), recsys_mpi_float(), receive, receiveCounts,
                                  receiveOffsets, recsys_mpi_float(), Int32(root), communicator), "MPI_Gatherv")
        }
    }

    public func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        try check(MPI_Gatherv(send, Int32(count), recsys_mpi_int32(), receive, receiveCounts, receiveOffsets,
                              recsys_mpi_int32(), Int32(root), communicator), "MPI_Gatherv")
    }

    /// Posts in flight: each send's request and the buffer it reads, kept until it completes.
    private var pending: [(request: MPI_Request?, buffer: UnsafeMutablePointer<Double>)] = []
    /// The tag of posts, apart from anything else sent point to point.
    private static let postTag: Int32 = 4_242

    public func post(_ values: [Double], to destination: Int) throws {
        try completeSentPosts(waiting: false)
        let buffer = UnsafeMutablePointer<Double>.allocate(capacity: max(values.count, 1))
        buffer.initialize(from: values, count: values.count)
        var request: MPI_Request? = recsys_mpi_request_null()
        try check(MPI_Isend(buffer, Int32(values.count), recsys_mpi_double(), Int32(destination), Self.postTag, communicator, &request),
                  "MPI_Isend")
        pending.append((request, buffer))
    }

    public func nextPost(wait: Bool) throws -> (source: Int, values: [Double])? {
        var status = MPI_Status()
        if !wait {
            var arrived: Int32 = 0
            try check(MPI_Iprobe(recsys_mpi_any_source(), Self.postTag, communicator, &arrived, &status), "MPI_Iprobe")
            if arrived == 0 { return nil }
        } else {
            try check(MPI_Probe(recsys_mpi_any_source(), Self.postTag, communicator, &status), "MPI_Probe")
        }
        var count: Int32 = 0
        try check(MPI_Get_count(&status, recsys_mpi_double(), &count), "MPI_Get_count")
        var values = [Double](repeating: 0, count: Int(count))
        try values.withUnsafeMutableBufferPointer { buffer in
            var received = MPI_Status()
            try check(MPI_Recv(buffer.baseAddress, count, recsys_mpi_double(), status.MPI_SOURCE, Self.postTag, communicator, &received),
                      "MPI_Recv")
        }
        return (Int(status.MPI_SOURCE), values)
    }

    public func completePosts() throws { try completeSentPosts(waiting: true) }

    /// Frees the buffers of posts that have been sent (all of them, waiting, when `waiting`).
    private func completeSentPosts(waiting: Bool) throws {
        var index = 0
        while index < pending.count {
            var done: Int32 = 1
            var status = MPI_Status()
            if waiting {
                try check(MPI_Wait(&pending[index].request, &status), "MPI_Wait")
            } else {
                try check(MPI_Test(&pending[index].request, &done, &status), "MPI_Test")
            }
            if done != 0 {
                pending[index].buffer.deallocate()
                pending.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(communicator, code)
        fatalError("MPI_Abort returned")
    }

    /// MPI counts are Int32: buffers of 2^31 elements or more go in pieces.
    private func forEachChunk(_ count: Int, _ body: (Int, Int32) throws -> Void) throws {
        var offset = 0
        while offset < count {
            let chunk = min(count - offset, Int(Int32.max))
            try body(offset, Int32(chunk))
            offset += chunk
        }
    }
}

/// A non-blocking all-to-all in flight: its request, and the counts and offsets MPI reads until
/// it completes (they must outlive the call that started it).
private final class MPIExchange: PendingExchange {
    var request: MPI_Request? = recsys_mpi_request_null()
    /// The arrays one after another, in one allocation.
    let counts: UnsafeMutablePointer<Int32>
    var started = false
    private var completed = false
    private let rank: Int

    init(counts arrays: [[Int32]], rank: Int) {
        counts = .allocate(capacity: arrays.reduce(0) { $0 + $1.count })
        var next = counts
        for values in arrays {
            next.initialize(from: values, count: values.count)
            next += values.count
        }
        self.rank = rank
    }

    func wait() throws {
        guard started, !completed else { return }
        completed = true
        var status = MPI_Status()
        let code = MPI_Wait(&request, &status)
        if code != recsys_mpi_success() { throw CommunicationError(call: "MPI_Wait (MPI_Ialltoallv)", code: code, rank: rank) }
    }

    /// An exchange is never dropped unfinished: MPI would still write into its buffers.
    deinit {
        if started && !completed {
            var status = MPI_Status()
            MPI_Wait(&request, &status)
        }
        counts.deallocate()
    }
}
