import Foundation

/// The CUDA C++ sources of the backend's kernels (Sources/CUDA/Kernels, shipped as the target's
/// resources), each with the entry points it defines.
public enum KernelSources {
    public struct File: Sendable {
        public let name: String
        public let source: String
        /// Every `extern "C" __global__` function, in order.
        public var kernels: [String] {
            source.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("extern \"C\" __global__ void ") else { return nil }
                return String(line.dropFirst("extern \"C\" __global__ void ".count).prefix { $0 != "(" })
            }
        }
    }

    /// Every kernel file, by name; throws when the sources did not ship with the binary.
    public static func all() throws -> [File] {
        guard let folder = Bundle.module.url(forResource: "Kernels", withExtension: nil) else {
            throw CUDAError.missingKernels(bundle: Bundle.module.bundlePath)
        }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".cu") }.sorted().map { name in
            File(name: name, source: try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }
}
