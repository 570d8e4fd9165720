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
public final class ShardedEmbeddings: EmbeddingCollection, @unchecked Sendable {
    public let specification: EmbeddingSpecification
    public let plan: ShardingPlan
    public let communicator: Communicator
    /// Per table: the shard this rank holds, or nil.
    private let shards: [EmbeddingTable?]
    public let localTables: [EmbeddingTable]
    /// Per table: the address global row 0 would have in this rank's shard (so row r of a
    /// table is at `+ r * D`), for served rows without reference counting; nil when not held.
    private let rowBase: [UnsafeMutablePointer<Float>?]
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
    // The replicated tables' row gradients, shared with every rank.
    private var replicatedPairs: [Int32] = []
    private var replicatedValues: [Float] = []
    private var gatheredPairs: [Int32] = []
    private var gatheredValues: [Float] = []
    private var replicatedCounts: [Int32] = []
    private var replicatedOffsets: [Int32] = []
    private var zeroOffsets: [Int32] = []
    private var servedRows = FloatBuffer(count: 0)
    private var fetchedRows = FloatBuffer(count: 0)
    private var gradientsToSend = FloatBuffer(count: 0)
    private var receivedGradients = FloatBuffer(count: 0)

    /// - Parameter sharingRoutingWith: a collection over the same features (the same ids, table
    ///   sizes and placement; Wide&Deep's deep tables for its wide ones) whose forward runs first
    ///   on every batch: this one then reuses its request routing instead of exchanging the ids again.
    public init(_ specification: EmbeddingSpecification, plan: ShardingPlan, communicator: Communicator,
                batchCapacity: Int, sharingRoutingWith leader: ShardedEmbeddings? = nil) {
        precondition(plan.tables.count == specification.tableRowCounts.count, "ShardedEmbeddings: plan and tables differ")
        self.specification = specification
        self.plan = plan
        self.communicator = communicator
        rank = communicator.rank
        dimension = specification.dimension
        shards = specification.tableRowCounts.enumerated().map { t, rows in
            let held = plan.rows(ofTable: t, rank: communicator.rank)
            guard !held.isEmpty else { return nil }
            let shard = EmbeddingTable(name: "\(specification.name)/table\(t)", rowCount: held.count,
                                       dimension: specification.dimension, batchCapacity: batchCapacity * communicator.size,
                                       firstRow: held.lowerBound, isReplica: plan.tables[t].placement == .replicated,
                                       wholeTableRowCount: rows)
            if let seed = specification.seed {
                shard.initializeUniform(seed: seed, tableIndex: t, firstRow: held.lowerBound, wholeTableRows: rows)
            }
            return shard
        }
        localTables = shards.compactMap { $0 }
        rowBase = shards.map { shard in shard.map { $0.weights.base - $0.firstRow * $0.dimension } }
        if let leader {
            precondition(leader.plan.tables.map(\.placement) == plan.tables.map(\.placement)
                         && leader.specification.tableRowCounts == specification.tableRowCounts,
                         "ShardedEmbeddings: routing is shared only between collections over the same features")
            routing = leader.routing
            leadsRouting = false
        } else {
            routing = RequestRouting(tableRowCounts: specification.tableRowCounts, batchCapacity: batchCapacity,
                                     worldSize: communicator.size,
                                     routed: (0..<plan.tables.count).map { !plan.holdsWhole(table: $0, rank: communicator.rank) })
            leadsRouting = true
        }
        let zeros = [Int32](repeating: 0, count: communicator.size)
        elementSendCounts = zeros
        elementSendOffsets = zeros
        elementReceiveCounts = zeros
        elementReceiveOffsets = zeros
        replicatedCounts = zeros
        replicatedOffsets = zeros
        zeroOffsets = zeros
    }

    /// `counts` and `offsets` scaled by `width` into `scaledCounts` and `scaledOffsets`.
    private static func scale(_ counts: [Int32], _ offsets: [Int32], by width: Int,
                              into scaledCounts: inout [Int32], _ scaledOffsets: inout [Int32]) {
        for r in counts.indices {
            scaledCounts[r] = counts[r] * Int32(width)
            scaledOffsets[r] = offsets[r] * Int32(width)
        }
    }


    /// Sends `width` elements per request to the owners (`toOwners`), or answers from the
    /// owners back to the requesters.
    private func exchange(_ send: UnsafePointer<Float>, _ receive: UnsafeMutablePointer<Float>, width: Int, toOwners: Bool) throws {
        let r = routing
        Self.scale(toOwners ? r.sendCounts : r.receiveCounts, toOwners ? r.sendOffsets : r.receiveOffsets, by: width,
                   into: &elementSendCounts, &elementSendOffsets)
        Self.scale(toOwners ? r.receiveCounts : r.sendCounts, toOwners ? r.receiveOffsets : r.sendOffsets, by: width,
                   into: &elementReceiveCounts, &elementReceiveOffsets)
        try communicator.allToAllV(send: send, sendCounts: elementSendCounts, sendOffsets: elementSendOffsets,
                                   receive: receive, receiveCounts: elementReceiveCounts, receiveOffsets: elementReceiveOffsets)
    }

    /// A factory for models: every collection of the model sharded by `plan` (built for the
    /// collection's table sizes and dimension).
    public static func factory(communicator: Communicator, strategy: ShardingPlan.Strategy, replicateMaxRows: Int,
                               rowWiseMinRows: Int) -> EmbeddingFactory {
        // A model's second collection over the same tables (Wide&Deep's wide part) shares the
        // first one's request routing.
        nonisolated(unsafe) var previous: ShardedEmbeddings?
        return { specification, batchCapacity in
            let plan = ShardingPlan(tableRowCounts: specification.tableRowCounts, dimension: specification.dimension,
                                    worldSize: communicator.size, strategy: strategy, replicateMaxRows: replicateMaxRows,
                                    rowWiseMinRows: rowWiseMinRows)
            let leader = previous.flatMap { previous in
                previous.specification.tableRowCounts == specification.tableRowCounts
                    && previous.plan.tables.map(\.placement) == plan.tables.map(\.placement) ? previous : nil
            }
            let collection = ShardedEmbeddings(specification, plan: plan, communicator: communicator,
                                               batchCapacity: batchCapacity, sharingRoutingWith: leader)
            previous = collection
            return collection
        }
    }

    private func isReplicated(_ t: Int) -> Bool { plan.tables[t].placement == .replicated }
    private lazy var replicatedTables: [Int] = (0..<plan.tables.count).filter(isReplicated)

    /// Whether this rank holds every row of table t (a replica, or a whole table placed here):
    /// its lookups skip the exchange.
    private func isWhollyLocal(_ t: Int) -> Bool { plan.holdsWhole(table: t, rank: rank) }

    // MARK: Forward

    public func forward(_ batch: Batch, output: UnsafeMutablePointer<Float>, layout: PooledLayout) throws {
        try fetchRows(batch)
        let d = dimension
        for t in 0..<plan.tables.count {
            let feature = batch.sparse[t], offsets = feature.offsets.base
            let destination = output + layout.firstOffset + t * layout.tableOffset
            if isWhollyLocal(t) {
                shards[t]!.forward(feature, rows: batch.size, output: destination, outputStride: layout.rowStride)
                continue
            }
            let positions = routing.positionOfID[t].base
            for b in 0..<batch.size {
                let out = destination + b * layout.rowStride
                out.update(repeating: 0, count: d)
                for k in Int(offsets[b])..<Int(offsets[b + 1]) {
                    Kernels.add(fetchedRows.base + Int(positions[k]) * d, into: out, count: d)
                }
            }
        }
    }

    public func forwardSum(_ batch: Batch, output: UnsafeMutablePointer<Float>) throws {
        precondition(dimension == 1, "forwardSum needs width-1 tables")
        try fetchRows(batch)
        for t in 0..<plan.tables.count {
            let feature = batch.sparse[t], offsets = feature.offsets.base
            if isWhollyLocal(t) {
                shards[t]!.forwardAddingScalars(feature, rows: batch.size, output: output)
                continue
            }
            let positions = routing.positionOfID[t].base
            for b in 0..<batch.size {
                var sum: Float = 0
                for k in Int(offsets[b])..<Int(offsets[b + 1]) { sum += fetchedRows[Int(positions[k])] }
                output[b] += sum
            }
        }
    }

    /// Routes the requests of `batch` (unless another collection over the same features just
    /// did), serves the rows asked of this rank, and leaves the answered rows in `fetchedRows` at
    /// each request's send position.
    private func fetchRows(_ batch: Batch) throws {
        let d = dimension
        if leadsRouting { try routing.route(batch, plan: plan, rank: rank, communicator: communicator) }
        let served = routing.served, requestCount = routing.requestCount
        if servedRows.count < served * d { servedRows = FloatBuffer(count: served * d * 2) }
        if fetchedRows.count < routing.requestCount * d { fetchedRows = FloatBuffer(count: routing.requestCount * d * 2) }
        for j in 0..<served {
            if j + prefetchDistance < served { Kernels.prefetch(servedRow(j + prefetchDistance)) }
            Kernels.copy(servedRow(j), to: servedRows.base + j * d, count: d)
        }
        try exchange(servedRows.base, fetchedRows.base, width: d, toOwners: false)
    }

    // MARK: Backward

    public func backward(_ batch: Batch, outputGradient: UnsafePointer<Float>, layout: PooledLayout,
                         mode: EmbeddingBackwardMode) throws {
        let d = dimension
        // Sum the gradient of every distinct requested row, at its send position.
        if gradientsToSend.count < routing.requestCount * d { gradientsToSend = FloatBuffer(count: routing.requestCount * d * 2) }
        gradientsToSend.base.update(repeating: 0, count: routing.requestCount * d)
        for t in 0..<plan.tables.count where !isWhollyLocal(t) {
            let offsets = batch.sparse[t].offsets.base, positions = routing.positionOfID[t].base
            let source = outputGradient + layout.firstOffset + t * layout.tableOffset
            for b in 0..<batch.size {
                for k in Int(offsets[b])..<Int(offsets[b + 1]) {
                    Kernels.add(source + b * layout.rowStride, into: gradientsToSend.base + Int(positions[k]) * d, count: d)
                }
            }
        }
        // Send them to the owners, who update their shards.
        let served = Int(routing.receiveCounts.reduce(0, +))
        if receivedGradients.count < served * d { receivedGradients = FloatBuffer(count: served * d * 2) }
        try exchange(gradientsToSend.base, receivedGradients.base, width: d, toOwners: true)
        for (t, shard) in shards.enumerated() where shard != nil && !isReplicated(t) {
            shard!.beginGradient(capacity: served + batch.sparse[t].idCount(samples: batch.size))
        }
        // This rank's own contributions to the whole tables it holds come first, then every
        // rank's requests in rank order.
        for t in 0..<plan.tables.count where isWhollyLocal(t) && !isReplicated(t) {
            let feature = batch.sparse[t], ids = feature.ids.base, offsets = feature.offsets.base, shard = shards[t]!
            let source = outputGradient + layout.firstOffset + t * layout.tableOffset
            for b in 0..<batch.size {
                for k in Int(offsets[b])..<Int(offsets[b + 1]) {
                    apply(source + b * layout.rowStride, to: shard, row: Int(ids[k]), mode: mode)
                }
            }
        }
        switch mode {
        case .fusedSGD(let learningRate):
            for j in 0..<served {
                if j + prefetchDistance < served { Kernels.prefetchForWrite(servedRow(j + prefetchDistance)) }
                Kernels.axpy(-learningRate, receivedGradients.base + j * d, servedRow(j), count: d)
            }
        case .collectGradients:
            for j in 0..<served {
                let shard = shards[Int(routing.receivedPairs[2 * j])]!
                shard.accumulateGradient(row: Int(routing.receivedPairs[2 * j + 1]) - shard.firstRow, gradient: receivedGradients.base + j * d)
            }
        }
        for (t, shard) in shards.enumerated() where shard != nil && !isReplicated(t) { shard!.finishGradient() }

        try shareReplicatedGradients(batch, outputGradient: outputGradient, layout: layout, mode: mode)
    }

    /// Served requests touch random rows of large shards: fetch them a few requests ahead.
    private let prefetchDistance = 16

    /// The row that served request `j` names (table, global row), in this rank's shard.
    @inline(__always)
    private func servedRow(_ j: Int) -> UnsafeMutablePointer<Float> {
        rowBase[Int(routing.receivedPairs[2 * j])].unsafelyUnwrapped + Int(routing.receivedPairs[2 * j + 1]) &* dimension
    }

    @inline(__always)
    private func apply(_ gradient: UnsafePointer<Float>, to shard: EmbeddingTable, row: Int, mode: EmbeddingBackwardMode) {
        switch mode {
        case .collectGradients: shard.accumulateGradient(row: row, gradient: gradient)
        case .fusedSGD(let learningRate): shard.applySGD(row: row, gradient: gradient, learningRate: learningRate)
        }
    }

    /// Every rank's local row gradients of the replicated tables go to every rank (the same
    /// buffer sent to all: an all-gather), and each rank applies all of them in rank order.
    private func shareReplicatedGradients(_ batch: Batch, outputGradient: UnsafePointer<Float>, layout: PooledLayout,
                                          mode: EmbeddingBackwardMode) throws {
        guard !replicatedTables.isEmpty else { return }
        let replicated = replicatedTables
        let d = dimension, worldSize = communicator.size
        replicatedPairs.removeAll(keepingCapacity: true)
        replicatedValues.removeAll(keepingCapacity: true)
        for t in replicated {
            let table = shards[t]!
            table.backward(batch.sparse[t], rows: batch.size,
                           outputGradient: outputGradient + layout.firstOffset + t * layout.tableOffset,
                           gradientStride: layout.rowStride, mode: .collectGradients)
            for u in 0..<table.gradient.rowCount {
                replicatedPairs.append(Int32(t))
                replicatedPairs.append(table.gradient.rowIDs[u])
                replicatedValues.append(contentsOf: UnsafeBufferPointer(start: table.gradient.gradient(ofRow: u), count: d))
            }
        }
        // The same buffer goes to every rank (send offsets all 0): an all-gather.
        let count = Int32(replicatedPairs.count / 2)
        for r in 0..<worldSize { replicatedCounts[r] = count }
        let counts = try communicator.allToAll(replicatedCounts)
        let total = Int(counts.reduce(0, +))
        writeOffsets(of: counts, into: &replicatedOffsets)
        if gatheredPairs.count < 2 * total { gatheredPairs = [Int32](repeating: 0, count: 2 * total) }
        if gatheredValues.count < total * d { gatheredValues = [Float](repeating: 0, count: total * d) }
        for (width, isPairs) in [(2, true), (d, false)] {
            Self.scale(replicatedCounts, zeroOffsets, by: width, into: &elementSendCounts, &elementSendOffsets)
            Self.scale(counts, replicatedOffsets, by: width, into: &elementReceiveCounts, &elementReceiveOffsets)
            if isPairs {
                try replicatedPairs.withUnsafeBufferPointer { send in
                    try gatheredPairs.withUnsafeMutableBufferPointer { receive in
                        try communicator.allToAllV(send: send.baseAddress ?? UnsafePointer(bitPattern: 8)!, sendCounts: elementSendCounts,
                                                   sendOffsets: elementSendOffsets, receive: receive.baseAddress!,
                                                   receiveCounts: elementReceiveCounts, receiveOffsets: elementReceiveOffsets)
                    }
                }
            } else {
                try replicatedValues.withUnsafeBufferPointer { send in
                    try gatheredValues.withUnsafeMutableBufferPointer { receive in
                        try communicator.allToAllV(send: send.baseAddress ?? UnsafePointer(bitPattern: 8)!, sendCounts: elementSendCounts,
                                                   sendOffsets: elementSendOffsets, receive: receive.baseAddress!,
                                                   receiveCounts: elementReceiveCounts, receiveOffsets: elementReceiveOffsets)
                    }
                }
            }
        }
        for t in replicated { shards[t]!.beginGradient(capacity: total) }
        gatheredValues.withUnsafeBufferPointer { gradients in
            for j in 0..<total {
                apply(gradients.baseAddress! + j * d, to: shards[Int(gatheredPairs[2 * j])]!, row: Int(gatheredPairs[2 * j + 1]), mode: mode)
            }
        }
        for t in replicated { shards[t]!.finishGradient() }
    }
}

/// Which rows a rank asks of which rank for one batch, and which it was asked for: built by
/// `route` in the forward of a batch and read again by the rows exchange and by backward.
final class RequestRouting {
    /// Per table, per global row: the row's index among this batch's distinct requests, or -1.
    let requestSlot: [IndexBuffer]
    /// Per table: for each id position of the batch, the send position of its distinct row.
    let positionOfID: [IndexBuffer]
    private(set) var requestCount = 0
    let requestTable = IndexBuffer(capacity: 1)
    let requestRow = IndexBuffer(capacity: 1)
    let requestOwner = IndexBuffer(capacity: 1)
    /// Per request: its position in the send buffer.
    let sendPosition = IndexBuffer(capacity: 1)
    /// (table, row) pairs sent, by owner; and those received, by requester.
    let sendPairs = IndexBuffer(capacity: 2)
    let receivedPairs = IndexBuffer(capacity: 2)
    /// Requests per rank, sent and received, and their offsets.
    var sendCounts: [Int32]
    var receiveCounts: [Int32]
    var sendOffsets: [Int32]
    var receiveOffsets: [Int32]
    private var pairCounts: [Int32]
    private var pairOffsets: [Int32]
    private var receivedPairCounts: [Int32]
    private var receivedPairOffsets: [Int32]
    /// Requests this rank serves.
    var served: Int { Int(receiveCounts.reduce(0, +)) }

    /// - Parameter routed: per table, whether its ids are requested from other ranks (only those
    ///   tables get a row-to-request map, of 4 bytes per row of the whole table).
    init(tableRowCounts: [Int], batchCapacity: Int, worldSize: Int, routed: [Bool]) {
        requestSlot = zip(tableRowCounts, routed).map { rows, isRouted in
            let slots = IndexBuffer(capacity: isRouted ? rows : 1)
            slots.base.update(repeating: -1, count: slots.capacity)
            return slots
        }
        positionOfID = tableRowCounts.map { _ in IndexBuffer(capacity: batchCapacity) }
        let zeros = [Int32](repeating: 0, count: worldSize)
        sendCounts = zeros
        receiveCounts = zeros
        sendOffsets = zeros
        receiveOffsets = zeros
        pairCounts = zeros
        pairOffsets = zeros
        receivedPairCounts = zeros
        receivedPairOffsets = zeros
    }

    /// De-duplicates the ids of `batch` in the tables this rank does not hold whole, lays the
    /// distinct (table, row) requests out by owner, and exchanges them (counts, then pairs).
    func route(_ batch: Batch, plan: ShardingPlan, rank: Int, communicator: Communicator) throws {
        let tables = (0..<plan.tables.count).filter { !plan.holdsWhole(table: $0, rank: rank) }
        var totalIDs = 0
        for t in tables { totalIDs += batch.sparse[t].idCount(samples: batch.size) }
        for buffer in [requestTable, requestRow, requestOwner] { buffer.reserve(totalIDs) }
        requestCount = 0
        for r in sendCounts.indices { sendCounts[r] = 0 }

        // Distinct (table, row) pairs, each with its owner.
        for t in tables {
            let feature = batch.sparse[t], n = feature.idCount(samples: batch.size)
            let slots = requestSlot[t].base, ids = feature.ids.base
            positionOfID[t].reserve(n)
            let positions = positionOfID[t].base
            for k in 0..<n {
                let row = Int(ids[k])
                var request = Int(slots[row])
                if request < 0 {
                    request = requestCount
                    slots[row] = Int32(request)
                    let owner = plan.owner(ofRow: row, table: t, requester: rank)
                    requestTable[request] = Int32(t)
                    requestRow[request] = Int32(row)
                    requestOwner[request] = Int32(owner)
                    sendCounts[owner] += 1
                    requestCount += 1
                }
                positions[k] = Int32(request)  // a request index for now; a send position below
            }
        }
        // Lay requests out by owner: request -> send position.
        writeOffsets(of: sendCounts, into: &sendOffsets)
        var next = sendOffsets
        sendPosition.reserve(requestCount)
        sendPairs.reserve(2 * requestCount)
        for request in 0..<requestCount {
            let owner = Int(requestOwner[request])
            let position = next[owner]
            next[owner] += 1
            sendPosition[request] = position
            sendPairs[2 * Int(position)] = requestTable[request]
            sendPairs[2 * Int(position) + 1] = requestRow[request]
            // Clear the slot map for the next batch.
            requestSlot[Int(requestTable[request])][Int(requestRow[request])] = -1
        }
        for t in tables {
            let positions = positionOfID[t].base
            for k in 0..<batch.sparse[t].idCount(samples: batch.size) { positions[k] = sendPosition[Int(positions[k])] }
        }

        receiveCounts = try communicator.allToAll(sendCounts)
        writeOffsets(of: receiveCounts, into: &receiveOffsets)
        receivedPairs.reserve(2 * served)
        for r in sendCounts.indices {
            pairCounts[r] = 2 * sendCounts[r]
            pairOffsets[r] = 2 * sendOffsets[r]
            receivedPairCounts[r] = 2 * receiveCounts[r]
            receivedPairOffsets[r] = 2 * receiveOffsets[r]
        }
        try communicator.allToAllV(send: sendPairs.base, sendCounts: pairCounts, sendOffsets: pairOffsets,
                                   receive: receivedPairs.base, receiveCounts: receivedPairCounts,
                                   receiveOffsets: receivedPairOffsets)
    }

}
