import Foundation

/// CUDA's run-time compiler, opened with dlopen: compiles the kernels' CUDA C++ to a cubin for
/// the device found (`sm_80`, `sm_90`, ...). It needs no GPU and no driver.
public struct NVRTC: Sendable {
    private typealias Create = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>,
                                               Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias Compile = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias Size = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> Int32
    private typealias Contents = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> Int32
    private typealias Destroy = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    private typealias Version = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32

    public let library: CUDALibrary
    private let create: Create, compile: Compile, logSize: Size, log: Contents, cubinSize: Size, cubin: Contents
    private let ptxSize: Size, ptxText: Contents
    private let destroy: Destroy, versionFunction: Version

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        library = try CUDALibrary.open(["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"],
                                       purpose: "CUDA run-time compiler (NVRTC)", environment: environment)
        create = try library.symbol("nvrtcCreateProgram", as: Create.self)
        compile = try library.symbol("nvrtcCompileProgram", as: Compile.self)
        logSize = try library.symbol("nvrtcGetProgramLogSize", as: Size.self)
        log = try library.symbol("nvrtcGetProgramLog", as: Contents.self)
        cubinSize = try library.symbol("nvrtcGetCUBINSize", as: Size.self)
        cubin = try library.symbol("nvrtcGetCUBIN", as: Contents.self)
        ptxSize = try library.symbol("nvrtcGetPTXSize", as: Size.self)
        ptxText = try library.symbol("nvrtcGetPTX", as: Contents.self)
        destroy = try library.symbol("nvrtcDestroyProgram", as: Destroy.self)
        versionFunction = try library.symbol("nvrtcVersion", as: Version.self)
    }

    /// "major.minor" of the NVRTC found.
    public var version: String {
        var major: Int32 = 0, minor: Int32 = 0
        _ = versionFunction(&major, &minor)
        return "\(major).\(minor)"
    }

    /// The cubin of `source` (named `file` in messages) for `architecture` (`sm_90`), with
    /// `-std=c++17` and, unless `fusedMultiplyAdd`, no contraction of a*b+c (results closer to
    /// the CPU backend's).
    public func compile(_ source: String, file: String, architecture: String, fusedMultiplyAdd: Bool = false) throws -> [UInt8] {
        try build(source, file: file, architecture: architecture, fusedMultiplyAdd: fusedMultiplyAdd, size: cubinSize, contents: cubin,
                  output: "CUBIN")
    }

    /// The PTX of `source` for a virtual architecture (`compute_80`): what the driver compiles
    /// for its own GPU when the module loads, and what the emulated device reads the kernels'
    /// entry points from.
    public func ptx(_ source: String, file: String, architecture: String, fusedMultiplyAdd: Bool = false) throws -> String {
        let text = try build(source, file: file, architecture: architecture, fusedMultiplyAdd: fusedMultiplyAdd, size: ptxSize,
                             contents: ptxText, output: "PTX")
        return String(decoding: text.prefix { $0 != 0 }, as: UTF8.self)
    }

    private func build(_ source: String, file: String, architecture: String, fusedMultiplyAdd: Bool, size: Size, contents: Contents,
                       output: String) throws -> [UInt8] {
        var program: OpaquePointer?
        let created = source.withCString { source in file.withCString { name in create(&program, source, name, 0, nil, nil) } }
        guard created == 0 else { throw CUDAError.nvrtc(call: "nvrtcCreateProgram", code: created) }
        defer { _ = destroy(&program) }
        let options = ["--gpu-architecture=\(architecture)", "-std=c++17", "--fmad=\(fusedMultiplyAdd)"]
        let pointers = options.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let compiled = pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer {
            compile(program, Int32(options.count), $0.baseAddress)
        }
        guard compiled == 0 else {
            throw CUDAError.compilation(file: file, architecture: architecture, log: programLog(program))
        }
        var byteCount = 0
        guard size(program, &byteCount) == 0 else { throw CUDAError.nvrtc(call: "nvrtcGet\(output)Size", code: -1) }
        var binary = [CChar](repeating: 0, count: byteCount)
        guard contents(program, &binary) == 0 else { throw CUDAError.nvrtc(call: "nvrtcGet\(output)", code: -1) }
        return binary.map { UInt8(bitPattern: $0) }
    }

    private func programLog(_ program: OpaquePointer?) -> String {
        var size = 0
        guard logSize(program, &size) == 0, size > 1 else { return "" }
        var text = [CChar](repeating: 0, count: size)
        guard log(program, &text) == 0 else { return "" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
