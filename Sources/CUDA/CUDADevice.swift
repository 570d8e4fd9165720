import Foundation

/// One GPU through the driver API: its primary context made current, device memory, copies,
/// modules of kernels and their launches. Every call's error is thrown with the driver's words.
/// Device memory is named by `DeviceAddress` values the host never dereferences.
public final class CUDADevice: @unchecked Sendable {
    private typealias Status = Int32
    private typealias RetainContext = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> Status
    private typealias SetContext = @convention(c) (OpaquePointer?) -> Status
    private typealias NoArguments = @convention(c) () -> Status
    private typealias Allocate = @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Status
    private typealias Free = @convention(c) (UInt64) -> Status
    private typealias HostToDevice = @convention(c) (UInt64, UnsafeRawPointer?, Int) -> Status
    private typealias DeviceToHost = @convention(c) (UnsafeMutableRawPointer?, UInt64, Int) -> Status
    private typealias DeviceToDevice = @convention(c) (UInt64, UInt64, Int) -> Status
    private typealias Fill32 = @convention(c) (UInt64, UInt32, Int) -> Status
    private typealias Fill8 = @convention(c) (UInt64, UInt8, Int) -> Status
    private typealias MemoryInfo = @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Status
    private typealias LoadModule = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> Status
    private typealias GetFunction = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<CChar>) -> Status
    private typealias Launch = @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
                                               UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Status

    public let driver: CUDADriver
    public let index: Int
    private let errorString: CUDADriver.ErrorString
    private let allocateMemory: Allocate, freeMemory: Free, hostToDevice: HostToDevice, deviceToHost: DeviceToHost
    private let deviceToDevice: DeviceToDevice, fill32: Fill32, fill8: Fill8
    private let loadModule: LoadModule, getFunction: GetFunction, launchKernel: Launch
    private let synchronizeContext: NoArguments, memoryInfo: MemoryInfo
    private let setContext: SetContext
    private let context: OpaquePointer?
    /// The context each host thread last made current (a CUDA context is per thread).
    private static let currentContextKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The device `index` of `driver`, its primary context current on the calling thread.
    public init(driver: CUDADriver, index: Int) throws {
        guard driver.devices.indices.contains(index) else {
            throw CUDAError.driver(call: "cuDeviceGet(\(index))", code: 101, message: "the driver lists \(driver.devices.count) device(s)")
        }
        self.driver = driver
        self.index = index
        let library = driver.library
        errorString = try library.symbol("cuGetErrorString", as: CUDADriver.ErrorString.self)
        allocateMemory = try library.symbol("cuMemAlloc_v2", as: Allocate.self)
        freeMemory = try library.symbol("cuMemFree_v2", as: Free.self)
        hostToDevice = try library.symbol("cuMemcpyHtoD_v2", as: HostToDevice.self)
        deviceToHost = try library.symbol("cuMemcpyDtoH_v2", as: DeviceToHost.self)
        deviceToDevice = try library.symbol("cuMemcpyDtoD_v2", as: DeviceToDevice.self)
        fill32 = try library.symbol("cuMemsetD32_v2", as: Fill32.self)
        fill8 = try library.symbol("cuMemsetD8_v2", as: Fill8.self)
        loadModule = try library.symbol("cuModuleLoadData", as: LoadModule.self)
        getFunction = try library.symbol("cuModuleGetFunction", as: GetFunction.self)
        launchKernel = try library.symbol("cuLaunchKernel", as: Launch.self)
        synchronizeContext = try library.symbol("cuCtxSynchronize", as: NoArguments.self)
        memoryInfo = try library.symbol("cuMemGetInfo_v2", as: MemoryInfo.self)
        setContext = try library.symbol("cuCtxSetCurrent", as: SetContext.self)
        var context: OpaquePointer?
        let retained = try library.symbol("cuDevicePrimaryCtxRetain", as: RetainContext.self)(&context, Int32(index))
        self.context = context
        try check(retained, "cuDevicePrimaryCtxRetain")
        try makeCurrent()
    }

    /// Makes this GPU's context current on the calling thread, where it is not yet: every call
    /// on the device does first (the backend may be called from more than one thread).
    public func makeCurrent() throws {
        let wanted = UnsafeMutableRawPointer(context)
        guard pthread_getspecific(Self.currentContextKey) != wanted else { return }
        try check(setContext(context), "cuCtxSetCurrent")
        pthread_setspecific(Self.currentContextKey, wanted)
    }

    private func check(_ status: Status, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        throw CUDAError.driver(call: call(), code: status, message: CUDADriver.message(of: status, errorString))
    }

    // MARK: Memory

    /// `bytes` (> 0) of device memory, not initialised.
    public func allocate(bytes: Int) throws -> DeviceAddress {
        try makeCurrent()
        var address: UInt64 = 0
        try check(allocateMemory(&address, bytes), "cuMemAlloc(\(bytes) bytes)")
        return DeviceAddress(address)
    }

    public func free(_ address: DeviceAddress) throws {
        try makeCurrent()
        try check(freeMemory(address.value), "cuMemFree")
    }

    public func copy(_ bytes: Int, from source: UnsafeRawPointer, to destination: DeviceAddress) throws {
        try makeCurrent()
        try check(hostToDevice(destination.value, source, bytes), "cuMemcpyHtoD(\(bytes) bytes)")
    }

    public func copy(_ bytes: Int, from source: DeviceAddress, to destination: UnsafeMutableRawPointer) throws {
        try makeCurrent()
        try check(deviceToHost(destination, source.value, bytes), "cuMemcpyDtoH(\(bytes) bytes)")
    }

    public func copy(_ bytes: Int, from source: DeviceAddress, to destination: DeviceAddress) throws {
        try makeCurrent()
        try check(deviceToDevice(destination.value, source.value, bytes), "cuMemcpyDtoD(\(bytes) bytes)")
    }

    /// Sets `count` 32-bit words from `address` to `bits`.
    public func fill(_ address: DeviceAddress, words count: Int, with bits: UInt32) throws {
        try makeCurrent()
        try check(fill32(address.value, bits, count), "cuMemsetD32(\(count) words)")
    }

    /// Sets `count` bytes from `address` to zero.
    public func zero(_ address: DeviceAddress, bytes count: Int) throws {
        try makeCurrent()
        try check(fill8(address.value, 0, count), "cuMemsetD8(\(count) bytes)")
    }

    /// Bytes of device memory free now, and in all.
    public func memory() throws -> (free: Int, total: Int) {
        try makeCurrent()
        var free = 0, total = 0
        try check(memoryInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }

    /// The GPU's description.
    public var properties: CUDADriver.Device { driver.devices[index] }

    /// Waits for everything issued on this device.
    public func synchronize() throws {
        try makeCurrent()
        try check(synchronizeContext(), "cuCtxSynchronize")
    }

    // MARK: Kernels

    /// Loads PTX (NVRTC's, for a virtual architecture) and finds `kernels` in it.
    public func loadModule(ptx: String, kernels: [String]) throws -> CUDAModule {
        try makeCurrent()
        var module: OpaquePointer?
        try ptx.withCString { try check(loadModule(&module, $0), "cuModuleLoadData") }
        var functions: [String: OpaquePointer] = [:]
        for name in kernels {
            var function: OpaquePointer?
            try check(getFunction(&function, module, name), "cuModuleGetFunction(\(name))")
            functions[name] = function
        }
        return CUDAModule(functions: functions)
    }

    /// Runs `kernel` on `blocks` blocks of `threads` threads with `arguments` (in the kernel's
    /// parameter order and types).
    public func launch(_ kernel: CUDAModule.Kernel, blocks: Int, threads: Int, arguments: [KernelArgument]) throws {
        try makeCurrent()
        // The values and the pointers to them cuLaunchKernel reads, on the stack (a launch allocates nothing).
        try withUnsafeTemporaryAllocation(byteCount: max(arguments.count, 1) * 8, alignment: 8) { values in
            try withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: max(arguments.count, 1)) { pointers in
                for (position, argument) in arguments.enumerated() {
                    let slot = values.baseAddress! + position * 8
                    switch argument {
                    case .address(let address): slot.storeBytes(of: address.value, as: UInt64.self)
                    case .int32(let value): slot.storeBytes(of: value, as: Int32.self)
                    case .int64(let value): slot.storeBytes(of: Int64(value), as: Int64.self)
                    case .float32(let value): slot.storeBytes(of: value, as: Float.self)
                    case .float64(let value): slot.storeBytes(of: value, as: Double.self)
                    }
                    pointers[position] = slot
                }
                try check(launchKernel(kernel.function, UInt32(blocks), 1, 1, UInt32(threads), 1, 1, 0, nil, pointers.baseAddress, nil),
                          "cuLaunchKernel(\(kernel.name), \(blocks) x \(threads))")
            }
        }
    }
}

/// An address in a GPU's memory: passed to the driver and to kernels, never dereferenced.
public struct DeviceAddress: Sendable, Equatable {
    public let value: UInt64
    public init(_ value: UInt64) { self.value = value }
    public static let null = DeviceAddress(0)
    /// The address `bytes` further on.
    public func advanced(by bytes: Int) -> DeviceAddress { DeviceAddress(value + UInt64(bytes)) }
}

/// One kernel parameter's value, as the kernel declares it: a pointer, `int`, `long`, `float`
/// or `double`.
public enum KernelArgument: Sendable {
    case address(DeviceAddress)
    case int32(Int32)
    case int64(Int)
    case float32(Float)
    case float64(Double)
}

/// Kernels loaded from one module, by name.
public struct CUDAModule: @unchecked Sendable {
    public struct Kernel: @unchecked Sendable {
        public let name: String
        let function: OpaquePointer
    }

    private let functions: [String: OpaquePointer]

    init(functions: [String: OpaquePointer]) { self.functions = functions }

    /// The kernel called `name` (one of those the module was loaded with).
    public func kernel(_ name: String) -> Kernel {
        guard let function = functions[name] else { preconditionFailure("CUDAModule: \(name) was not asked for when it loaded") }
        return Kernel(name: name, function: function)
    }
}
