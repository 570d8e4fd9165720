import CMPI

/// Errors from the MPI layer.
public enum MPIError: Error, CustomStringConvertible {
    case call(String, code: Int32)

    public var description: String {
        switch self {
        case .call(let name, let code): return "\(name) failed with MPI error code \(code)"
        }
    }
}

/// The group of processes that train together: rank, size and the collectives the trainer uses.
///
/// It is a value passed in, never a global. A plain run (no mpirun) is an MPI singleton of
/// size 1, so single-process and multi-rank training take the same code path.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    private let communicator: MPI_Comm

    /// Initialises MPI (once per process) and wraps COMM_WORLD.
    public static func world() throws -> Communicator {
        var initialised: Int32 = 0
        try check(MPI_Initialized(&initialised), "MPI_Initialized")
        if initialised == 0 {
            var provided: Int32 = 0
            try check(MPI_Init_thread(nil, nil, recsys_mpi_thread_funneled(), &provided), "MPI_Init_thread")
        }
        return try Communicator(recsys_mpi_comm_world())
    }

    private init(_ communicator: MPI_Comm) throws {
        self.communicator = communicator
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check(MPI_Comm_rank(communicator, &rank), "MPI_Comm_rank")
        try Self.check(MPI_Comm_size(communicator, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    public var isRoot: Bool { rank == 0 }

    /// Sums `count` floats over all ranks, in place.
    public func allReduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        var offset = 0
        while offset < count {
            let chunk = min(count - offset, Int(Int32.max))
            try Self.check(MPI_Allreduce(recsys_mpi_in_place(), values + offset, Int32(chunk), recsys_mpi_float(),
                                         recsys_mpi_sum(), communicator), "MPI_Allreduce")
            offset += chunk
        }
    }

    /// Sums doubles over all ranks.
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var result = values
        try result.withUnsafeMutableBufferPointer { buffer in
            try Self.check(MPI_Allreduce(recsys_mpi_in_place(), buffer.baseAddress, Int32(buffer.count),
                                         recsys_mpi_double(), recsys_mpi_sum(), communicator), "MPI_Allreduce")
        }
        return result
    }

    public func barrier() throws {
        try Self.check(MPI_Barrier(communicator), "MPI_Barrier")
    }

    /// Ends every rank of the job: a failing rank must never leave the others waiting.
    public func abort(code: Int32) -> Never {
        MPI_Abort(communicator, code)
        fatalError("MPI_Abort returned")
    }

    /// Shuts MPI down at the end of a run.
    public static func finalize() {
        var finalised: Int32 = 0
        MPI_Finalized(&finalised)
        if finalised == 0 { MPI_Finalize() }
    }

    private static func check(_ code: Int32, _ call: String) throws {
        if code != recsys_mpi_success() { throw MPIError.call(call, code: code) }
    }
}
