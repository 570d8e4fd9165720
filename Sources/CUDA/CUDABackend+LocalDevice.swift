import Compute
import Foundation

extension CUDABackend {
    /// This process's GPU (see `onLocalDevice`).
    public static func localDevice(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CUDADevice {
        let driver = try CUDADriver(environment: environment)
        guard !driver.devices.isEmpty else {
            throw CUDAError.driver(call: "cuDeviceGetCount", code: 100, message: "the NVIDIA driver lists no GPU")
        }
        let localRank = ["OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"].lazy.compactMap { environment[$0] }
            .compactMap { Int($0) }.first ?? 0
        return try CUDADevice(driver: driver, index: localRank % driver.devices.count)
    }

    /// The backend on this process's GPU: the local rank's (OpenMPI's, Slurm's or MPICH's
    /// variable; 0 without one) modulo the GPUs the driver lists, its kernels compiled once per
    /// process and device.
    public static func onLocalDevice(matmulPrecision: MatmulPrecision, tensorFloat32: Bool = false,
                                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CUDABackend {
        let device = try localDevice(environment: environment)
        return try CUDABackend(device: device, kernels: try CUDAKernels.loaded(on: device, environment: environment),
                               matmulPrecision: matmulPrecision, tensorFloat32: tensorFloat32, environment: environment)
    }
}
