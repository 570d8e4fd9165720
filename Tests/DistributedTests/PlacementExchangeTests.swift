import Compute
import DataPipeline
import Distributed
import NeuralNetwork
import Testing
import TestSupport

/// Every placement's exchange, with 2, 3 and 4 ranks as threads (`ThreadCommunicator`): each
/// rank pools its slice of a global batch and applies SGD from its slice's gradients (fused in
/// backward, or collected and applied by the sparse optimizer); the pooled vectors and the
/// updated rows (every shard, every replica) equal those of one process holding every table.
/// Global batches of 7 (uneven slices) and 3 (with 4 ranks, one rank has no samples and requests
/// nothing). The ranks run on the CPU backend and on the separate-memory backend; sum pooling,
/// and mean pooling once per case.
@Suite struct PlacementExchangeTests {
    static let specification = EmbeddingSpecification(name: "embeddings", tableRowCounts: [3, 40, 300, 2000], dimension: 4, seed: 11)
    static func specification(_ pooling: Pooling) -> EmbeddingSpecification {
        var specification = Self.specification
        specification.pooling = pooling
        return specification
    }
    static let learningRate: Float = 0.5

    /// Multi-hot bags (up to 3 ids, repeats within and across bags, empty bags) for `size` samples.
    static func globalBags(size: Int) -> [[[Int32]]] {
        var random = SeededGenerator(seed: 5)
        return specification.tableRowCounts.map { rows in
            (0..<size).map { _ in
                (0..<Int(random.next() % 4)).map { _ in Int32(random.next() % UInt64(min(rows, 6))) * Int32(rows / min(rows, 6)) }
            }
        }
    }

    /// A batch of the bags of `samples`.
    static func batch(_ bags: [[[Int32]]], samples: Range<Int>) -> Batch {
        let batch = Batch(capacity: max(samples.count, 1), denseFeatureCount: 0, tableCount: bags.count, idsPerSample: 3)
        for (t, tableBags) in bags.enumerated() {
            var k = 0
            batch.sparse[t].offsets[0] = 0
            for (b, sample) in samples.enumerated() {
                for id in tableBags[sample] { batch.sparse[t].ids[k] = id; k += 1 }
                batch.sparse[t].offsets[b + 1] = Int32(k)
            }
        }
        batch.size = samples.count
        return batch
    }

    /// The pooled-output gradient of every sample (batch-major, tables side by side).
    static func outputGradient(size: Int) -> [Float] {
        var random = TestRandom(seed: 8)
        return random.normals(size * width).map(Float.init)
    }

    static var width: Int { specification.tableRowCounts.count * specification.dimension }
    static var layout: PooledLayout { PooledLayout(firstOffset: 0, tableOffset: specification.dimension, rowStride: width) }

    /// What one rank (or the single process) ends with: its pooled vectors and its rows.
    struct Outcome: Sendable {
        var pooled: [Float]
        var tables: [(name: String, firstRow: Int, weights: [Float])]
    }

    /// Forward and backward of `batch` on `backend`, with SGD fused or by the sparse optimizer.
    static func run(_ embeddings: EmbeddingCollection, backend: any ComputeBackend, batch: Batch, gradient: [Float],
                    fused: Bool) throws -> Outcome {
        let inputs = DeviceBatch(backend: backend, capacity: max(batch.size, 1), denseFeatureCount: 0, tableCount: batch.tableCount)
        inputs.load(batch)
        let pooled = backend.makeFloats(max(batch.size, 1) * width)
        try embeddings.forward(inputs, output: pooled.whole, layout: layout)
        let outputGradient = backend.makeFloats(gradient.count)
        outputGradient.copy(from: gradient)
        try embeddings.backward(inputs, outputGradient: outputGradient.whole, layout: layout,
                                mode: fused ? .fusedSGD(learningRate: learningRate) : .collectGradients)
        if !fused {
            SparseOptimizer(settings: OptimizerSettings(algorithm: .sgd), tables: embeddings.localTables)
                .step(tables: embeddings.localTables, learningRate: learningRate)
        }
        return Outcome(pooled: Array(pooled.toArray().prefix(batch.size * width)),
                       tables: embeddings.localTables.map { ($0.name, $0.firstRow, $0.weights.toArray()) })
    }


    @Test(arguments: ShardingPlan.Strategy.allCases, [2, 3, 4])
    func exchangeEqualsOneProcess(strategy: ShardingPlan.Strategy, ranks: Int) throws {
        for size in [7, 3] {
            for backendName in TestBackends.names {
                for fused in [true, false] {
                    try check(strategy: strategy, ranks: ranks, size: size, backendName: backendName, fused: fused, pooling: .sum)
                }
            }
            try check(strategy: strategy, ranks: ranks, size: size, backendName: "cpu", fused: false, pooling: .mean)
        }
    }

    func check(strategy: ShardingPlan.Strategy, ranks: Int, size: Int, backendName: String, fused: Bool, pooling: Pooling) throws {
        let context = "\(strategy) on \(ranks) ranks, batch \(size), \(backendName), \(fused ? "fused" : "collected"), \(pooling)"
        let specification = Self.specification(pooling)
        let bags = Self.globalBags(size: size), gradient = Self.outputGradient(size: size)
        let reference = CPUBackend()
        let whole = try Self.run(LocalEmbeddings(specification, backend: reference, batchCapacity: size), backend: reference,
                                 batch: Self.batch(bags, samples: 0..<size), gradient: gradient, fused: true)
        let outcomes = try ThreadCommunicator.run(ranks: ranks) { communicator in
            let plan = ShardingPlan(tableRowCounts: Self.specification.tableRowCounts, dimension: Self.specification.dimension,
                                    worldSize: communicator.size, strategy: strategy, replicateMaxRows: 40, rowWiseMinRows: 1000)
            let slice = BatchLoader.slice(of: size, rank: communicator.rank, worldSize: communicator.size)
            let capacity = BatchLoader.slice(of: size, rank: 0, worldSize: communicator.size).count
            let backend = TestBackends.make(backendName)
            let sharded = ShardedEmbeddings(specification, plan: plan, communicator: communicator, backend: backend,
                                            batchCapacity: capacity)
            let mine = Array(gradient[(slice.lowerBound * Self.width)..<(slice.upperBound * Self.width)]) + [0]
            return (slice, try Self.run(sharded, backend: backend, batch: Self.batch(bags, samples: slice), gradient: mine,
                                        fused: fused))
        }
        var tablesSeen = Set<String>()
        for (slice, outcome) in outcomes {
            let expected = Array(whole.pooled[(slice.lowerBound * Self.width)..<(slice.upperBound * Self.width)])
            #expect(outcome.pooled == expected, "\(context): pooled vectors of \(slice)")
            for table in outcome.tables {
                let reference = whole.tables.first { $0.name == table.name }!.weights
                let rows = Array(reference[(table.firstRow * 4)..<(table.firstRow * 4 + table.weights.count)])
                let worst = zip(rows, table.weights).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-6, "\(context): \(table.name) from row \(table.firstRow)")
                tablesSeen.insert(table.name)
            }
        }
        #expect(tablesSeen.count == 4, "\(context): every table is held somewhere")
    }
}
