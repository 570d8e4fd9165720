import Foundation

/// The NVIDIA driver API (libcuda.so.1), opened with dlopen: the GPUs this process can use.
public struct CUDADriver: Sendable {
    private typealias Initialize = @convention(c) (UInt32) -> Int32
    private typealias IntegerOut = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    private typealias DeviceGet = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias DeviceName = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Int32
    private typealias DeviceAttribute = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Int32
    private typealias DeviceMemory = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Int32
    typealias ErrorString = @convention(c) (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Int32

    /// The driver's words for error `code`.
    static func message(of code: Int32, _ errorString: ErrorString) -> String {
        var text: UnsafePointer<CChar>?
        guard errorString(code, &text) == 0, let text else { return "" }
        return String(cString: text)
    }

    /// One GPU: its name, compute capability (as NVRTC names it, `sm_90`), memory and
    /// multiprocessors.
    public struct Device: Sendable {
        public let index: Int
        public let name: String
        public let architecture: String
        public let memoryBytes: Int
        public let multiprocessors: Int
        /// The virtual architecture of its PTX (`compute_90`).
        public var virtualArchitecture: String { "compute_" + architecture.dropFirst(3) }
    }

    public let library: CUDALibrary
    public let version: Int
    public let devices: [Device]

    /// Opens and initialises the driver and lists the GPUs; throws the one-line error naming
    /// what is missing. `environment` is where `CUDALibrary.open` looks (the process's own).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        library = try CUDALibrary.open(["libcuda.so.1", "libcuda.so"], purpose: "NVIDIA driver", emulated: true, environment: environment)
        let errorString = try library.symbol("cuGetErrorString", as: ErrorString.self)
        func check(_ code: Int32, _ call: String) throws {
            if code != 0 { throw CUDAError.driver(call: call, code: code, message: Self.message(of: code, errorString)) }
        }
        try check(try library.symbol("cuInit", as: Initialize.self)(0), "cuInit")
        var value: Int32 = 0
        try check(try library.symbol("cuDriverGetVersion", as: IntegerOut.self)(&value), "cuDriverGetVersion")
        version = Int(value)
        try check(try library.symbol("cuDeviceGetCount", as: IntegerOut.self)(&value), "cuDeviceGetCount")
        let get = try library.symbol("cuDeviceGet", as: DeviceGet.self)
        let getName = try library.symbol("cuDeviceGetName", as: DeviceName.self)
        let attribute = try library.symbol("cuDeviceGetAttribute", as: DeviceAttribute.self)
        let memory = try library.symbol("cuDeviceTotalMem_v2", as: DeviceMemory.self)
        devices = try (0..<Int(value)).map { index in
            var device: Int32 = 0, major: Int32 = 0, minor: Int32 = 0, processors: Int32 = 0, bytes = 0
            try check(get(&device, Int32(index)), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try check(getName(&name, 256, device), "cuDeviceGetName")
            try check(attribute(&major, 75, device), "cuDeviceGetAttribute(compute capability major)")
            try check(attribute(&minor, 76, device), "cuDeviceGetAttribute(compute capability minor)")
            try check(attribute(&processors, 16, device), "cuDeviceGetAttribute(multiprocessor count)")
            try check(memory(&bytes, device), "cuDeviceTotalMem")
            return Device(index: index, name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                          architecture: "sm_\(major)\(minor)", memoryBytes: bytes, multiprocessors: Int(processors))
        }
    }
}
