import Backends
import Compute
import Configuration
import DataPipeline
import Dispatch
import Distributed
import Models
import NeuralNetwork
import Planning
import Training

/// Training throughput of a model on synthetic data, measured as the reference benchmark
/// does: untimed warm-up steps, then the median of timed steps (forward, backward, gradient
/// sync, optimizer; filling the batch is timed apart), each on fresh samples. Under mpirun
/// every rank trains its own `batchSize` samples of a global batch of `batchSize * ranks`
/// (tables placed by the `auto` plan), and the time in all-to-all and all-reduce is measured
/// apart, next to a raw `MPI_Allreduce` of the gradient arena.
public enum ThroughputBenchmark {
    public struct Settings: Sendable {
        /// `bench --model`'s name of the model, as printed.
        public var name = DLRMDefinition.benchName
        /// The architecture, with its own sizes, and the shape it is built to.
        public var definition: any ModelDefinition = DLRMDefinition.benchPreset(embeddingDimension: 16).definition
        public var shape = ModelShape(denseFeatureCount: 13, tableRowCounts: Array(repeating: 100_000, count: 26), embeddingDimension: 16)
        /// Per table, its rule when it is dynamic (rows by raw id, `tableRowCounts` of capacity);
        /// empty when every table is fixed. The ids are drawn as for fixed tables.
        public var dynamicRules: [DynamicTableRule?] = []
        /// Ids in every bag, and per table the bag each id becomes (empty: as drawn).
        public var idsPerSample = 1
        public var multiHotSizes: [Int] = []
        /// Samples per rank and step.
        public var batchSize = 2048
        public var threads = 1
        public var warmupSteps = 10
        public var timedSteps = 50
        public var learningRate: Float = 0.1
        public var optimizer = OptimizerSettings(algorithm: .sgd)
        /// Where the parameters live and the arithmetic runs (a name in `BackendRegistry`), and
        /// the matrix products' precision (bf16: oneDNN with fp32 accumulation).
        public var backend = "cpu"
        /// Times every backend operation of the timed steps (the CPU backend, `ProfiledCPUBackend`).
        public var profilesOperations = false
        public var precision: MatmulPrecision = .fp32
        /// fp32 products in TF32 (the cuda backend).
        public var tensorFloat32 = false
        /// The tables' placement over ranks and the rows' exchange format; `pipeline`: exchange
        /// the next batch's embedding requests during each step.
        public var distributed = DistributedSection()
        public var seed: UInt64 = 1
        public init() {}

        /// The preset of the architecture `bench --model` calls `benchName` (the reference's
        /// "small": 26 tables of `tableRows` rows, 16 wide, 13 dense features), if registered.
        public init?(preset benchName: String, tableRows: Int = 100_000, dynamicTables: Bool = false) {
            guard let architecture = ModelRegistry.definition(benchName: benchName) else { return nil }
            let preset = architecture.benchPreset(embeddingDimension: 16)
            let rule = dynamicTables ? DynamicTablesSection.rule(capacity: tableRows) : nil
            name = benchName
            definition = preset.definition
            idsPerSample = preset.idsPerSample
            shape = ModelShape(denseFeatureCount: 13, tableRowCounts: Array(repeating: rule?.capacity ?? tableRows, count: 26),
                               embeddingDimension: 16, hasDynamicTables: dynamicTables, taskCount: architecture.benchTaskCount)
            dynamicRules = rule.map { Array(repeating: $0, count: 26) } ?? []
        }

        /// The model of a config on synthetic data of its shape: its sizes, tables, precision,
        /// backend, optimizer, placement and its global batch split over `ranks`.
        public init(configuration c: TrainingConfiguration, ranks: Int) {
            name = c.model.architecture
            definition = c.model.definition
            shape = c.modelShape
            dynamicRules = c.model.dynamicRules
            idsPerSample = c.data.idsPerSample
            multiHotSizes = c.data.multiHotSizes
            batchSize = max(c.training.batchSize / max(ranks, 1), 1)
            threads = c.training.threads
            learningRate = Float(c.training.optimizer.learningRate)
            optimizer = ModelFactory.optimizerSettings(c)
            backend = c.training.backend
            precision = c.training.precision
            tensorFloat32 = c.training.tensorFloat32
            distributed = c.distributed
            seed = UInt64(c.training.seed)
        }
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
        /// With `profilesOperations`: each operation's time, calls and FLOPs over the timed steps.
        public var operations: [OperationProfile.Row]?
    }

    public static func run(_ settings: Settings, communicator base: Communicator = LocalCommunicator(),
                           progress: (String) -> Void) throws -> Result {
        BLAS.setThreadCount(settings.threads)
        let communicator = InstrumentedCommunicator(wrapping: base)
        let ranks = communicator.size
        let makeEmbeddings = ModelFactory.withDynamicRules(
            settings.dynamicRules,
            ModelFactory.embeddingFactory(settings.distributed, hasDynamicTables: !settings.dynamicRules.isEmpty,
                                          communicator: communicator))
        let profiled = settings.profilesOperations ? ProfiledCPUBackend(matmulPrecision: settings.precision) : nil
        let backend = try profiled ?? BackendRegistry.make(settings.backend, precision: settings.precision,
                                                           tensorFloat32: settings.tensorFloat32)
        let model = try settings.definition.makeModel(settings.shape, batchCapacity: settings.batchSize, seed: settings.seed,
                                                      backend: backend, makeEmbeddings: makeEmbeddings)
        // A retriever trains by its in-batch softmax (every item seen as often: no log Q to learn).
        let objective = settings.definition.retrieval.map {
            InBatchSoftmax(settings: $0, vectorWidth: model.outputCount / 2, batchCapacity: settings.batchSize,
                           globalBatchCapacity: settings.batchSize * communicator.size,
                           itemCounts: Array(repeating: 1, count: settings.shape.tableRowCounts[$0.itemKeyTable]), backend: backend,
                           communicator: communicator)
        }
        let step = TrainingStep(model: model, settings: settings.optimizer, communicator: communicator, objective: objective)

        let totalSteps = settings.warmupSteps + settings.timedSteps
        let globalBatch = settings.batchSize * ranks
        var synthetic = SyntheticClickModel.Settings()
        synthetic.denseFeatureCount = settings.shape.denseFeatureCount
        // A dynamic table's ids are drawn from as many as it has rows of capacity.
        synthetic.tableRowCounts = settings.shape.tableRowCounts
        synthetic.keyedTables = settings.shape.tableRowCounts.indices.map {
            settings.dynamicRules.indices.contains($0) && settings.dynamicRules[$0] != nil
        }
        synthetic.idsPerSample = settings.idsPerSample
        synthetic.tasks = [.click] + (1..<max(settings.shape.taskCount, 1)).map { PredictionTask(name: "task\($0)") }
        progress("generating \(totalSteps * globalBatch) synthetic samples")
        var data: SampleSource = SyntheticClickModel(synthetic).generate(count: totalSteps * globalBatch, stream: 0)
        if !settings.multiHotSizes.isEmpty {
            data = try MultiHotExpansion(data, sizes: settings.multiHotSizes,
                                         tableRows: synthetic.keyedTables.indices.map { synthetic.keyedTables[$0] ? 0 : synthetic.tableRowCounts[$0] })
        }
        let loader = BatchLoader(dataset: data, batchSize: globalBatch, shuffleSeed: nil, dropLast: true,
                                 rank: communicator.rank, worldSize: ranks, prefetch: true)

        let names = ["data", "forward", "backward", "sync", "optimizer", "step", "all-to-all", "all-reduce", "compute"]
        var phases: [String: [Double]] = Dictionary(uniqueKeysWithValues: names.map { ($0, []) })
        try communicator.barrier()
        for index in 0..<totalSteps {
            if index == settings.warmupSteps { profiled?.profile.reset() }
            communicator.resetCounters()
            let t0 = DispatchTime.now()
            _ = try loader.next()
            let t1 = DispatchTime.now()
            // A backend may run its operations asynchronously: each phase ends when they have.
            _ = try step.forward(loader.batch, globalBatchSize: loader.globalBatchSize)
            if settings.distributed.pipeline, index + 1 < totalSteps, let next = loader.upcomingBatch() { try step.routeAhead(next) }
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
        let operations = profiled?.profile.table
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

        let flops = settings.definition.flopsPerSample(of: model)
        let mlpFlops = flops.mlps, totalFlops = flops.mlps + flops.other
        let peak = measureGemmPeak(backend: backend)
        let ceiling = peak * 1e9 / mlpFlops * Double(ranks)
        return Result(model: settings.name, ranks: ranks, globalBatchSize: globalBatch,
                      threads: settings.threads, timedSteps: settings.timedSteps, samplesPerSecond: samplesPerSecond,
                      stepMillisecondsMedian: stepMilliseconds,
                      phaseMillisecondsMedian: medians.filter { $0.key != "step" },
                      mlpFlopsPerSample: mlpFlops, totalFlopsPerSample: totalFlops,
                      precision: backend.matmulPrecision.rawValue, gemmPeakGflops: peak,
                      ceilingSamplesPerSecond: ceiling, fractionOfCeiling: samplesPerSecond / ceiling,
                      parameterCount: model.parameterCount, allReduceBytes: bytes,
                      syncGigabytesPerSecond: syncBandwidth, rawAllReduceGigabytesPerSecond: rawBandwidth, operations: operations)
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
