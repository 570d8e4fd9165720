import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A CUDA library opened at run time: the binary links none, so every build and CI run without
/// CUDA. Searched in the folders of `RECSYS_CUDA_LIBRARY_PATH` (colon-separated) first, then by
/// name through the dynamic loader (LD_LIBRARY_PATH, the ld.so cache), then in the CUDA toolkit's
/// folders and the `nvidia/*/lib` folders of Python's site-packages (where pip puts NVRTC, cuBLAS
/// and NCCL).
public struct CUDALibrary: @unchecked Sendable {
    public let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `names` found; `purpose` names what it is for in the error. With
    /// `emulated`, a library the emulated device answers for (the driver, cuBLASLt, NCCL), the
    /// library `RECSYS_CUDA_EMULATOR` names is opened instead when it is set (tests only).
    public static func open(_ names: [String], purpose: String, emulated: Bool = false,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CUDALibrary {
        if emulated, let emulator = environment["RECSYS_CUDA_EMULATOR"], !emulator.isEmpty {
            guard let handle = dlopen(emulator, RTLD_NOW | RTLD_LOCAL) else {
                throw CUDAError.missingLibrary(names: [emulator], purpose: "\(purpose) (the emulated device RECSYS_CUDA_EMULATOR names)",
                                               searched: [String(cString: dlerror())])
            }
            return CUDALibrary(path: emulator, handle: handle)
        }
        let first = (environment["RECSYS_CUDA_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init)
        let folders = first + [""] + standardFolders(environment: environment)
        for folder in folders {
            for name in names {
                let path = folder.isEmpty ? name : "\(folder)/\(name)"
                if let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) { return CUDALibrary(path: path, handle: handle) }
            }
        }
        throw CUDAError.missingLibrary(names: names, purpose: purpose,
                                       searched: ["RECSYS_CUDA_LIBRARY_PATH", "LD_LIBRARY_PATH", "the ld.so cache"] + folders.filter { !$0.isEmpty })
    }

    /// The function `name` of this library as a C function pointer of type `T`.
    public func symbol<T>(_ name: String, as type: T.Type) throws -> T {
        guard let address = dlsym(handle, name) else { throw CUDAError.missingSymbol(name: name, library: path) }
        return unsafeBitCast(address, to: type)
    }

    /// The CUDA toolkit's library folders and every `nvidia/*/lib` of the Python environments
    /// found (the active virtual environment, the system's, the user's).
    static func standardFolders(environment: [String: String]) -> [String] {
        var folders = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64"]
        var libraryRoots = ["/usr/lib", "/usr/local/lib"]
        if let venv = environment["VIRTUAL_ENV"] { libraryRoots.insert("\(venv)/lib", at: 0) }
        if let home = environment["HOME"] { libraryRoots.append("\(home)/.local/lib") }
        let files = FileManager.default
        for root in libraryRoots {
            for python in ((try? files.contentsOfDirectory(atPath: root)) ?? []).filter({ $0.hasPrefix("python3") }).sorted() {
                for packages in ["site-packages", "dist-packages"] {
                    let nvidia = "\(root)/\(python)/\(packages)/nvidia"
                    for component in ((try? files.contentsOfDirectory(atPath: nvidia)) ?? []).sorted() {
                        let lib = "\(nvidia)/\(component)/lib"
                        if files.fileExists(atPath: lib) { folders.append(lib) }
                    }
                }
            }
        }
        return folders
    }
}

/// What can go wrong on the CUDA path; each description is one line.
public enum CUDAError: Error, CustomStringConvertible, Equatable {
    case missingLibrary(names: [String], purpose: String, searched: [String])
    case missingSymbol(name: String, library: String)
    case driver(call: String, code: Int32, message: String)
    case nvrtc(call: String, code: Int32)
    case library(name: String, call: String, code: Int32)
    case compilation(file: String, architecture: String, log: String)
    case missingKernels(bundle: String)

    public var description: String {
        switch self {
        case let .missingLibrary(names, purpose, searched):
            "no \(purpose): \(names[0]) not found (searched \(searched.joined(separator: ", ")))"
        case let .missingSymbol(name, library):
            "\(library) has no \(name)"
        case let .driver(call, code, message):
            "CUDA driver: \(call) failed with error \(code)" + (message.isEmpty ? "" : ": \(message)")
        case let .nvrtc(call, code):
            "NVRTC: \(call) failed with error \(code)"
        case let .library(name, call, code):
            "\(name): \(call) failed with status \(code)"
        case let .missingKernels(bundle):
            "the CUDA kernels' sources are not in \(bundle) (copy the .resources folder beside the binary)"
        case let .compilation(file, architecture, log):
            "\(file): NVRTC cannot compile it for \(architecture): "
                + log.split(separator: "\n").filter { !$0.isEmpty }.prefix(3).joined(separator: " | ")
        }
    }
}
