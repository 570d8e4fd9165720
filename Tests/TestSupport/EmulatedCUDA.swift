import Foundation

/// The emulated CUDA device for runs of the built binary: its library (built beside the binary)
/// named by RECSYS_CUDA_EMULATOR, and NVRTC from the test venv (PyPI's nvidia-cuda-nvrtc-cu12,
/// installed by launch/test.sh) on RECSYS_CUDA_LIBRARY_PATH.
public enum EmulatedCUDA {
    /// NVRTC's folder in the test venv, or nil (with a message) where it is not installed.
    public static var nvrtcFolder: String? {
        let packages = TestPaths.packageRoot + "/.venv-test/lib"
        if let python = (try? FileManager.default.contentsOfDirectory(atPath: packages))?.first(where: { $0.hasPrefix("python3") }) {
            let folder = "\(packages)/\(python)/site-packages/nvidia/cuda_nvrtc/lib"
            if FileManager.default.fileExists(atPath: folder) { return folder }
        }
        print("skipped: NVRTC (nvidia-cuda-nvrtc-cu12) is not installed in .venv-test; launch/test.sh installs it")
        return nil
    }

    /// The emulator library of this build.
    public static var libraryPath: String {
        URL(fileURLWithPath: BinaryRunner.binaryPath).deletingLastPathComponent().appendingPathComponent("libCUDAEmulator.so").path
    }

    /// The PTX cache of this test run (not the user's).
    static let cacheFolder = ScratchFolder.path("recsys-ptx")

    /// The variables that put a run's `cuda` backend on the emulated device, or nil without NVRTC.
    public static var environment: [String: String]? {
        guard let nvrtcFolder else { return nil }
        return ["RECSYS_CUDA_EMULATOR": libraryPath, "RECSYS_CUDA_LIBRARY_PATH": nvrtcFolder, "RECSYS_CUDA_CACHE": cacheFolder]
    }
}
