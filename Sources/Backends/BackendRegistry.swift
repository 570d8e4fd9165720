import CUDA
import Compute
import Distributed
import Foundation

/// The compute backends a run can use, by the name `training.backend` gives them. The
/// configuration only names a backend; a new one is added here, below it.
public enum BackendRegistry {
    public struct Entry: Sendable {
        /// Its value of `training.backend`.
        public let name: String
        /// One line: where the numbers live and the arithmetic runs.
        public let summary: String
        /// A backend whose matrix products run in `precision` (fp32 ones in TF32 with
        /// `tensorFloat32`, where the backend has it); throws the one-line error of a backend this
        /// machine cannot give (no GPU, no driver).
        public let make: @Sendable (_ precision: MatmulPrecision, _ tensorFloat32: Bool) throws -> any ComputeBackend
    }

    public static let entries: [Entry] = [
        Entry(name: "cpu", summary: "host memory, OpenBLAS and the SIMD kernels",
              make: { precision, _ in CPUBackend(matmulPrecision: precision) }),
        Entry(name: "separate_memory",
              summary: "the CPU kernels over memory the host cannot address (every number crosses by an explicit copy): "
                  + "proves on a machine without a GPU that a run keeps the device discipline",
              make: { precision, _ in SeparateMemoryBackend(matmulPrecision: precision) }),
        Entry(name: "cuda",
              summary: "an NVIDIA GPU (the local rank's): device memory, cuBLASLt GEMMs and the CUDA kernels compiled by NVRTC",
              make: { try CUDABackend.onLocalDevice(matmulPrecision: $0, tensorFloat32: $1) }),
    ]

    /// The names `training.backend` takes.
    public static var names: [String] { entries.map(\.name) }

    /// The backend called `name` (one of `names`: the configuration is validated against them).
    public static func make(_ name: String, precision: MatmulPrecision = .fp32, tensorFloat32: Bool = false) throws -> any ComputeBackend {
        guard let entry = entries.first(where: { $0.name == name }) else {
            preconditionFailure("BackendRegistry: no backend '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return try entry.make(precision, tensorFloat32)
    }
}

extension BackendRegistry {
    /// The communicator a run on backend `name` uses over the ranks of `base` (MPI's), by
    /// `distributed.device_transport`: for the GPU backend on several ranks NCCL's, or `base`
    /// given the device memory itself (a CUDA-aware MPI), or `base` over host copies of it.
    public static func communicator(over base: Communicator, backend name: String, transport: DeviceTransport,
                                    environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Communicator {
        guard name == "cuda", base.size > 1 else { return base }
        switch transport {
        case .nccl:
            return try NCCLCommunicator(wrapping: base)
        case .mpi:
            return base
        case .cudaAwareMPI:
            guard let mpi = base as? MPICommunicator else { return base }
            // The emulated device's memory is host memory, which any MPI reads.
            if environment["RECSYS_CUDA_EMULATOR"] == nil {
                typealias Query = @convention(c) () -> Int32
                guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "MPIX_Query_cuda_support"),
                      unsafeBitCast(symbol, to: Query.self)() == 1 else {
                    throw TransportError(description: "distributed.device_transport: cuda_aware_mpi needs an MPI built with CUDA "
                                             + "support, and this one has none (MPIX_Query_cuda_support): use nccl or mpi")
                }
            }
            mpi.passesDeviceMemory = true
            return mpi
        }
    }
}

extension BackendRegistry {
    /// The device memory a backend called `name` holds a model in on this process: its GPU's name,
    /// free and total bytes; nil for a backend in host memory.
    public static func deviceMemory(backend name: String) throws -> (device: String, free: Int, total: Int)? {
        guard name == "cuda" else { return nil }
        let device = try CUDABackend.localDevice()
        let memory = try device.memory()
        return (device.properties.name, memory.free, memory.total)
    }
}

/// A transport the configuration asks for that this machine cannot give.
public struct TransportError: Error, CustomStringConvertible {
    public let description: String
}
