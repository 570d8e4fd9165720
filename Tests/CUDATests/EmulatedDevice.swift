import CUDA
import Foundation
import TestSupport

/// The emulated CUDA device the tests run the CUDA path on: the library built beside the test
/// runner (`libCUDAEmulator.so`), opened through the driver's own loading path with
/// RECSYS_CUDA_EMULATOR, and NVRTC for the PTX it loads.
enum EmulatedDevice {
    static var libraryPath: String { EmulatedCUDA.libraryPath }

    /// The environment a run on the emulated device gets (NVRTC's folder included, where it is).
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(EmulatedCUDA.environment ?? ["RECSYS_CUDA_EMULATOR": libraryPath]) { $1 }
    }

    /// Device 0 of the emulated driver and NVRTC, or nil (with a message) where NVRTC is absent.
    static func open() throws -> (device: CUDADevice, nvrtc: NVRTC)? {
        guard let nvrtc = try NVRTCTests.nvrtc() else { return nil }
        let driver = try CUDADriver(environment: environment)
        return (try CUDADevice(driver: driver, index: 0), nvrtc)
    }

    /// Orders every later launch's blocks and threads by `seed`.
    static func setSeed(_ seed: UInt64) {
        typealias SetSeed = @convention(c) (UInt64) -> Void
        guard let handle = dlopen(libraryPath, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, "recsys_emulator_set_seed") else {
            preconditionFailure("no recsys_emulator_set_seed in \(libraryPath)")
        }
        unsafeBitCast(symbol, to: SetSeed.self)(seed)
    }

    /// The source of the emulator's own test kernels (a kernel with a barrier removed, an
    /// off-by-one, warp votes).
    static var testKernels: String {
        get throws { try String(contentsOfFile: TestPaths.packageRoot + "/Sources/CUDAEmulator/test-kernels/test_kernels.cu", encoding: .utf8) }
    }
}

/// Floats in device memory for a test: uploaded, launched on, read back.
struct DeviceArray<Element: BitwiseCopyable> {
    let device: CUDADevice
    let address: DeviceAddress
    let count: Int

    init(_ device: CUDADevice, _ values: [Element]) throws {
        self.device = device
        count = values.count
        address = try device.allocate(bytes: max(values.count, 1) * MemoryLayout<Element>.stride)
        try values.withUnsafeBytes { try device.copy($0.count, from: $0.baseAddress!, to: address) }
    }

    func values() throws -> [Element] {
        var values = [Element]()
        values.reserveCapacity(count)
        let bytes = count * MemoryLayout<Element>.stride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 16)
        defer { buffer.deallocate() }
        try device.copy(bytes, from: address, to: buffer)
        for i in 0..<count { values.append(buffer.load(fromByteOffset: i * MemoryLayout<Element>.stride, as: Element.self)) }
        return values
    }

    var argument: KernelArgument { .address(address) }

    func free() throws { try device.free(address) }
}
