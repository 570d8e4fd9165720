import Compute
import Configuration
import DataPipeline
import Dispatch
import Distributed
import NeuralNetwork
import Training

/// Training throughput of a model on synthetic data, measured as the reference benchmark
/// does: untimed warm-up steps, then the median of timed steps (forward, backward, gradient
/// sync, optimizer; filling the batch is timed apart), each on fresh samples. Under mpirun
/// every rank trains its own `batchSize` samples of a global batch of `batchSize * ranks`
/// (tables placed by the `auto` plan), and the time in all-to-all and all-reduce is measured
/// apart, next to a raw `MPI_Allreduce` of the gradient arena.
public enum ThroughputBenchmark {
    public struct Settings: Sendable {
        public var architecture: ModelSection.Architecture = .dlrm
        /// Samples per rank and step.
        public var batchSize = 2048
        public var tableCount = 26
        public var tableRows = 100_000
        public var embeddingDimension = 16
        public var threads = 1
        public var warmupSteps = 10
        public var timedSteps = 50
        public var learningRate: Float = 0.1
        public var optimizer: OptimizerAlgorithm = .sgd
        /// DCNv2's cross layers and their rank (the reference's `small`: 3 of rank 64).
        public var crossLayers = 3
        public var crossRank = 64
        /// BST: the last table holds the behaviour sequences, of this many positions.
        public var sequenceLength = 20
        /// The matrix products' precision (bf16: oneDNN with fp32 accumulation).
        public var precision: MatmulPrecision = .fp32
        /// Dynamic tables (rows by raw id, `tableRows` of capacity in buckets of 64) instead of
        /// fixed ones; the ids are the same.
        public var dynamicTables = false
        /// Exchange the next batch's embedding requests during each step (`distributed.pipeline`).
        public var pipeline = true
        public init() {}
    }

    public struct Result: Sendable, Codable {
        public var model: String
        public var ranks: Int
        public var globalBatchSize: Int
        public var threads: Int
        public var timedSteps: Int
        public var samplesPerSecond: Double
        public var stepMillisecondsMedian: Double
        /// Median per step, slowest rank: data, forward, backward, sync, optimizer, and the time
        /// inside all-to-all and all-reduce calls (included in the others), and compute (the rest).
        public var phaseMillisecondsMedian: [String: Double]
        public var mlpFlopsPerSample: Double
        public var totalFlopsPerSample: Double
        /// The precision the GEMMs ran in, and the peak of one large GEMM in it.
        public var precision: String
        public var gemmPeakGflops: Double
        /// Samples/s if the MLPs ran at `gemmPeakGflops` and everything else were free (per rank).
        public var ceilingSamplesPerSecond: Double
        public var fractionOfCeiling: Double
        public var parameterCount: Int
        /// Dense gradient bytes all-reduced per step, and GB/s (bytes / time) reached by the
        /// bucketed gradient sync (one all-reduce per arena slice, as in training) and by one raw
        /// MPI_Allreduce of the whole arena, both timed after a barrier (nil with one rank). In
        /// training the sync also waits for the slowest rank: that is in the `all-reduce` phase.
        public var allReduceBytes: Int
        public var syncGigabytesPerSecond: Double?
        public var rawAllReduceGigabytesPerSecond: Double?
    }

    public static func run(_ settings: Settings, communicator base: Communicator = LocalCommunicator(),
                           progress: (String) -> Void) throws -> Result {
        BLAS.setThreadCount(settings.threads)
        let communicator = InstrumentedCommunicator(wrapping: base)
        let ranks = communicator.size
        let d = settings.embeddingDimension, tables = settings.tableCount
        let dense = 13
        let rule = settings.dynamicTables ? DynamicTablesSection.rule(capacity: settings.tableRows) : nil
        let rows = Array(repeating: rule?.capacity ?? settings.tableRows, count: tables)
        let makeEmbeddings = ModelFactory.withDynamicRules(
            rule.map { Array(repeating: $0, count: tables) } ?? [],
            ranks == 1 && rule == nil
                ? LocalEmbeddings.make
                : ShardedEmbeddings.factory(communicator: communicator, strategy: .auto,
                                            replicateMaxRows: DistributedSection().replicateMaxRows,
                                            rowWiseMinRows: DistributedSection().rowWiseMinRows))
        let backend = CPUBackend(matmulPrecision: settings.precision)
        let model: RecommendationModel
        let mlps: [(sizes: [Int], firstLayerNeedsInputGradient: Bool)]
        switch settings.architecture {
        case .dlrm:
            let architecture = DLRMArchitecture(denseFeatureCount: dense, tableRowCounts: rows, embeddingDimension: d,
                                                bottomWidths: [512, 256, 64, d], topWidths: [512, 256, 1])
            let dlrm = try DLRM(architecture, batchCapacity: settings.batchSize, seed: 1, backend: backend, makeEmbeddings: makeEmbeddings)
            model = dlrm
            mlps = [([dense, 512, 256, 64, d], false), ([dlrm.interaction.outputWidth, 512, 256, 1], true)]
        case .dcnv2:
            let architecture = DCNv2Architecture(denseFeatureCount: dense, tableRowCounts: rows, embeddingDimension: d,
                                                 bottomWidths: [512, 256, 64, d], crossLayers: settings.crossLayers,
                                                 crossRank: settings.crossRank, topWidths: [512, 256, 1])
            let dcn = try DCNv2(architecture, batchCapacity: settings.batchSize, seed: 1, backend: backend, makeEmbeddings: makeEmbeddings)
            model = dcn
            mlps = [([dense, 512, 256, 64, d], false), ([dcn.cross.width, 512, 256, 1], true)]
        case .wideDeep, .deepfm:
            let architecture = WideDeepArchitecture(denseFeatureCount: dense, tableRowCounts: rows, embeddingDimension: d,
                                                    deepWidths: [512, 256, 1],
                                                    factorizationMachine: settings.architecture == .deepfm)
            model = try WideDeep(architecture, batchCapacity: settings.batchSize, seed: 1, backend: backend, makeEmbeddings: makeEmbeddings)
            mlps = [([tables * d + dense, 512, 256, 1], true), ([dense, 1], false)]
        case .bst:
            let architecture = BSTArchitecture(denseFeatureCount: dense, tableRowCounts: rows, embeddingDimension: d,
                                               sequenceTable: tables - 1, sequenceLength: settings.sequenceLength, heads: 2,
                                               blocks: 1, feedForwardWidth: 4 * d, deepWidths: [512, 256, 1])
            model = try BST(architecture, batchCapacity: settings.batchSize, seed: 1, backend: backend, makeEmbeddings: makeEmbeddings)
            mlps = [([architecture.deepInputWidth, 512, 256, 1], true)]
        }
        let step = TrainingStep(model: model, settings: OptimizerSettings(algorithm: settings.optimizer),
                                communicator: communicator)

        let totalSteps = settings.warmupSteps + settings.timedSteps
        let globalBatch = settings.batchSize * ranks
        var synthetic = SyntheticClickModel.Settings()
        synthetic.tableRowCounts = Array(repeating: settings.tableRows, count: tables)
        synthetic.keyedTables = Array(repeating: settings.dynamicTables, count: tables)
        // BST's sequences: every bag holds `sequenceLength` ids (the context tables pool theirs).
        if settings.architecture == .bst { synthetic.idsPerSample = settings.sequenceLength }
        progress("generating \(totalSteps * globalBatch) synthetic samples")
        let data = SyntheticClickModel(synthetic).generate(count: totalSteps * globalBatch, stream: 0)
        let loader = BatchLoader(dataset: data, batchSize: globalBatch, shuffleSeed: nil, dropLast: true,
                                 rank: communicator.rank, worldSize: ranks, prefetch: true)

        let names = ["data", "forward", "backward", "sync", "optimizer", "step", "all-to-all", "all-reduce", "compute"]
        var phases: [String: [Double]] = Dictionary(uniqueKeysWithValues: names.map { ($0, []) })
        try communicator.barrier()
        for index in 0..<totalSteps {
            communicator.resetCounters()
            let t0 = DispatchTime.now()
            _ = try loader.next()
            let t1 = DispatchTime.now()
            // A backend may run its operations asynchronously: each phase ends when they have.
            _ = try step.forward(loader.batch, globalBatchSize: loader.globalBatchSize)
            if settings.pipeline, index + 1 < totalSteps, let next = loader.upcomingBatch() { try step.routeAhead(next) }
            model.backend.synchronize()
            let t2 = DispatchTime.now()
            try step.backward(learningRate: settings.learningRate)
            model.backend.synchronize()
            let t3 = DispatchTime.now()
            try step.synchronizeGradients()
            let t4 = DispatchTime.now()
            step.update(learningRate: settings.learningRate)
            model.backend.synchronize()
            let t5 = DispatchTime.now()
            guard index >= settings.warmupSteps else { continue }
            let stepMilliseconds = milliseconds(t1, t5)
            let exchange = communicator.allToAllSeconds * 1000, reduce = communicator.allReduceSeconds * 1000
            for (name, value) in [("data", milliseconds(t0, t1)), ("forward", milliseconds(t1, t2)),
                                  ("backward", milliseconds(t2, t3)), ("sync", milliseconds(t3, t4)),
                                  ("optimizer", milliseconds(t4, t5)), ("step", stepMilliseconds),
                                  ("all-to-all", exchange), ("all-reduce", reduce),
                                  ("compute", stepMilliseconds - exchange - reduce)] {
                phases[name]!.append(value)
            }
        }
        // Each rank's medians; the job runs at the pace of its slowest rank.
        let slowest = try communicator.allReduceMax(names.map { median(phases[$0]!) })
        let medians = Dictionary(uniqueKeysWithValues: zip(names, slowest))
        let stepMilliseconds = medians["step"]!
        let samplesPerSecond = Double(globalBatch) / (stepMilliseconds / 1000)

        var syncBandwidth: Double?, rawBandwidth: Double?
        let bytes = 4 * model.arena.count
        if ranks > 1 {
            let buckets = step.bucketRanges
            syncBandwidth = Double(bytes) / (try measureAllReduce(communicator: base) {
                for range in buckets {
                    try base.allReduceSum(model.arena.gradients.slice(range.lowerBound, range.count))
                }
            }) / 1e9
            let whole = model.backend.makeFloats(model.arena.count)
            rawBandwidth = Double(bytes) / (try measureAllReduce(communicator: base) {
                try base.allReduceSum(whole.whole)
            }) / 1e9
        }

        var mlpFlops = 0.0
        for mlp in mlps {
            mlpFlops += mlpFlopsPerSample(mlp.sizes, firstLayerNeedsInputGradient: mlp.firstLayerNeedsInputGradient)
        }
        var totalFlops = mlpFlops
        switch settings.architecture {
        case .dlrm:
            let f = Double(tables + 1)
            totalFlops += 3 * 2 * f * f * Double(d)  // interaction: forward and twice that backward
        case .dcnv2:
            // Per cross layer: two GEMMs of width x rank forward (4nr), four backward (8nr).
            totalFlops += 12 * Double((tables + 1) * d * settings.crossRank * settings.crossLayers)
        case .deepfm:
            totalFlops += 3 * 3 * Double(tables * d)  // FM: sums and squares forward, twice that backward
        case .bst:
            // Per position: four D x D projections and the feed-forward pair, attention over the
            // positions; backward twice the forward.
            let p = Double(settings.sequenceLength), width = Double(d)
            totalFlops += 3 * 2 * p * (4 * width * width + 2 * width * 4 * width + 2 * p * width)
        case .wideDeep:
            break
        }
        let peak = measureGemmPeak(backend: backend)
        let ceiling = peak * 1e9 / mlpFlops * Double(ranks)
        return Result(model: settings.architecture.rawValue, ranks: ranks, globalBatchSize: globalBatch,
                      threads: settings.threads, timedSteps: settings.timedSteps, samplesPerSecond: samplesPerSecond,
                      stepMillisecondsMedian: stepMilliseconds,
                      phaseMillisecondsMedian: medians.filter { $0.key != "step" },
                      mlpFlopsPerSample: mlpFlops, totalFlopsPerSample: totalFlops,
                      precision: backend.matmulPrecision.rawValue, gemmPeakGflops: peak,
                      ceilingSamplesPerSecond: ceiling, fractionOfCeiling: samplesPerSecond / ceiling,
                      parameterCount: model.parameterCount, allReduceBytes: bytes,
                      syncGigabytesPerSecond: syncBandwidth, rawAllReduceGigabytesPerSecond: rawBandwidth)
    }

    /// Median seconds (slowest rank) of `reduce` run after a barrier.
    static func measureAllReduce(communicator: Communicator, _ reduce: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for repetition in 0..<23 {
            try communicator.barrier()
            let start = DispatchTime.now()
            try reduce()
            if repetition >= 3 { times.append(milliseconds(start, DispatchTime.now()) / 1000) }
        }
        return try communicator.allReduceMax([median(times)])[0]
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

    /// GFLOP/s of one 2048 x 512 x 512 GEMM on `backend` (in its precision), the best of a few runs.
    public static func measureGemmPeak(backend: any ComputeBackend = CPUBackend()) -> Double {
        let m = 2048, n = 512, k = 512
        let a = backend.makeFloats(m * k), b = backend.makeFloats(k * n), c = backend.makeFloats(m * n)
        a.copy(from: (0..<a.count).map { Float($0 % 7) * 0.1 })
        b.copy(from: (0..<b.count).map { Float($0 % 5) * 0.1 })
        var best = 0.0
        for _ in 0..<20 {
            let t0 = DispatchTime.now()
            backend.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a.whole, lda: k, b: b.whole, ldb: n,
                         beta: 0, c: c.whole, ldc: n)
            backend.synchronize()
            let ms = milliseconds(t0, DispatchTime.now())
            best = max(best, 2 * Double(m * n * k) / (ms / 1000) / 1e9)
        }
        return best
    }

    static func seconds(since start: DispatchTime) -> Double { milliseconds(start, DispatchTime.now()) / 1000 }

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
