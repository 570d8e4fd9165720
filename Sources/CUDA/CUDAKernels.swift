import Foundation

/// The kernels of every file of Sources/CUDA/Kernels loaded on a device, by name: PTX for the
/// device's virtual architecture, compiled by NVRTC once and kept in a cache folder (by the
/// source's hash and the architecture), so that a later process, or a machine without NVRTC
/// holding the cache, loads them without compiling.
public struct CUDAKernels: @unchecked Sendable {
    private let kernels: [String: CUDAModule.Kernel]

    /// Every kernel file for `device`'s architecture, from `cacheFolder` where it holds the
    /// file's PTX, else compiled by the NVRTC `nvrtc` opens (then written to the cache).
    public init(device: CUDADevice, nvrtc: () throws -> NVRTC, cacheFolder: String?) throws {
        var kernels: [String: CUDAModule.Kernel] = [:]
        var compiler: NVRTC?
        let architecture = device.properties.virtualArchitecture
        for file in try KernelSources.all() {
            let cached = cacheFolder.map { "\($0)/\(file.name.dropLast(3))-\(architecture)-\(Self.hash(file.source)).ptx" }
            var module: CUDAModule?
            if let cached, let ptx = try? String(contentsOfFile: cached, encoding: .utf8) {
                // PTX from a newer NVRTC than this driver is refused: compiled again below.
                module = try? device.loadModule(ptx: ptx, kernels: file.kernels)
            }
            if module == nil {
                if compiler == nil { compiler = try nvrtc() }
                let ptx = try compiler!.ptx(file.source, file: file.name, architecture: architecture)
                module = try device.loadModule(ptx: ptx, kernels: file.kernels)
                if let cached { Self.write(ptx, to: cached) }
            }
            for name in file.kernels { kernels[name] = module!.kernel(name) }
        }
        self.kernels = kernels
    }

    /// Compiled by `nvrtc` without a cache.
    public init(device: CUDADevice, nvrtc: NVRTC) throws {
        try self.init(device: device, nvrtc: { nvrtc }, cacheFolder: nil)
    }

    /// The cache: RECSYS_CUDA_CACHE, else `$XDG_CACHE_HOME/recsys-dist/ptx`, else
    /// `~/.cache/recsys-dist/ptx` (nil without a home).
    public static func cacheFolder(environment: [String: String]) -> String? {
        if let folder = environment["RECSYS_CUDA_CACHE"], !folder.isEmpty { return folder }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty { return cache + "/recsys-dist/ptx" }
        return environment["HOME"].map { $0 + "/.cache/recsys-dist/ptx" }
    }

    /// FNV-1a (64 bits) of the source, in hex.
    static func hash(_ source: String) -> String {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in source.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return String(value, radix: 16)
    }

    /// Writes `ptx` whole (a temporary file renamed into place); a cache that cannot be written
    /// costs a compilation next time, nothing else.
    private static func write(_ ptx: String, to path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let temporary = "\(path).\(getpid()).tmp"
        guard (try? ptx.write(toFile: temporary, atomically: false, encoding: .utf8)) != nil else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loadedByDevice: [Int: CUDAKernels] = [:]

    /// The kernels on `device`, loaded by the first backend of this process there.
    public static func loaded(on device: CUDADevice, environment: [String: String]) throws -> CUDAKernels {
        lock.lock()
        defer { lock.unlock() }
        if let kernels = loadedByDevice[device.index] { return kernels }
        let kernels = try CUDAKernels(device: device, nvrtc: { try NVRTC(environment: environment) },
                                      cacheFolder: cacheFolder(environment: environment))
        loadedByDevice[device.index] = kernels
        return kernels
    }

    /// The kernel called `name` (a kernel of one of the files).
    public subscript(name: String) -> CUDAModule.Kernel {
        guard let kernel = kernels[name] else { preconditionFailure("CUDAKernels: no kernel \(name)") }
        return kernel
    }
}
