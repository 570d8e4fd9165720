import ArgumentParser
import Backends
import Benchmarks
import Compute
import Configuration
import Distributed
import Foundation
import Models
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput on synthetic data: a model's preset (26 tables, batch 2048), or any config's model.",
        discussion: "Build in release mode (swift build -c release) before measuring.")

    @Option(help: ArgumentHelp("The preset: \(ModelRegistry.definitions.map { $0.benchName }.joined(separator: ", ")) "
                               + "(dcnv2: 3 cross layers of rank 64; bst: one transformer block over 20 positions, every bag 20 ids)."))
    var model: String?
    @Option(help: "Time this config's model instead (its sizes, tables, precision, optimizer and placement; its global batch split over the ranks), on synthetic data of its shape.")
    var config: String?
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a key of --config.", valueName: "key=value"))
    var overrides: [String] = []
    @Option(help: "Threads per rank (default 1, or the config's).") var threads: Int?
    @Option(help: "fp32, or bf16 matrix products (oneDNN, fp32 accumulation; fp32 with a warning on CPUs without bf16).")
    var precision: MatmulPrecision?
    @Option(help: ArgumentHelp("Where the model lives and computes: \(BackendRegistry.names.joined(separator: ", ")) (default cpu, or the config's).",
                               valueName: "name"))
    var backend: String?
    @Flag(help: "fp32 products in TF32 on a GPU's tensor cores (the cuda backend).") var tf32 = false
    @Option(help: "Samples per rank and step (the global batch is this times the number of ranks; default 2048).") var batchSize: Int?
    @Option(help: "Rows per embedding table of a preset (with --dynamic-tables: capacity, in whole buckets of 64).") var rows = 100_000
    @Flag(help: "A preset with dynamic tables: rows found by raw id, admitted and evicted (the ids are the same).") var dynamicTables = false
    @Flag(help: "Exchange each batch's embedding requests in its own step, not during the step before.") var noPipeline = false
    @Flag(help: "Time every backend operation of the timed steps (the CPU backend) and print where a step's time goes.")
    var profile = false
    @Option(help: "Untimed steps first.") var warmup = 10
    @Option(help: "Timed steps.") var steps = 50
    @OptionGroup var output: OutputOptions

    func validate() throws {
        // The limits a config has (training.threads, training.batch_size), and rows an Int32 id reaches.
        if let threads { guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be in 1...256, got \(threads)") } }
        if let batchSize {
            guard batchSize >= 1 && batchSize <= 4_194_304 else { throw ValidationError("--batch-size must be in 1...4194304, got \(batchSize)") }
        }
        guard rows >= 1 && rows <= Int(Int32.max) else { throw ValidationError("--rows must be in 1...\(Int32.max), got \(rows)") }
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be at least 1 and --warmup non-negative") }
        if config != nil {
            guard model == nil else { throw ValidationError("--model and --config: the config names its model") }
            guard rows == 100_000, !dynamicTables else { throw ValidationError("--rows and --dynamic-tables are a preset's: the config sets its tables") }
        } else {
            guard overrides.isEmpty else { throw ValidationError("--set overrides a key of --config") }
            let names = ModelRegistry.definitions.map { $0.benchName }
            if let model, ModelRegistry.definition(benchName: model) == nil {
                throw ValidationError("--model \(model): not one of \(names.joined(separator: ", "))")
            }
        }
    }

    /// What to time: the config's model, or the preset.
    func settings(ranks: Int) throws -> ThroughputBenchmark.Settings {
        var settings: ThroughputBenchmark.Settings
        if let config {
            let configuration: TrainingConfiguration
            do {
                configuration = try ConfigurationLoader.load(path: config, overrides: overrides)
            } catch let error as ConfigurationError {
                FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
                throw ExitCode.failure
            }
            settings = ThroughputBenchmark.Settings(configuration: configuration, ranks: ranks)
        } else {
            settings = ThroughputBenchmark.Settings(preset: model ?? DLRMDefinition.benchName, tableRows: rows,
                                                    dynamicTables: dynamicTables)!
        }
        if let threads { settings.threads = threads }
        if let precision { settings.precision = precision }
        if let backend {
            guard BackendRegistry.names.contains(backend) else {
                throw ValidationError("--backend: no backend '\(backend)' (known: \(BackendRegistry.names.joined(separator: ", ")))")
            }
            settings.backend = backend
        }
        if tf32 {
            guard settings.backend == "cuda" else { throw ValidationError("--tf32: TF32 products are a GPU's: it needs the cuda backend") }
            settings.tensorFloat32 = true
        }
        if let batchSize { settings.batchSize = batchSize }
        if noPipeline { settings.distributed.pipeline = false }
        settings.warmupSteps = warmup
        settings.timedSteps = steps
        if profile {
            guard settings.backend == "cpu" else { throw ValidationError("--profile times the cpu backend's operations, not \(settings.backend)'s") }
            settings.profilesOperations = true
        }
        return settings
    }

    func run() throws {
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        let settings = try self.settings(ranks: communicator.size)
        let dynamic = !settings.dynamicRules.isEmpty, batchSize = settings.batchSize, threads = settings.threads
        let console = Console(format: output.format, isRoot: communicator.isRoot)
        let transport = try BackendRegistry.communicator(over: communicator, backend: settings.backend,
                                                         transport: settings.distributed.deviceTransport)
        if settings.precision == .bf16 && settings.backend != "cuda" && CPUBackend.bfloat16Implementation == nil {
            console.progress("warning: --precision bf16: this CPU has no bf16 instructions (AVX512-BF16 or AMX); timing fp32 products")
        }
        let r = try ThroughputBenchmark.run(settings, communicator: transport) { console.progress($0) }
        func phases(_ names: [String]) -> String {
            names.map { "\($0) \(Training.format(r.phaseMillisecondsMedian[$0] ?? 0, 2)) ms" }.joined(separator: ", ")
        }
        var text = """
            model \(settings.name)\(dynamic ? " (dynamic tables)" : ""), \(r.ranks) rank(s) x \(batchSize) samples (global batch \(r.globalBatchSize)), \(threads) thread(s) per rank, \(r.parameterCount) parameters on rank 0
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
        if let operations = r.operations {
            text += "\n" + Self.profileTable(operations, steps: r.timedSteps, stepMilliseconds: r.stepMillisecondsMedian)
        }
        console.result(text: text, json: [
            "model": settings.name, "backend": settings.backend, "tf32": settings.tensorFloat32, "dynamic_tables": dynamic, "precision": r.precision, "batch_size": batchSize, "threads": threads, "ranks": r.ranks,
            "global_batch_size": r.globalBatchSize, "parameter_count": r.parameterCount, "all_reduce_bytes": r.allReduceBytes,
            "sync_gb_per_second": jsonValue(r.syncGigabytesPerSecond),
            "raw_all_reduce_gb_per_second": jsonValue(r.rawAllReduceGigabytesPerSecond),
            "samples_per_second": r.samplesPerSecond, "step_ms_median": r.stepMillisecondsMedian,
            "phase_ms_median": r.phaseMillisecondsMedian, "mlp_flops_per_sample": r.mlpFlopsPerSample,
            "gemm_peak_gflops": r.gemmPeakGflops, "ceiling_samples_per_second": r.ceilingSamplesPerSecond,
            "fraction_of_ceiling": r.fractionOfCeiling,
            "operations": r.operations.map { rows in
                rows.map { ["name": $0.name, "ms_per_step": 1000 * $0.seconds / Double(r.timedSteps),
                            "calls_per_step": Double($0.calls) / Double(r.timedSteps), "gflops": $0.flops > 0 ? $0.flops / $0.seconds / 1e9 : 0] }
            } ?? [],
        ])
    }

    /// The profile as a table: each operation's milliseconds per step, its share of the median
    /// step, its calls per step and, for GEMMs, the GFLOP/s they ran at.
    static func profileTable(_ rows: [OperationProfile.Row], steps: Int, stepMilliseconds: Double) -> String {
        let width = max(rows.map(\.name.count).max() ?? 0, 9)
        var lines = ["per operation (ms per step, share of the median step, calls per step, GFLOP/s of GEMMs):"]
        var total = 0.0
        for row in rows {
            let milliseconds = 1000 * row.seconds / Double(steps)
            // Rounding inside a GEMM is in the GEMM's time; calls that overlapped on the threads
            // add up to more than the wall time they took.
            if !row.name.hasSuffix("(within gemm)") && !row.name.hasSuffix(OperationProfile.overlappingSuffix) { total += milliseconds }
            let rate = row.flops > 0 ? "  \(Training.format(row.flops / row.seconds / 1e9, 1)) GFLOP/s" : ""
            lines.append("  " + row.name.padding(toLength: width, withPad: " ", startingAt: 0)
                         + "  \(Training.format(milliseconds, 3)) ms  \(Training.format(100 * milliseconds / stepMilliseconds, 1)) %"
                         + "  \(Training.format(Double(row.calls) / Double(steps), 1)) calls" + rate)
        }
        lines.append("  " + "all above".padding(toLength: width, withPad: " ", startingAt: 0)
                     + "  \(Training.format(total, 3)) ms  \(Training.format(100 * total / stepMilliseconds, 1)) % (the rest: data, exchange, host code\(rows.contains { $0.name.hasSuffix(OperationProfile.overlappingSuffix) } ? ", and the calls made on the threads at once" : ""))")
        return lines.joined(separator: "\n")
    }
}

extension MatmulPrecision: ExpressibleByArgument {}
