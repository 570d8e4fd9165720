import CUDA
import Foundation
import Testing
import TestSupport

/// The CUDA path without a GPU: every kernel file compiles with NVRTC (installed from PyPI's
/// nvidia-cuda-nvrtc-cu12 into .venv-test by launch/test.sh; skipped with a message where it is
/// absent) for the A100's and the H100/H200's architectures, compile errors name the file, and a
/// machine without the NVIDIA driver gets a one-line error naming what is missing.
@Suite(.serialized) struct NVRTCTests {
    /// NVRTC from the test venv, or nil (with a message) when it is not installed.
    static func nvrtc() throws -> NVRTC? {
        guard let folder = EmulatedCUDA.nvrtcFolder else { return nil }
        return try NVRTC(environment: ["RECSYS_CUDA_LIBRARY_PATH": folder])
    }

    @Test(arguments: ["sm_80", "sm_90"])
    func everyKernelFileCompiles(architecture: String) throws {
        guard let nvrtc = try Self.nvrtc() else { return }
        let files = try KernelSources.all()
        #expect(files.map(\.name) == ["dense.cu", "embedding.cu", "interaction.cu", "transformer.cu"])
        for file in files {
            let cubin = try nvrtc.compile(file.source, file: file.name, architecture: architecture)
            #expect(cubin.count > 1000 && cubin.starts(with: [0x7F, 0x45, 0x4C, 0x46]), "\(file.name): an ELF cubin")
        }
        let kernels = Set(files.flatMap(\.kernels))
        for operation in ["embedding_bags", "embedding_bags_scatter_add", "claim_rows", "accumulate_bag_gradients", "gather_rows",
                          "scatter_add_rows", "sparse_adagrad", "sparse_adam", "dot_interaction", "dot_interaction_backward",
                          "add_bias", "binary_cross_entropy", "adam_step", "factorization_machine_backward", "layer_norm",
                          "layer_norm_backward", "layer_norm_parameter_gradients", "attention", "attention_backward",
                          "pack_bf16", "unpack_bf16", "pack_fp16", "unpack_fp16", "softmax_rows", "softmax_rows_backward",
                          "add_scaled_rows", "row_dots", "normalize_rows", "normalize_rows_backward",
                          "sampled_softmax_cross_entropy"] {
            #expect(kernels.contains(operation), "a kernel for \(operation)")
        }
    }

    @Test func aCompileErrorNamesTheFileAndTheArchitecture() throws {
        guard let nvrtc = try Self.nvrtc() else { return }
        let broken = "extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }"
        #expect {
            _ = try nvrtc.compile(broken, file: "broken.cu", architecture: "sm_90")
        } throws: { error in
            guard case let CUDAError.compilation(file, architecture, log) = error else { return false }
            return file == "broken.cu" && architecture == "sm_90" && log.contains("undefined_name")
        }
    }

    @Test func noDriverIsAOneLineError() throws {
        guard !FileManager.default.fileExists(atPath: "/dev/nvidiactl") else {
            print("skipped the no-driver check: this machine has an NVIDIA driver")
            return
        }
        let output = try BinaryRunner.run(["devices"])
        #expect(output.status == 1)
        let lines = output.standardError.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: no NVIDIA driver: libcuda.so.1 not found (searched "),
                "\(output.standardError)")
    }
}
