import Compute
import NeuralNetwork

/// Embedding tables placed over the ranks by a `ShardingPlan`, looked up through all-to-all.
///
/// Forward, per step: each rank de-duplicates the ids of its local batch, sends every distinct
/// (table, row) to the rank that owns it (`MPI_Alltoall` of counts, then `MPI_Alltoallv` of the
/// ids), the owners answer with the rows (`MPI_Alltoallv`), and each rank pools its bags from
/// them. Tables this rank holds whole (replicated, or placed here) are looked up locally.
/// Backward runs the same exchange in reverse:
/// each rank sums the gradient of each distinct row it asked for and sends it to the owner, and
/// the owner accumulates what all ranks sent in rank order, so the result equals one process's
/// up to floating-point summation order. Replicated tables share their row gradients with every
/// rank (an all-gather over the same all-to-all), so each copy takes identical updates.
///
/// Rows, gradients and the exchange buffers are backend memory; the routing is planned on the
/// host (`RequestRouting`) and copied to the backend.
public final class ShardedEmbeddings: EmbeddingCollection, @unchecked Sendable {
    public let specification: EmbeddingSpecification
    public let plan: ShardingPlan
    public let communicator: Communicator
    public let backend: any ComputeBackend
    /// Per table: the shard this rank holds, or nil.
    private let shards: [EmbeddingTable?]
    public let localTables: [EmbeddingTable]
    /// Per table: the rows this rank holds, as the backend's row operations name them.
    private let shardRows: [ShardRows?]
    private let rank: Int
    private let dimension: Int

    /// The requests of the current batch (shared with a collection over the same features).
    private let routing: RequestRouting
    /// Whether this collection routes the requests (or reuses another's routing).
    private let leadsRouting: Bool
    /// Counts and offsets of one all-to-all in elements (requests times a width), rewritten in
    /// place every step so the exchange allocates nothing.
    private var elementSendCounts: [Int32]
    private var elementSendOffsets: [Int32]
    private var elementReceiveCounts: [Int32]
    private var elementReceiveOffsets: [Int32]
    private var servedRows: DeviceBuffer<Float>
    private var fetchedRows: DeviceBuffer<Float>
    private var gradientsToSend: DeviceBuffer<Float>
    private var receivedGradients: DeviceBuffer<Float>
    /// The replicated tables' row gradients shared with every rank.
    private let replicas: ReplicaGradientExchange

    /// - Parameter sharingRoutingWith: a collection over the same features (the same ids, table
    ///   sizes and placement; Wide&Deep's deep tables for its wide ones) whose forward runs first
    ///   on every batch: this one then reuses its request routing instead of exchanging the ids again.
    public init(_ specification: EmbeddingSpecification, plan: ShardingPlan, communicator: Communicator,
                backend: any ComputeBackend, batchCapacity: Int, sharingRoutingWith leader: ShardedEmbeddings? = nil) {
        precondition(plan.tables.count == specification.tableRowCounts.count, "ShardedEmbeddings: plan and tables differ")
        self.specification = specification
        self.plan = plan
        self.communicator = communicator
        self.backend = backend
        rank = communicator.rank
        dimension = specification.dimension
        shards = specification.tableRowCounts.enumerated().map { t, rows in
            let held = plan.rows(ofTable: t, rank: communicator.rank)
            guard !held.isEmpty else { return nil }
            let shard = EmbeddingTable(backend: backend, name: "\(specification.name)/table\(t)", rowCount: held.count,
                                       dimension: specification.dimension, batchCapacity: batchCapacity * communicator.size,
                                       pooling: specification.pooling, firstRow: held.lowerBound,
                                       isReplica: plan.tables[t].placement == .replicated, wholeTableRowCount: rows)
            if let seed = specification.seed { shard.initializeUniform(seed: seed, tableIndex: t) }
            return shard
        }
        localTables = shards.compactMap { $0 }
        shardRows = shards.map { $0?.shardRows }
        if let leader {
            precondition(leader.plan.tables.map(\.placement) == plan.tables.map(\.placement)
                         && leader.specification.tableRowCounts == specification.tableRowCounts,
                         "ShardedEmbeddings: routing is shared only between collections over the same features")
            routing = leader.routing
            leadsRouting = false
        } else {
            routing = RequestRouting(backend: backend, tableRowCounts: specification.tableRowCounts, batchCapacity: batchCapacity,
                                     worldSize: communicator.size,
                                     routed: (0..<plan.tables.count).map { !plan.holdsWhole(table: $0, rank: communicator.rank) })
            leadsRouting = true
        }
        let zeros = [Int32](repeating: 0, count: communicator.size)
        elementSendCounts = zeros
        elementSendOffsets = zeros
        elementReceiveCounts = zeros
        elementReceiveOffsets = zeros
        servedRows = backend.makeFloats(0)
        fetchedRows = backend.makeFloats(0)
        gradientsToSend = backend.makeFloats(0)
        receivedGradients = backend.makeFloats(0)
        replicas = ReplicaGradientExchange(tables: shards.enumerated().map { t, shard in
            plan.tables[t].placement == .replicated ? shard : nil
        }, communicator: communicator, backend: backend)
    }

    /// A factory for models: every collection of the model sharded by `plan` (built for the
    /// collection's table sizes and dimension). A collection over the same features as one built
    /// before it (Wide&Deep's wide tables, given the deep ones) shares that one's request routing.
    public static func factory(communicator: Communicator, strategy: ShardingPlan.Strategy, replicateMaxRows: Int,
                               rowWiseMinRows: Int) -> EmbeddingFactory {
        { specification, backend, batchCapacity, sameFeaturesAs in
            let plan = ShardingPlan(tableRowCounts: specification.tableRowCounts, dimension: specification.dimension,
                                    worldSize: communicator.size, strategy: strategy, replicateMaxRows: replicateMaxRows,
                                    rowWiseMinRows: rowWiseMinRows)
            let leader = (sameFeaturesAs as? ShardedEmbeddings).flatMap { leader in
                leader.plan.tables.map(\.placement) == plan.tables.map(\.placement) ? leader : nil
            }
            return ShardedEmbeddings(specification, plan: plan, communicator: communicator, backend: backend,
                                     batchCapacity: batchCapacity, sharingRoutingWith: leader)
        }
    }

    private func isReplicated(_ t: Int) -> Bool { plan.tables[t].placement == .replicated }

    /// Whether this rank holds every row of table t (a replica, or a whole table placed here):
    /// its lookups skip the exchange.
    private func isWhollyLocal(_ t: Int) -> Bool { plan.holdsWhole(table: t, rank: rank) }

    /// Table t's bags with each id replaced by the send position of its request: the bags of
    /// the fetched rows.
    private func requestBags(_ batch: DeviceBatch, _ t: Int) -> EmbeddingBags {
        let bags = batch.bags(t)
        return EmbeddingBags(ids: routing.devicePositions[t].whole, offsets: bags.offsets, rows: bags.rows, idCount: bags.idCount)
    }

    /// Sends `width` elements per request to the owners (`toOwners`), or answers from the
    /// owners back to the requesters.
    private func exchange(_ send: DeviceBuffer<Float>, _ receive: DeviceBuffer<Float>, width: Int, toOwners: Bool) throws {
        let r = routing
        scale(toOwners ? r.sendCounts : r.receiveCounts, toOwners ? r.sendOffsets : r.receiveOffsets, by: width,
              into: &elementSendCounts, &elementSendOffsets)
        scale(toOwners ? r.receiveCounts : r.sendCounts, toOwners ? r.receiveOffsets : r.sendOffsets, by: width,
              into: &elementReceiveCounts, &elementReceiveOffsets)
        try communicator.allToAllV(send: send.whole, sendCounts: elementSendCounts, sendOffsets: elementSendOffsets,
                                   receive: receive.whole, receiveCounts: elementReceiveCounts, receiveOffsets: elementReceiveOffsets)
    }

    /// A buffer of at least `count` floats: `buffer`, or a new one twice that size.
    private func sized(_ buffer: DeviceBuffer<Float>, _ count: Int) -> DeviceBuffer<Float> {
        buffer.count >= count ? buffer : backend.makeFloats(2 * count)
    }

    // MARK: Forward

    public func forward(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) throws {
        try fetchRows(batch)
        for t in 0..<plan.tables.count {
            let destination = layout.start(ofTable: t, in: output)
            if isWhollyLocal(t) {
                shards[t]!.forward(batch.bags(t), output: destination, outputStride: layout.rowStride)
            } else {
                backend.embeddingBags(requestBags(batch, t), table: fetchedRows.whole, dimension: dimension,
                                      output: destination, outputStride: layout.rowStride, pooling: specification.pooling)
            }
        }
    }

    public func forwardSum(_ batch: DeviceBatch, output: DeviceSlice<Float>) throws {
        precondition(dimension == 1, "forwardSum needs width-1 tables")
        try fetchRows(batch)
        for t in 0..<plan.tables.count {
            if isWhollyLocal(t) {
                shards[t]!.forwardAddingScalars(batch.bags(t), output: output)
            } else {
                backend.embeddingBagsAddingScalars(requestBags(batch, t), table: fetchedRows.whole, output: output)
            }
        }
    }

    /// Routes the requests of `batch` (unless another collection over the same features just
    /// did), serves the rows asked of this rank, and leaves the answered rows in `fetchedRows` at
    /// each request's send position.
    private func fetchRows(_ batch: DeviceBatch) throws {
        if leadsRouting { try routing.route(batch.host, plan: plan, rank: rank, communicator: communicator) }
        let served = routing.served
        servedRows = sized(servedRows, served * dimension)
        fetchedRows = sized(fetchedRows, routing.requestCount * dimension)
        backend.gatherRows(shardRows, pairs: routing.deviceReceivedPairs.whole, count: served, dimension: dimension,
                           into: servedRows.whole)
        try exchange(servedRows, fetchedRows, width: dimension, toOwners: false)
    }

    // MARK: Backward

    public func backward(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                         mode: EmbeddingBackwardMode) throws {
        let d = dimension
        // Sum the gradient of every distinct requested row, at its send position.
        gradientsToSend = sized(gradientsToSend, routing.requestCount * d)
        backend.fill(gradientsToSend.slice(0, routing.requestCount * d), with: 0)
        for t in 0..<plan.tables.count where !isWhollyLocal(t) {
            backend.embeddingBagsScatterAdd(requestBags(batch, t), gradient: layout.start(ofTable: t, in: outputGradient),
                                            gradientStride: layout.rowStride, scale: 1, pooling: specification.pooling,
                                            into: gradientsToSend.whole, dimension: d)
        }
        // Send them to the owners, who update their shards.
        let served = routing.served
        receivedGradients = sized(receivedGradients, served * d)
        try exchange(gradientsToSend, receivedGradients, width: d, toOwners: true)
        let owned = shards.enumerated().map { t, shard in isReplicated(t) ? nil : shard }
        for (t, shard) in owned.enumerated() {
            shard?.gradient.begin(contributions: served + batch.bags(t).idCount)
        }
        // This rank's own contributions to the whole tables it holds come first, then every
        // rank's requests in rank order.
        for t in 0..<plan.tables.count where isWhollyLocal(t) && !isReplicated(t) {
            let shard = shards[t]!, bags = batch.bags(t), gradient = layout.start(ofTable: t, in: outputGradient)
            switch mode {
            case .collectGradients:
                backend.accumulateBagGradients(bags, gradient: gradient, gradientStride: layout.rowStride,
                                               pooling: specification.pooling, into: shard.gradient)
            case .fusedSGD(let learningRate):
                backend.embeddingBagsScatterAdd(bags, gradient: gradient, gradientStride: layout.rowStride, scale: -learningRate,
                                                pooling: specification.pooling, into: shard.weights.whole, dimension: d)
            }
        }
        let pairs = routing.deviceReceivedPairs.whole
        switch mode {
        case .fusedSGD(let learningRate):
            backend.scatterAddRows(receivedGradients.whole, pairs: pairs, count: served, scale: -learningRate,
                                   into: shardRows, dimension: d)
        case .collectGradients:
            backend.accumulateRowGradients(receivedGradients.whole, pairs: pairs, count: served,
                                           into: owned.map { $0?.gradient }, firstRows: shards.map { $0?.firstRow ?? 0 })
        }
        for shard in owned { shard?.gradient.finish() }

        try replicas.share(batch, outputGradient: outputGradient, layout: layout, mode: mode)
    }
}

/// `counts` and `offsets` scaled by `width` into `scaledCounts` and `scaledOffsets`.
func scale(_ counts: [Int32], _ offsets: [Int32], by width: Int, into scaledCounts: inout [Int32], _ scaledOffsets: inout [Int32]) {
    for r in counts.indices {
        scaledCounts[r] = counts[r] * Int32(width)
        scaledOffsets[r] = offsets[r] * Int32(width)
    }
}
