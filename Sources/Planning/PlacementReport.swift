import Compute
import Configuration
import Distributed
import NeuralNetwork

/// What a config costs on N ranks before anything is launched: where every table goes, the
/// bytes each rank holds (parameters plus optimizer state and lookup workspaces), and the bytes
/// one training step moves through all-to-all and all-reduce.
public struct PlacementReport: Sendable {
    public struct Collection: Sendable {
        public let name: String
        public let plan: ShardingPlan
    }

    public struct RankLoad: Sendable {
        public var embeddingRows = 0
        /// Embedding weights (as stored: 4 or 2 bytes a value) and their optimizer state.
        public var embeddingBytes = 0
        /// Each held table's row-gradient slot map (8 bytes a pair, at least twice the ids a step
        /// brings it), and the batch-sized maps that de-duplicate the ids requested (at most 4
        /// slots of 16 bytes per id of a step).
        public var workspaceBytes = 0
        /// Dynamic tables' key maps: per row held, its key, last use and use count
        /// (`DynamicTableRule.bytesPerRow`) and its admission counters (shared by the tables
        /// over the same feature, such as Wide&Deep's deep and wide ones).
        public var dynamicMapBytes = 0
        /// Dense values, gradients and optimizer state (a full replica on every rank).
        public var denseBytes = 0
        /// Upper bound: every id of this rank's slice distinct and served by another rank.
        public var allToAllBytesPerStep = 0
        public var totalBytes: Int { embeddingBytes + workspaceBytes + dynamicMapBytes + denseBytes }
    }

    public let ranks: Int
    public let collections: [Collection]
    public let denseParameterCount: Int
    public let loads: [RankLoad]
    /// Dense gradient bytes all-reduced per step.
    public let allReduceBytesPerStep: Int

    /// The counts of the model the config builds: its dense layout and its tables' sizes are
    /// read from the model made with its tables unallocated (`ModelFactory.makeLayout`).
    public init(_ configuration: TrainingConfiguration, ranks: Int) throws {
        let d = configuration.distributed
        let layout = try ModelFactory.makeLayout(configuration)
        collections = layout.embeddingCollections.map { collection in
            let specification = collection.specification
            return Collection(name: specification.name,
                              plan: ShardingPlan(tableRowCounts: specification.tableRowCounts, dimension: specification.dimension,
                                                 worldSize: ranks, strategy: d.sharding, replicateMaxRows: d.replicateMaxRows,
                                                 rowWiseMinRows: d.rowWiseMinRows,
                                                 bucketRows: specification.dynamicTables.map { $0?.bucketRows ?? 1 }))
        }
        denseParameterCount = layout.arena.entries.reduce(0) { $0 + $1.count }
        let algorithm = configuration.training.optimizer.algorithm
        let denseStates = algorithm == .sgd ? 0 : algorithm == .adagrad ? 1 : 2
        let idsPerSample = configuration.data.idsPerSample, multiHotSizes = configuration.data.multiHotSizes
        // Bytes of a stored value, of one crossing to a requester (bf16 rows cross as stored),
        // and of a row gradient's value crossing to its owner.
        let valueBytes = configuration.model.tablePrecision.bytesPerValue
        let exchangedBytes = d.exchangePrecision.format == nil ? 4 : 2
        let rowBytes = min(valueBytes, exchangedBytes)
        let stateBytes = configuration.model.tablePrecision == .bf16 ? configuration.training.optimizer.tableStatePrecision.bytesPerValue : 4
        var loads = [RankLoad](repeating: RankLoad(), count: ranks)
        for r in 0..<ranks {
            let localBatch = (configuration.training.batchSize + ranks - 1 - r) / ranks
            loads[r].denseBytes = 4 * denseParameterCount * (2 + denseStates)
            // One request map (reused table after table) for the most ids a table has in a step.
            let mostIDs = localBatch * max(idsPerSample, multiHotSizes.max() ?? 1) * (ranks > 1 ? 1 : 0)
            loads[r].workspaceBytes += 4 * 16 * mostIDs
            for (c, collection) in collections.enumerated() {
                for (t, table) in collection.plan.tables.enumerated() {
                    let held = collection.plan.rows(ofTable: t, rank: r).count, dimension = table.dimension
                    let stateFloats: Int
                    switch algorithm {
                    case .sgd: stateFloats = 0
                    case .adagrad: stateFloats = held
                    case .adam: stateFloats = 2 * held * dimension
                    }
                    loads[r].embeddingRows += held
                    loads[r].embeddingBytes += valueBytes * held * dimension + stateBytes * stateFloats
                    if table.isDynamic && c == 0 {
                        loads[r].dynamicMapBytes += held * (DynamicTableRule.bytesPerRow + DynamicTableRule.sketchCountersPerRow)
                    }
                    let idsPerBag = t < multiHotSizes.count ? multiHotSizes[t] : idsPerSample
                    let ids = localBatch * idsPerBag
                    // An owner's gradient takes every rank's ids of the table at most.
                    let stepIDs = configuration.training.batchSize * idsPerBag
                    if held > 0 { loads[r].workspaceBytes += 8 * SparseRowGradient.slotMapPairs(capacity: stepIDs) }
                    switch table.placement {
                    case .replicated:
                        // Row gradients go to every other rank.
                        loads[r].allToAllBytesPerStep += ids * (8 + 4 * dimension) * (ranks - 1)
                    case .tableWise(let owner) where owner == r: break
                    case .tableWise, .rowWise:
                        // Request (table, row) and a dynamic table's key, the row back, its gradient out.
                        let remote = table.placement == .rowWise ? ids * (ranks - 1) / ranks : ids
                        loads[r].allToAllBytesPerStep += remote * (8 + (table.isDynamic ? 8 : 0) + (rowBytes + exchangedBytes) * dimension)
                    }
                }
            }
        }
        self.ranks = ranks
        self.loads = loads
        allReduceBytesPerStep = ranks > 1 ? 4 * denseParameterCount : 0
    }
}

extension ShardingPlan.Placement: CustomStringConvertible {
    public var description: String {
        switch self {
        case .tableWise(let owner): return "table-wise on rank \(owner)"
        case .rowWise: return "row-wise over all ranks"
        case .replicated: return "replicated on every rank"
        }
    }
}
