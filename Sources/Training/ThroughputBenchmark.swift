import Compute
import DataPipeline
import Dispatch
import NeuralNetwork

/// Training throughput of a model on synthetic data, measured as the reference benchmark
/// does: untimed warm-up steps, then the median of timed steps (forward, backward, optimizer;
/// filling the batch is timed apart), each on fresh samples.
public enum ThroughputBenchmark {
    public struct Settings: Sendable {
        public var architecture: ModelSection.Architecture = .dlrm
        public var batchSize = 2048
        public var tableCount = 26
        public var tableRows = 100_000
        public var embeddingDimension = 16
        public var threads = 1
        public var warmupSteps = 10
        public var timedSteps = 50
        public var learningRate: Float = 0.1
        public var optimizer: OptimizerAlgorithm = .sgd
        public init() {}
    }

    public struct Result: Sendable, Codable {
        public var model: String
        public var batchSize: Int
        public var threads: Int
        public var timedSteps: Int
        public var samplesPerSecond: Double
        public var stepMillisecondsMedian: Double
        public var phaseMillisecondsMedian: [String: Double]
        public var mlpFlopsPerSample: Double
        public var totalFlopsPerSample: Double
        public var gemmPeakGflops: Double
        /// Samples/s if the MLPs ran at `gemmPeakGflops` and everything else were free.
        public var ceilingSamplesPerSecond: Double
        public var fractionOfCeiling: Double
        public var parameterCount: Int
    }

    public static func run(_ settings: Settings, progress: (String) -> Void) throws -> Result {
        BLAS.setThreadCount(settings.threads)
        let d = settings.embeddingDimension, tables = settings.tableCount
        let dense = 13
        let rows = Array(repeating: settings.tableRows, count: tables)
        let model: RecommendationModel
        let mlps: [(sizes: [Int], firstLayerNeedsInputGradient: Bool)]
        switch settings.architecture {
        case .dlrm:
            let architecture = DLRMArchitecture(denseFeatureCount: dense, tableRowCounts: rows, embeddingDimension: d,
                                                bottomWidths: [512, 256, 64, d], topWidths: [512, 256, 1])
            let dlrm = try DLRM(architecture, batchCapacity: settings.batchSize, seed: 1)
            model = dlrm
            mlps = [([dense, 512, 256, 64, d], false), ([dlrm.interaction.outputWidth, 512, 256, 1], true)]
        case .wideDeep:
            let architecture = WideDeepArchitecture(denseFeatureCount: dense, tableRowCounts: rows,
                                                    embeddingDimension: d, deepWidths: [512, 256, 1])
            model = try WideDeep(architecture, batchCapacity: settings.batchSize, seed: 1)
            mlps = [([tables * d + dense, 512, 256, 1], true), ([dense, 1], false)]
        }
        let step = TrainingStep(model: model, settings: OptimizerSettings(algorithm: settings.optimizer))

        let totalSteps = settings.warmupSteps + settings.timedSteps
        var synthetic = SyntheticClickModel.Settings()
        synthetic.tableRowCounts = rows
        progress("generating \(totalSteps * settings.batchSize) synthetic samples")
        let data = SyntheticClickModel(synthetic).generate(count: totalSteps * settings.batchSize, stream: 0)
        let loader = BatchLoader(dataset: data, batchSize: settings.batchSize, shuffleSeed: nil, dropLast: true)

        var phases: [String: [Double]] = ["data": [], "forward": [], "backward": [], "optimizer": [], "step": []]
        for index in 0..<totalSteps {
            let t0 = DispatchTime.now()
            _ = loader.next()
            let t1 = DispatchTime.now()
            _ = try step.forward(loader.batch, globalBatchSize: loader.globalBatchSize)
            let t2 = DispatchTime.now()
            try step.backward(loader.batch, learningRate: settings.learningRate)
            let t3 = DispatchTime.now()
            step.update(learningRate: settings.learningRate)
            let t4 = DispatchTime.now()
            guard index >= settings.warmupSteps else { continue }
            phases["data"]!.append(milliseconds(t0, t1))
            phases["forward"]!.append(milliseconds(t1, t2))
            phases["backward"]!.append(milliseconds(t2, t3))
            phases["optimizer"]!.append(milliseconds(t3, t4))
            phases["step"]!.append(milliseconds(t1, t4))
        }
        let medians = phases.mapValues(median)
        let stepMilliseconds = medians["step"]!
        let samplesPerSecond = Double(settings.batchSize) / (stepMilliseconds / 1000)

        var mlpFlops = 0.0
        for mlp in mlps {
            mlpFlops += mlpFlopsPerSample(mlp.sizes, firstLayerNeedsInputGradient: mlp.firstLayerNeedsInputGradient)
        }
        var totalFlops = mlpFlops
        if settings.architecture == .dlrm {
            let f = Double(tables + 1)
            totalFlops += 3 * 2 * f * f * Double(d)  // interaction: forward and twice that backward
        }
        let peak = measureGemmPeak()
        let ceiling = peak * 1e9 / mlpFlops
        return Result(model: settings.architecture.rawValue, batchSize: settings.batchSize, threads: settings.threads,
                      timedSteps: settings.timedSteps, samplesPerSecond: samplesPerSecond,
                      stepMillisecondsMedian: stepMilliseconds,
                      phaseMillisecondsMedian: medians.filter { $0.key != "step" },
                      mlpFlopsPerSample: mlpFlops, totalFlopsPerSample: totalFlops, gemmPeakGflops: peak,
                      ceilingSamplesPerSecond: ceiling, fractionOfCeiling: samplesPerSecond / ceiling,
                      parameterCount: model.parameterCount)
    }

    /// Forward 2mn per layer, backward 2mn for dW plus 2mn for dX (none for the first layer
    /// when its input needs no gradient); bias, ReLU and loss are not counted.
    static func mlpFlopsPerSample(_ sizes: [Int], firstLayerNeedsInputGradient: Bool) -> Double {
        var flops = 0.0
        for i in 0..<(sizes.count - 1) {
            let mn = Double(sizes[i] * sizes[i + 1])
            flops += 4 * mn
            if i > 0 || firstLayerNeedsInputGradient { flops += 2 * mn }
        }
        return flops
    }

    /// GFLOP/s of one 2048 x 512 x 512 sgemm, the best of a few runs.
    public static func measureGemmPeak() -> Double {
        let m = 2048, n = 512, k = 512
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: k * n), c = FloatBuffer(count: m * n)
        for i in 0..<a.count { a[i] = Float(i % 7) * 0.1 }
        for i in 0..<b.count { b[i] = Float(i % 5) * 0.1 }
        var best = 0.0
        for _ in 0..<20 {
            let t0 = DispatchTime.now()
            BLAS.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a.base, lda: k, b: b.base, ldb: n,
                      beta: 0, c: c.base, ldc: n)
            let ms = milliseconds(t0, DispatchTime.now())
            best = max(best, 2 * Double(m * n * k) / (ms / 1000) / 1e9)
        }
        return best
    }

    static func milliseconds(_ start: DispatchTime, _ end: DispatchTime) -> Double {
        Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
