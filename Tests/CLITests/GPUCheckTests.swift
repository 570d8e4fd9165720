import Foundation
import Testing
import TestSupport

/// launch/gpu-check.sh (the bundle's `gpu-check`): without an NVIDIA driver it ends with the
/// driver's one-line error; on the emulated device, with small sizes, every step runs and its
/// summary holds what a GPU machine's would.
@Suite(.serialized) struct GPUCheckTests {
    let script = TestPaths.packageRoot + "/launch/gpu-check.sh"

    func outputFolder() throws -> String {
        let folder = ScratchFolder.path("recsys-gpu-check")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func withoutADriverItEndsWithOneLine() throws {
        guard !FileManager.default.fileExists(atPath: "/dev/nvidiactl") else {
            print("skipped the no-driver check: this machine has an NVIDIA driver")
            return
        }
        let output = try BinaryRunner.run(executable: "/bin/bash", [script],
                                          environment: ["GPU_CHECK_RUN": BinaryRunner.binaryPath, "GPU_CHECK_OUT": try outputFolder()])
        #expect(output.status == 1)
        let lines = output.standardError.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: no NVIDIA driver: libcuda.so.1 not found"), "\(output.standardError)")
    }

    @Test func everyStepRunsOnTheEmulatedDevice() throws {
        guard let emulated = EmulatedCUDA.environment else { return }
        let folder = try outputFolder()
        let environment = emulated.merging([
            "GPU_CHECK_RUN": BinaryRunner.binaryPath, "GPU_CHECK_CONFIGS": TestPaths.packageRoot + "/configs", "GPU_CHECK_OUT": folder,
            "GPU_CHECK_STEPS": "20", "GPU_CHECK_SAMPLES": "20000", "GPU_CHECK_BENCH_STEPS": "2", "MLPERF_ROWS": "1000", "MLPERF_BATCH": "512",
        ]) { $1 }
        let output = try BinaryRunner.run(executable: "/bin/bash", [script], timeout: 600, environment: environment)
        #expect(output.status == 0, "\(output.standardOutput.suffix(2000)) \(output.standardError.suffix(2000))")
        let data = try #require(FileManager.default.contents(atPath: folder + "/summary.json"))
        let summary = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(summary["failed"] as? Bool == false)
        let check = try #require(summary["check_backend"] as? [String: Any])
        #expect(check["failed"] as? Int == 0 && (check["operations"] as? Int ?? 0) >= 35)
        for key in ["quickstart", "quickstart_bf16_tables"] {
            let quickstart = try #require(summary[key] as? [String: Any])
            #expect(quickstart["windows"] as? Int == 2 && quickstart["within_1e-4"] as? Bool == true, "\(key): \(quickstart)")
        }
        let bench = try #require(summary["bench"] as? [String: [String: Any]])
        #expect(Set(bench.keys) == Set(["small", "mlperf"].flatMap { model in ["fp32", "tf32", "bf16"].map { "bench-\(model)-\($0)" } }))
        #expect(bench.values.allSatisfy { ($0["samples_per_second"] as? Double ?? 0) > 0 && ($0["mlp_tflops"] as? Double ?? 0) > 0 })
        #expect(bench["bench-mlperf-fp32"]?["global_batch_size"] as? Int == 512)
    }
}
