import BackendCheck
import CUDA
import Compute
import Testing
import TestSupport

/// Every backend operation on the emulated CUDA backend against the CPU backend, on shapes with
/// uneven parts (counts that are no multiple of a block, strides wider than rows, offsets into
/// buffers, bags of 0 to 3 ids) and empty ones (zero rows, empty bags): integer results equal,
/// fp32 results within 1e-6 of the result's largest magnitude.
@Suite(.serialized) struct CUDABackendOperationTests {
    @Test(arguments: BackendOperations.all)
    func matchesTheCPUBackend(_ operation: ComparedOperation) throws {
        guard let cuda = try EmulatedBackend.backend() else { return }
        let failures = compare(operation, on: cuda, against: CPUBackend())
        #expect(failures.isEmpty, "\(operation): \(failures.prefix(5).joined(separator: "; "))")
    }

    /// bf16 products of rounded operands, and of fp32 operands a bf16 backend rounds first.
    @Test func bf16ProductsMatchTheCPUBackend() throws {
        guard let cuda = try EmulatedBackend.backend(.bf16) else { return }
        let cpu = CPUBackend(matmulPrecision: .bf16)
        guard cpu.matmulPrecision == .bf16 else {
            print("skipped the bf16 comparison: this CPU has no native bf16 products")
            return
        }
        for operation in BackendOperations.products(bf16: true) {
            let failures = compare(operation, on: cuda, against: cpu, tolerance: 1e-5)
            #expect(failures.isEmpty, "\(operation): \(failures.prefix(5).joined(separator: "; "))")
        }
    }

    /// Freed device memory waits in the pool for the next buffer of its size, zeroed when reused.
    @Test func freedBuffersAreReusedZeroed() throws {
        guard let cuda = try EmulatedBackend.backend() else { return }
        var first: DeviceBuffer<Float>? = cuda.makeFloats(1013)
        first!.copy(from: [Float](repeating: 3, count: 1013))
        let handle = first!.handle
        first = nil
        let second = cuda.makeFloats(1013), other = cuda.makeFloats(1014)
        #expect(second.handle == handle && other.handle != handle)
        #expect(second.toArray().allSatisfy { $0 == 0 })
    }

    /// `training.tf32`: fp32 operands rounded to TF32 by the tensor cores (the emulated device as
    /// the GPU): the products differ from fp32's by more than fp32 rounding, within TF32's.
    @Test func tensorFloat32ProductsAreFP32sToTF32Rounding() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        let tf32 = try CUDABackend(device: device, kernels: try CUDAKernels(device: device, nvrtc: nvrtc), matmulPrecision: .fp32,
                                   tensorFloat32: true, environment: EmulatedDevice.environment)
        for operation in BackendOperations.products(bf16: false) {
            #expect(compare(operation, on: tf32, against: CPUBackend(), tolerance: 2e-3).isEmpty, "\(operation) within TF32 rounding")
            #expect(!compare(operation, on: tf32, against: CPUBackend(), tolerance: 1e-5).isEmpty, "\(operation) rounded to TF32")
        }
    }
}

/// The emulated CUDA backend the comparisons run on (nil, with a message, without NVRTC).
enum EmulatedBackend {
    private static let shared: Result<(fp32: CUDABackend, bf16: CUDABackend)?, Error> = Result {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return nil }
        let kernels = try CUDAKernels(device: device, nvrtc: nvrtc)
        return (try CUDABackend(device: device, kernels: kernels, matmulPrecision: .fp32, environment: EmulatedDevice.environment),
                try CUDABackend(device: device, kernels: kernels, matmulPrecision: .bf16, environment: EmulatedDevice.environment))
    }

    static func backend(_ precision: MatmulPrecision = .fp32) throws -> CUDABackend? {
        guard let backends = try shared.get() else { return nil }
        return precision == .bf16 ? backends.bf16 : backends.fp32
    }
}
