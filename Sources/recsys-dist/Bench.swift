import ArgumentParser
import Foundation
import Training

/// Choices of `bench --model`.
enum BenchModel: String, ExpressibleByArgument, CaseIterable {
    case dlrm
    case wideDeep = "wide-deep"

    var architecture: ModelSection.Architecture { self == .dlrm ? .dlrm : .wideDeep }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput of DLRM \"small\" or Wide&Deep (26 tables, batch 2048) on synthetic data.",
        discussion: "Build in release mode (swift build -c release) before measuring.")

    @Option(help: "dlrm or wide-deep.") var model: BenchModel = .dlrm
    @Option(help: "OpenBLAS threads.") var threads = 1
    @Option(help: "Global batch size.") var batchSize = 2048
    @Option(help: "Rows per embedding table.") var rows = 100_000
    @Option(help: "Untimed steps first.") var warmup = 10
    @Option(help: "Timed steps.") var steps = 50
    @Option(help: "Output format: text or json.") var format: OutputFormat = .text

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1") }
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be at least 1 and --warmup non-negative") }
    }

    func run() throws {
        var settings = ThroughputBenchmark.Settings()
        settings.architecture = model.architecture
        settings.threads = threads
        settings.batchSize = batchSize
        settings.tableRows = rows
        settings.warmupSteps = warmup
        settings.timedSteps = steps
        let console = Console(format: format, isRoot: true)
        let r = try ThroughputBenchmark.run(settings) { console.progress($0) }
        let phases = ["data", "forward", "backward", "optimizer"].map {
            "\($0) \(Training.format(r.phaseMillisecondsMedian[$0] ?? 0, 2)) ms"
        }.joined(separator: ", ")
        let text = """
            model \(model.rawValue), batch \(batchSize), \(threads) thread(s), \(r.parameterCount) parameters
            samples/s: \(Int(r.samplesPerSecond.rounded())) (median step \(Training.format(r.stepMillisecondsMedian, 2)) ms over \(steps) steps)
            phases (median): \(phases)
            MLP GFLOP/s: \(Training.format(r.mlpFlopsPerSample * r.samplesPerSecond / 1e9, 1)) of sgemm peak \(Training.format(r.gemmPeakGflops, 1))
            ceiling (MLPs at sgemm peak): \(Int(r.ceilingSamplesPerSecond.rounded())) samples/s; reached \(Training.format(100 * r.fractionOfCeiling, 1)) %
            """
        console.result(text: text, json: [
            "model": model.rawValue, "batch_size": batchSize, "threads": threads,
            "samples_per_second": r.samplesPerSecond, "step_ms_median": r.stepMillisecondsMedian,
            "phase_ms_median": r.phaseMillisecondsMedian, "mlp_flops_per_sample": r.mlpFlopsPerSample,
            "gemm_peak_gflops": r.gemmPeakGflops, "ceiling_samples_per_second": r.ceilingSamplesPerSecond,
            "fraction_of_ceiling": r.fractionOfCeiling,
        ])
    }
}
