import Foundation
import Testing
import TestSupport

/// The CUDA backend trains every ranker as the CPU backend does, on the emulated device (the
/// same Swift code, driver and cuBLASLt calls a GPU gets), on 1 and 2 ranks under mpirun: its
/// per-step losses and AUC within 1e-5 of the CPU backend's; a checkpoint it writes resumes on
/// the CPU backend (a 2-rank one on 1 rank) and one the CPU backend writes resumes on it. Two
/// ranks move device memory by NCCL (the emulated device answers it over MPI), by MPI over host
/// copies, or by MPI given the device memory (CUDA-aware).
@Suite(.serialized) struct CUDABackendTrainingTests {
    let runs = CheckpointRuns()
    var folder: String { runs.folder }
    func config() throws -> String { try runs.config() }
    /// Checkpoints every 8 steps: the step-8 checkpoint of a 16-step run.
    func train(ranks: Int, _ arguments: [String], environment: [String: String]) throws -> CheckpointRuns.Run {
        try runs.train(ranks: ranks, ["--set", "checkpoint.every_steps=8"] + arguments, environment: environment)
    }

    func expectClose(_ got: [Double], _ expected: [Double], _ what: String) {
        #expect(got.count == expected.count, "\(what): \(got.count) losses against \(expected.count)")
        for (step, (a, b)) in zip(got, expected).enumerated() {
            #expect(abs(a - b) <= 1e-5 * abs(b), "\(what), step \(step + 1): \(a) against the CPU backend's \(b)")
        }
    }

    /// A model past the GPU's memory (the emulated device has 16 GiB) is one line naming the
    /// GPU before anything is allocated; `plan` compares the largest rank with it.
    @Test func aModelPastTheGPUsMemoryIsRefused() throws {
        guard let emulated = EmulatedCUDA.environment else { return }
        let big = ["--config", try config(), "--set", "training.backend=cuda", "--set", "model.table_rows=100000000"]
        let output = try BinaryRunner.run(["train"] + big, environment: emulated)
        #expect(output.status == 1)
        let lines = output.standardError.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(lines.count == 1 && lines[0].contains("MB of GPU memory on this rank")
                && lines[0].contains("but recsys-dist emulated device 0 has 17179 MB free"), "\(output.standardError)")
        let plan = try BinaryRunner.run(["plan"] + big + ["--ranks", "2"], environment: emulated)
        #expect(plan.status == 0 && plan.standardOutput.contains("GPU memory: recsys-dist emulated device 0, 16384.0 MiB")
                && plan.standardOutput.contains("does NOT fit"), "\(plan.standardOutput)")
        let small = try BinaryRunner.run(["plan", "--config", try config(), "--set", "training.backend=cuda"], environment: emulated)
        #expect(small.standardOutput.contains(": fits"), "\(small.standardOutput)")
    }

    /// Device memory handed to an MPI without CUDA support would crash it: refused in one line.
    @Test func aCUDAAwareTransportNeedsACUDAAwareMPI() throws {
        let output = try MPIRunner.run(ranks: 2, ["train", "--config", try config(), "--set", "training.backend=cuda",
                                                  "--set", "distributed.device_transport=cuda_aware_mpi"])
        #expect(output.status != 0)
        #expect(output.standardError.contains("error: rank 0: distributed.device_transport: cuda_aware_mpi needs an MPI built with CUDA "
                                              + "support, and this one has none"), "\(output.standardError)")
    }

    @Test(arguments: ["dlrm", "wide_deep", "dcnv2", "deepfm", "bst"], [1, 2])
    func trainsAsTheCPUBackend(architecture: String, ranks: Int) throws {
        guard let emulated = EmulatedCUDA.environment else { return }
        let model = ["--set", "model.architecture=\(architecture)"], cuda = ["--set", "training.backend=cuda"]
        let name = "\(architecture)-\(ranks)"
        let cpu = try train(ranks: ranks, model + ["--set", "checkpoint.run_name=cpu-\(name)"], environment: emulated)
        #expect(cpu.losses.count == 16)

        let onDevice = try train(ranks: ranks, model + cuda + ["--set", "checkpoint.run_name=cuda-\(name)", "--set", "training.max_steps=8"],
                                 environment: emulated)
        #expect(onDevice.standardError.contains("cuda backend"))
        #expect(onDevice.standardError.contains("device memory crosses the 2 ranks by NCCL") == (ranks == 2),
                "2 ranks exchange device memory by the emulated NCCL")
        expectClose(onDevice.losses, Array(cpu.losses.prefix(8)), "\(architecture) on cuda, \(ranks) rank(s)")
        if ranks == 2 && architecture == "dlrm" {
            // The other transports: device memory staged through the host for MPI, or given to a
            // CUDA-aware MPI as it is (the emulated device's memory is host memory, which any MPI reads).
            for (transport, words) in [("mpi", "MPI over host copies"), ("cuda_aware_mpi", "CUDA-aware MPI")] {
                let run = try train(ranks: ranks, model + cuda + ["--set", "checkpoint.run_name=\(transport)-\(name)",
                                                                  "--set", "training.max_steps=8",
                                                                  "--set", "distributed.device_transport=\(transport)"], environment: emulated)
                #expect(run.standardError.contains("device memory crosses the 2 ranks by \(words)"), "\(run.standardError)")
                expectClose(run.losses, Array(cpu.losses.prefix(8)), "dlrm on cuda over \(words), 2 ranks")
            }
        }

        // cuda -> cpu (from 2 ranks to 1 where there were 2), and cpu -> cuda.
        let onHost = try train(ranks: 1, model + ["--set", "checkpoint.run_name=cuda-\(name)", "--resume", "latest"], environment: emulated)
        expectClose(onHost.losses, Array(cpu.losses.suffix(8)), "\(architecture): cuda's checkpoint of \(ranks) rank(s) resumed on cpu")
        #expect(abs(onHost.auc - cpu.auc) <= 1e-5, "\(architecture): AUC \(onHost.auc) against \(cpu.auc)")

        let back = try train(ranks: ranks, model + cuda + ["--set", "checkpoint.run_name=cpu-\(name)", "--set", "checkpoint.save_final=false",
                                                          "--resume", "\(folder)/runs/cpu-\(name)/step-8"], environment: emulated)
        expectClose(back.losses, Array(cpu.losses.suffix(8)), "\(architecture): cpu's checkpoint resumed on cuda, \(ranks) rank(s)")
        #expect(abs(back.auc - cpu.auc) <= 1e-5, "\(architecture): AUC on cuda \(back.auc) against \(cpu.auc)")
    }

    /// Tables stored in bf16, Adam's moments too: the device's kernels draw the CPU's stochastic
    /// rounding of the same fp32 updates, so the CUDA backend trains as the CPU backend does, on
    /// 1 rank and on 2 (rows crossing in bf16), and its checkpoint resumes on the CPU backend.
    @Test(arguments: ["dlrm", "wide_deep"], [1, 2])
    func bfloat16TablesTrainAsOnTheCPUBackend(architecture: String, ranks: Int) throws {
        guard let emulated = EmulatedCUDA.environment else { return }
        let settings = ["model.architecture=\(architecture)", "model.table_precision=bf16", "training.optimizer.algorithm=adam",
                        "training.optimizer.learning_rate=0.01", "training.optimizer.table_state_precision=bf16"].flatMap { ["--set", $0] }
        let name = "bf16-\(architecture)-\(ranks)"
        let cpu = try train(ranks: ranks, settings + ["--set", "checkpoint.run_name=cpu-\(name)"], environment: emulated)
        let onDevice = try train(ranks: ranks, settings + ["--set", "training.backend=cuda", "--set", "checkpoint.run_name=cuda-\(name)",
                                                           "--set", "training.max_steps=8"], environment: emulated)
        #expect(onDevice.standardError.contains("cuda backend"))
        expectClose(onDevice.losses, Array(cpu.losses.prefix(8)), "\(architecture), bf16 tables on cuda, \(ranks) rank(s)")
        let onHost = try train(ranks: 1, settings + ["--set", "checkpoint.run_name=cuda-\(name)", "--resume", "latest"], environment: emulated)
        expectClose(onHost.losses, Array(cpu.losses.suffix(8)), "\(architecture): cuda's bf16 tables of \(ranks) rank(s) resumed on cpu")
        #expect(abs(onHost.auc - cpu.auc) <= 1e-5, "\(architecture): AUC \(onHost.auc) against \(cpu.auc)")
    }
}
