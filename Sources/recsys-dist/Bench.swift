import ArgumentParser
import Benchmarks
import Compute
import Configuration
import Distributed
import Foundation
import Training

/// Choices of `bench --model`.
enum BenchModel: String, ExpressibleByArgument, CaseIterable {
    case dlrm
    case wideDeep = "wide-deep"
    case dcnv2
    case deepfm
    case bst

    var architecture: ModelSection.Architecture {
        switch self {
        case .dlrm: .dlrm
        case .wideDeep: .wideDeep
        case .dcnv2: .dcnv2
        case .deepfm: .deepfm
        case .bst: .bst
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput of DLRM \"small\", Wide&Deep, DLRM-DCNv2, DeepFM or BST (26 tables, batch 2048) on synthetic data.",
        discussion: "Build in release mode (swift build -c release) before measuring.")

    @Option(help: "dlrm, wide-deep, dcnv2 (3 cross layers of rank 64) deepfm or bst (one transformer block over 20 positions; every bag holds 20 ids).") var model: BenchModel = .dlrm
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Option(help: "fp32, or bf16 matrix products (oneDNN, fp32 accumulation; fp32 with a warning on CPUs without bf16).")
    var precision: MatmulPrecision = .fp32
    @Option(help: "Samples per rank and step (the global batch is this times the number of ranks).") var batchSize = 2048
    @Option(help: "Rows per embedding table (with --dynamic-tables: capacity, in whole buckets of 64).") var rows = 100_000
    @Flag(help: "Dynamic tables: rows found by raw id, admitted and evicted (the ids are the same).") var dynamicTables = false
    @Flag(help: "Exchange each batch's embedding requests in its own step, not during the step before.") var noPipeline = false
    @Option(help: "Untimed steps first.") var warmup = 10
    @Option(help: "Timed steps.") var steps = 50
    @OptionGroup var output: OutputOptions

    func validate() throws {
        // The limits a config has (training.threads, training.batch_size), and rows an Int32 id reaches.
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1...256, got \(threads)") }
        guard batchSize >= 1 && batchSize <= 4_194_304 else { throw ValidationError("--batch-size must be in 1...4194304, got \(batchSize)") }
        guard rows >= 1 && rows <= Int(Int32.max) else { throw ValidationError("--rows must be in 1...\(Int32.max), got \(rows)") }
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be at least 1 and --warmup non-negative") }
    }

    func run() throws {
        var settings = ThroughputBenchmark.Settings()
        settings.architecture = model.architecture
        settings.threads = threads
        settings.precision = precision
        settings.batchSize = batchSize
        settings.tableRows = rows
        settings.dynamicTables = dynamicTables
        settings.pipeline = !noPipeline
        settings.warmupSteps = warmup
        settings.timedSteps = steps
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        let console = Console(format: output.format, isRoot: communicator.isRoot)
        let r = try ThroughputBenchmark.run(settings, communicator: communicator) { console.progress($0) }
        func phases(_ names: [String]) -> String {
            names.map { "\($0) \(Training.format(r.phaseMillisecondsMedian[$0] ?? 0, 2)) ms" }.joined(separator: ", ")
        }
        var text = """
            model \(model.rawValue)\(dynamicTables ? " (dynamic tables)" : ""), \(r.ranks) rank(s) x \(batchSize) samples (global batch \(r.globalBatchSize)), \(threads) thread(s) per rank, \(r.parameterCount) parameters on rank 0
            samples/s: \(Int(r.samplesPerSecond.rounded())) (median step \(Training.format(r.stepMillisecondsMedian, 2)) ms over \(steps) steps, slowest rank)
            phases (median): \(phases(["data", "forward", "backward", "sync", "optimizer"]))
            communication (median, inside the phases): \(phases(["all-to-all", "all-reduce", "compute"]))
            MLP GFLOP/s: \(Training.format(r.mlpFlopsPerSample * r.samplesPerSecond / 1e9, 1)) of the \(r.precision) GEMM peak \(Training.format(r.gemmPeakGflops, 1)) per rank
            ceiling (MLPs at that peak): \(Int(r.ceilingSamplesPerSecond.rounded())) samples/s; reached \(Training.format(100 * r.fractionOfCeiling, 1)) %
            """
        if let sync = r.syncGigabytesPerSecond, let raw = r.rawAllReduceGigabytesPerSecond {
            text += "\nall-reduce of \(r.allReduceBytes) bytes after a barrier: bucketed gradient sync \(Training.format(sync, 2)) GB/s, "
                + "raw MPI_Allreduce \(Training.format(raw, 2)) GB/s (\(Training.format(100 * sync / raw, 1)) %)"
        }
        console.result(text: text, json: [
            "model": model.rawValue, "dynamic_tables": dynamicTables, "precision": r.precision, "batch_size": batchSize, "threads": threads, "ranks": r.ranks,
            "global_batch_size": r.globalBatchSize, "all_reduce_bytes": r.allReduceBytes,
            "sync_gb_per_second": jsonValue(r.syncGigabytesPerSecond),
            "raw_all_reduce_gb_per_second": jsonValue(r.rawAllReduceGigabytesPerSecond),
            "samples_per_second": r.samplesPerSecond, "step_ms_median": r.stepMillisecondsMedian,
            "phase_ms_median": r.phaseMillisecondsMedian, "mlp_flops_per_sample": r.mlpFlopsPerSample,
            "gemm_peak_gflops": r.gemmPeakGflops, "ceiling_samples_per_second": r.ceilingSamplesPerSecond,
            "fraction_of_ceiling": r.fractionOfCeiling,
        ])
    }
}

extension MatmulPrecision: ExpressibleByArgument {}
