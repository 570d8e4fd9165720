import Compute
import NeuralNetwork

/// Embedding tables placed over the ranks by a `ShardingPlan`, looked up through all-to-all.
///
/// A step goes through the same stages for every placement. Forward: route — each rank
/// de-duplicates the ids it must request (tables placed elsewhere, row-wise tables) and sends
/// every distinct (table, row) to its owner (`MPI_Alltoall` of counts, `MPI_Alltoallv` of the
/// ids); look up — each owner gathers the rows asked of it and answers (`MPI_Alltoallv`); pool
/// — each placement pools its tables' bags, from local rows or from the answered ones. Backward
/// runs the stages in reverse: each rank sums the gradient of each row it requested and sends
/// it to the owner; each owner applies its own contributions, then what every rank sent, in rank
/// order, so the result equals one process's up to floating-point summation order. Replicated
/// tables share their row gradients with every rank instead.
///
/// What differs by placement lives in one type each (`ReplicatedTables`, `TableWiseTables`,
/// `RowWiseTables`); rows, gradients and exchange buffers are backend memory, the routing is
/// planned on the host (`RequestRouting`) and copied to the backend.
public final class ShardedEmbeddings: EmbeddingCollection, @unchecked Sendable {
    public let specification: EmbeddingSpecification
    public let plan: ShardingPlan
    public let communicator: Communicator
    public let backend: any ComputeBackend
    public let localTables: [EmbeddingTable]
    /// The tables whose rows this rank serves to requesters (table-wise placed here, row-wise
    /// shards), by table index; nil elsewhere.
    private let servedShards: [EmbeddingTable?]
    /// The same per table, as the backend's row operations take them: rows, gradients, first rows.
    private let servedRows: [ShardRows<Float>?]
    private let servedBFloat16Rows: [ShardRows<UInt16>?]
    private let servedGradients: [SparseRowGradient?]
    private let firstRows: [Int]
    private let placements: [TablePlacement]

    /// The requests of the current batch (shared with a collection over the same features).
    private var routing: RequestRouting
    /// The collection whose routing this one reuses (nil: it routes its own batches).
    private let leader: ShardedEmbeddings?
    private var leadsRouting: Bool { leader == nil }
    /// The routing of the batch the next forward will take, exchanged ahead (`beginRouting`),
    /// and how to make one.
    private var routingAhead: RequestRouting?
    private let makeRouting: () -> RequestRouting
    private let requested: RequestedRows
    /// Counts and offsets of one all-to-all in elements (requests times a width), rewritten in
    /// place every step so the exchange allocates nothing.
    private var elementSendCounts: [Int32]
    private var elementSendOffsets: [Int32]
    private var elementReceiveCounts: [Int32]
    private var elementReceiveOffsets: [Int32]
    /// Rows served to requesters, and the gradients they send back.
    private var rowsToServe: DeviceBuffer<Float>
    private var receivedGradients: DeviceBuffer<Float>
    /// The 16-bit format rows and row gradients cross the all-to-all in (nil: fp32), and the
    /// buffers they travel in.
    public let exchangeFormat: HalfFormat?
    private var packedSend: DeviceBuffer<UInt16>
    private var packedReceive: DeviceBuffer<UInt16>
    /// Whether lookups of dynamic tables may admit ids and evict rows (training), or only find
    /// the rows ids already have (evaluation: unseen ids get their bucket's default row).
    public private(set) var learnsKeys = true
    /// Whether the next forward looks up the batch routed ahead (the pipeline says so just before).
    private var forwardTakesRoutingAhead = false
    /// The rows' exchange `startLookup` left in flight, which the forward waits for.
    private var rowsInFlight: PendingExchange?
    private var lookupStarted = false

    /// - Parameters:
    ///   - sharingRoutingWith: a collection over the same features (the same ids, table sizes and
    ///     placement; Wide&Deep's deep tables for its wide ones) whose forward runs first on every
    ///     batch: this one then reuses its request routing instead of exchanging the ids again.
    ///   - exchangeFormat: send rows and row gradients to and from their owners in this 16-bit
    ///     format (TorchRec's quantized communication); they are fp32 again on arrival, so owners
    ///     accumulate in fp32. Replicated tables' gradients stay fp32. Rows of bf16 tables cross
    ///     in bf16 whatever this says.
    public init(_ specification: EmbeddingSpecification, plan: ShardingPlan, communicator: Communicator,
                backend: any ComputeBackend, batchCapacity: Int, sharingRoutingWith leader: ShardedEmbeddings? = nil,
                exchangeFormat: HalfFormat? = nil) {
        precondition(plan.tables.count == specification.tableRowCounts.count, "ShardedEmbeddings: plan and tables differ")
        self.specification = specification
        self.plan = plan
        self.communicator = communicator
        self.backend = backend
        let rank = communicator.rank
        let shards: [EmbeddingTable?] = specification.tableRowCounts.enumerated().map { t, rows in
            let held = plan.rows(ofTable: t, rank: rank)
            guard !held.isEmpty else { return nil }
            let shard = EmbeddingTable(backend: backend, name: "\(specification.name)/table\(t)", rowCount: held.count,
                                       dimension: specification.dimension, batchCapacity: batchCapacity * communicator.size,
                                       pooling: specification.pooling, firstRow: held.lowerBound,
                                       isReplica: plan.tables[t].placement == .replicated, wholeTableRowCount: rows,
                                       precision: specification.precision)
            if let seed = specification.seed { shard.initializeUniform(seed: seed, tableIndex: t) }
            if let rule = specification.dynamicRule(ofTable: t) {
                shard.rowMap = leader?.servedShards[t]?.rowMap ?? DynamicRowMap(rule: rule, firstRow: held.lowerBound, rowCount: held.count)
            }
            return shard
        }
        localTables = shards.compactMap { $0 }
        servedShards = shards.enumerated().map { t, shard in plan.tables[t].placement == .replicated ? nil : shard }
        servedRows = servedShards.map { $0?.shardRows }
        servedBFloat16Rows = servedShards.map { $0?.bfloat16ShardRows }
        servedGradients = servedShards.map { $0?.gradient }
        firstRows = shards.map { $0?.firstRow ?? 0 }
        if let leader {
            precondition(leader.plan.tables.map(\.placement) == plan.tables.map(\.placement)
                         && leader.specification.tableRowCounts == specification.tableRowCounts,
                         "ShardedEmbeddings: routing is shared only between collections over the same features")
        }
        let rowMaps = shards.map { $0?.rowMap }, isDynamic = plan.tables.map(\.isDynamic), worldSize = communicator.size
        let tableRowCounts = specification.tableRowCounts
        makeRouting = {
            RequestRouting(backend: backend, tableRowCounts: tableRowCounts, batchCapacity: batchCapacity,
                           worldSize: worldSize, isDynamic: isDynamic, rowMaps: rowMaps)
        }
        self.leader = leader
        routing = leader?.routing ?? makeRouting()
        requested = RequestedRows(routing: routing, backend: backend, dimension: specification.dimension,
                                  pooling: specification.pooling)

        let indices = plan.tables.indices
        func placed(_ matches: (ShardingPlan.Placement) -> Bool) -> [Int] { indices.filter { matches(plan.tables[$0].placement) } }
        let tableWise = placed { if case .tableWise = $0 { true } else { false } }
        placements = [
            ReplicatedTables(tables: shards.enumerated().map { t, shard in plan.tables[t].placement == .replicated ? shard : nil },
                             communicator: communicator, backend: backend),
            TableWiseTables(held: tableWise.compactMap { t in shards[t].map { (t, $0) } },
                            elsewhere: tableWise.filter { shards[$0] == nil }, requested: requested),
            RowWiseTables(tables: placed { $0 == .rowWise }, requested: requested),
        ]
        let zeros = [Int32](repeating: 0, count: communicator.size)
        elementSendCounts = zeros
        elementSendOffsets = zeros
        elementReceiveCounts = zeros
        elementReceiveOffsets = zeros
        rowsToServe = backend.makeFloats(0)
        receivedGradients = backend.makeFloats(0)
        self.exchangeFormat = exchangeFormat
        packedSend = backend.makeBuffer(UInt16.self, count: 0)
        packedReceive = backend.makeBuffer(UInt16.self, count: 0)
    }

    /// A factory for models: every collection of the model sharded by `plan` (built for the
    /// collection's table sizes and dimension). A collection over the same features as one built
    /// before it (Wide&Deep's wide tables, given the deep ones) shares that one's request routing.
    public static func factory(communicator: Communicator, strategy: ShardingPlan.Strategy, replicateMaxRows: Int,
                               rowWiseMinRows: Int, exchangeFormat: HalfFormat? = nil) -> EmbeddingFactory {
        { specification, backend, batchCapacity, sameFeaturesAs in
            let plan = ShardingPlan(tableRowCounts: specification.tableRowCounts, dimension: specification.dimension,
                                    worldSize: communicator.size, strategy: strategy, replicateMaxRows: replicateMaxRows,
                                    rowWiseMinRows: rowWiseMinRows,
                                    bucketRows: specification.dynamicTables.map { $0?.bucketRows ?? 1 })
            let leader = (sameFeaturesAs as? ShardedEmbeddings).flatMap { leader in
                leader.plan.tables.map(\.placement) == plan.tables.map(\.placement) ? leader : nil
            }
            return ShardedEmbeddings(specification, plan: plan, communicator: communicator, backend: backend,
                                     batchCapacity: batchCapacity, sharingRoutingWith: leader, exchangeFormat: exchangeFormat)
        }
    }

    private var dimension: Int { specification.dimension }

    // MARK: Forward

    public func forward(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) throws {
        try finishLookup(batch)
        for placement in placements { placement.pool(batch, output: output, layout: layout) }
    }

    public func forwardSum(_ batch: DeviceBatch, output: DeviceSlice<Float>) throws {
        precondition(dimension == 1, "forwardSum needs width-1 tables")
        try finishLookup(batch)
        for placement in placements { placement.addScalars(batch, output: output) }
    }

    /// Routes `batch`, gathers the rows asked of this rank and starts sending them, without
    /// waiting: the caller computes (the bottom MLP) while they travel, and the forward waits.
    /// In a 16-bit exchange format the rows arrive before it returns.
    public func startLookup(_ batch: DeviceBatch) throws {
        try fetchRequestedRows(batch, waiting: false)
        lookupStarted = true
    }

    /// The rows of `batch` in `requested.fetched`: those `startLookup` sent, once arrived, or
    /// fetched now.
    private func finishLookup(_ batch: DeviceBatch) throws {
        guard lookupStarted else { return try fetchRequestedRows(batch, waiting: true) }
        lookupStarted = false
        let inFlight = rowsInFlight
        rowsInFlight = nil
        try inFlight?.wait()
    }

    /// Routes the requests of `batch` (unless another collection over the same features just
    /// did, or they were exchanged ahead), gathers the rows asked of this rank and exchanges
    /// them: the answers land in `requested.fetched` at each request's send position.
    private func fetchRequestedRows(_ batch: DeviceBatch, waiting: Bool) throws {
        if let leader {
            routing = leader.routing
        } else if forwardTakesRoutingAhead, let ahead = routingAhead, ahead.batch != nil {
            forwardTakesRoutingAhead = false
            try ahead.complete(communicator: communicator, learning: learnsKeys)
            routingAhead = routing
            routing = ahead
        } else {
            // Another batch (evaluation between steps): routed now; one exchanged ahead waits.
            try routing.route(batch.host, plan: plan, rank: communicator.rank, communicator: communicator, learning: learnsKeys)
        }
        requested.routing = routing
        // Rows of dynamic tables given a new key in this training step start afresh.
        for (t, shard) in servedShards.enumerated() {
            guard let shard, let map = shard.rowMap, map.learning, !map.freshRows.isEmpty else { continue }
            shard.initializeRows(map.freshRows, keys: map.keys, seed: specification.seed, tableIndex: t)
        }
        requested.prepare()
        let served = routing.served
        if specification.precision == .bf16 { return try exchangeBFloat16Rows(served: served) }
        if rowsToServe.count < served * dimension { rowsToServe = backend.makeFloats(2 * served * dimension) }
        backend.gatherRows(servedRows, pairs: routing.deviceReceivedPairs.whole, count: served, dimension: dimension,
                           into: rowsToServe.whole)
        try exchange(rowsToServe, requested.fetched, toOwners: false, waiting: waiting)
    }

    /// The rows of bf16 tables cross as they are stored: gathered in 16 bits, exchanged, and
    /// widened into `requested.fetched` on arrival.
    private func exchangeBFloat16Rows(served: Int) throws {
        let r = routing
        scale(r.receiveCounts, r.receiveOffsets, by: dimension, into: &elementSendCounts, &elementSendOffsets)
        scale(r.sendCounts, r.sendOffsets, by: dimension, into: &elementReceiveCounts, &elementReceiveOffsets)
        let received = r.requestCount * dimension
        if packedSend.count < served * dimension { packedSend = backend.makeBuffer(UInt16.self, count: 2 * served * dimension) }
        if packedReceive.count < received { packedReceive = backend.makeBuffer(UInt16.self, count: 2 * received) }
        backend.gatherRows(servedBFloat16Rows, pairs: r.deviceReceivedPairs.whole, count: served, dimension: dimension,
                           into: packedSend.whole)
        try communicator.allToAllV(send: packedSend.whole, sendCounts: elementSendCounts, sendOffsets: elementSendOffsets,
                                   receive: packedReceive.whole, receiveCounts: elementReceiveCounts,
                                   receiveOffsets: elementReceiveOffsets)
        backend.unpack(packedReceive.slice(0, received), from: .bf16, into: requested.fetched.slice(0, received))
    }

    // MARK: Pipelining

    /// Starts exchanging the requests of `next`, the batch a later forward takes, so that the
    /// exchange runs while this step computes (TorchRec's sparse-distribution pipeline). That
    /// forward still gathers and exchanges the rows, after this step's update, and dynamic
    /// tables resolve their keys then: results are those of routing the batch in its forward.
    /// A collection that reuses another's routing, or a single rank, has nothing to exchange.
    public func beginRouting(ahead next: Batch) throws {
        guard leadsRouting, communicator.size > 1 else { return }
        let ahead = routingAhead ?? makeRouting()
        routingAhead = ahead
        try ahead.abandon()
        try ahead.begin(next, plan: plan, rank: communicator.rank, communicator: communicator, overlapped: true)
    }

    /// Moves an exchange begun ahead on: once its counts have arrived, its requests go out.
    public func advanceRouting() throws {
        try routingAhead?.advance(communicator: communicator)
    }

    /// Ends an exchange begun ahead whose batch will not be trained on (the last step's).
    public func abandonRouting() throws {
        forwardTakesRoutingAhead = false
        try routingAhead?.abandon()
    }

    public func nextForwardTakesRoutingAhead() {
        forwardTakesRoutingAhead = true
    }

    public func setLearnsKeys(_ learns: Bool) { learnsKeys = learns }

    // MARK: Backward

    public func backward(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                         mode: EmbeddingBackwardMode) throws {
        // The gradients of the requested rows go to their owners.
        for placement in placements { placement.addRequestGradients(batch, outputGradient: outputGradient, layout: layout) }
        let served = routing.served
        if receivedGradients.count < served * dimension { receivedGradients = backend.makeFloats(2 * served * dimension) }
        try exchange(requested.gradients, receivedGradients, toOwners: true)

        // Each owner: its own contributions first, then every rank's requests in rank order.
        for (t, shard) in servedShards.enumerated() { shard?.gradient.begin(contributions: served + batch.bags(t).idCount) }
        for placement in placements {
            try placement.applyOwnGradients(batch, outputGradient: outputGradient, layout: layout, mode: mode)
        }
        let pairs = routing.deviceReceivedPairs.whole
        switch mode {
        case .fusedSGD(let learningRate):
            backend.scatterAddRows(receivedGradients.whole, pairs: pairs, count: served, scale: -learningRate,
                                   into: servedRows, dimension: dimension)
        case .collectGradients:
            backend.accumulateRowGradients(receivedGradients.whole, pairs: pairs, count: served,
                                           into: servedGradients, firstRows: firstRows)
        }
        for shard in servedShards { shard?.gradient.finish() }
    }

    /// Sends `dimension` floats per request to the owners (`toOwners`), or answers from the
    /// owners back to the requesters; in `exchangeFormat` when there is one. Without `waiting`
    /// an fp32 exchange is left in flight in `rowsInFlight`.
    private func exchange(_ send: DeviceBuffer<Float>, _ receive: DeviceBuffer<Float>, toOwners: Bool, waiting: Bool = true) throws {
        let r = routing
        scale(toOwners ? r.sendCounts : r.receiveCounts, toOwners ? r.sendOffsets : r.receiveOffsets, by: dimension,
              into: &elementSendCounts, &elementSendOffsets)
        scale(toOwners ? r.receiveCounts : r.sendCounts, toOwners ? r.receiveOffsets : r.sendOffsets, by: dimension,
              into: &elementReceiveCounts, &elementReceiveOffsets)
        guard let exchangeFormat else {
            if waiting {
                try communicator.allToAllV(send: send.whole, sendCounts: elementSendCounts, sendOffsets: elementSendOffsets,
                                           receive: receive.whole, receiveCounts: elementReceiveCounts,
                                           receiveOffsets: elementReceiveOffsets)
            } else {
                rowsInFlight = try communicator.startAllToAllV(send: send.whole, sendCounts: elementSendCounts,
                                                               sendOffsets: elementSendOffsets, receive: receive.whole,
                                                               receiveCounts: elementReceiveCounts,
                                                               receiveOffsets: elementReceiveOffsets)
            }
            return
        }
        let sent = Int(elementSendOffsets.last! + elementSendCounts.last!)
        let received = Int(elementReceiveOffsets.last! + elementReceiveCounts.last!)
        if packedSend.count < sent { packedSend = backend.makeBuffer(UInt16.self, count: 2 * sent) }
        if packedReceive.count < received { packedReceive = backend.makeBuffer(UInt16.self, count: 2 * received) }
        backend.pack(send.slice(0, sent), as: exchangeFormat, into: packedSend.slice(0, sent))
        try communicator.allToAllV(send: packedSend.whole, sendCounts: elementSendCounts, sendOffsets: elementSendOffsets,
                                   receive: packedReceive.whole, receiveCounts: elementReceiveCounts,
                                   receiveOffsets: elementReceiveOffsets)
        backend.unpack(packedReceive.slice(0, received), from: exchangeFormat, into: receive.slice(0, received))
    }
}

/// `counts` and `offsets` scaled by `width` into `scaledCounts` and `scaledOffsets`.
func scale(_ counts: [Int32], _ offsets: [Int32], by width: Int, into scaledCounts: inout [Int32], _ scaledOffsets: inout [Int32]) {
    for r in counts.indices {
        scaledCounts[r] = counts[r] * Int32(width)
        scaledOffsets[r] = offsets[r] * Int32(width)
    }
}
