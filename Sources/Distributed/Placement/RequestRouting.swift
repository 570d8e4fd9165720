import Compute
import NeuralNetwork

/// Which rows a rank asks of which rank for one batch, and which it was asked for: built by
/// `route` in the forward of a batch and read again by the rows exchange and by backward.
///
/// Routing is planned on the host from the host batch; what the backend's lookups need (each
/// id's send position, the pairs served) is then copied to backend memory.
///
/// A dynamic table's requests name keys, not rows: each rank sends its distinct keys to the
/// owner of their buckets, and the owner resolves them to rows (`DynamicRowMap`) in the order
/// they arrive — by requester rank, then by first appearance — before serving them.
final class RequestRouting {
    let backend: any ComputeBackend
    /// Per table: `positionOfID` in backend memory.
    private(set) var devicePositions: [DeviceBuffer<Int32>]
    /// `receivedPairs` in backend memory.
    private(set) var deviceReceivedPairs: DeviceBuffer<Int32>
    /// Per table: for each id position of the batch, the send position of its distinct row.
    let positionOfID: [IndexBuffer]
    private(set) var requestCount = 0
    let requestTable = IndexBuffer(capacity: 1)
    let requestRow = IndexBuffer(capacity: 1)
    let requestOwner = IndexBuffer(capacity: 1)
    /// Dynamic tables: each request's key; the keys sent (by send position) and received.
    let requestKey = KeyBuffer(capacity: 1)
    let sendKeys = KeyBuffer(capacity: 1)
    let receivedKeys = KeyBuffer(capacity: 1)
    /// Per table: whether it is dynamic, and the map of the shard this rank owns of it.
    private let isDynamic: [Bool]
    private let rowMaps: [DynamicRowMap?]
    /// A table's distinct rows (or a dynamic table's keys) of the batch so far, to their
    /// request: a batch-sized map, whatever the size of the tables.
    private let requests = KeyIndex()
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

    /// The batch whose requests are being exchanged (between `begin` and `complete`), the
    /// tables routed for it, and whether its exchanges run without blocking.
    private var routedBatch: Batch?
    private var routedTables: [Int] = []
    private var overlapped = false
    /// Whether `advance` has run for the batch being routed.
    private var countsArrived = false
    /// The exchange in flight when overlapped: the counts (after `begin`), then the pairs.
    private var pending: PendingExchange?
    /// Stable memory for the counts of an overlapped exchange (MPI reads and writes it later).
    private let countsSent: UnsafeMutablePointer<Int32>
    private let countsReceived: UnsafeMutablePointer<Int32>
    private let ones: [Int32]
    private let ranks: [Int32]
    /// The batch being routed (between `begin` and `complete`).
    var batch: Batch? { routedBatch }

    /// - Parameter rowMaps: per table, the map of this rank's shard of a dynamic table (nil: fixed).
    init(backend: any ComputeBackend, tableRowCounts: [Int], batchCapacity: Int, worldSize: Int,
         isDynamic: [Bool], rowMaps: [DynamicRowMap?]) {
        self.backend = backend
        self.isDynamic = isDynamic
        self.rowMaps = rowMaps
        devicePositions = tableRowCounts.map { _ in backend.makeIndices(batchCapacity) }
        deviceReceivedPairs = backend.makeIndices(2 * batchCapacity)
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
        countsSent = .allocate(capacity: worldSize)
        countsReceived = .allocate(capacity: worldSize)
        countsSent.initialize(repeating: 0, count: worldSize)
        countsReceived.initialize(repeating: 0, count: worldSize)
        ones = [Int32](repeating: 1, count: worldSize)
        ranks = (0..<worldSize).map { Int32($0) }
    }

    deinit {
        // An exchange in flight still writes into this routing's buffers: it ends first.
        try? pending?.wait()
        countsSent.deallocate()
        countsReceived.deallocate()
    }

    /// De-duplicates the ids of `batch` in the tables this rank does not hold whole, lays the
    /// distinct (table, row) requests out by owner, and exchanges them (counts, then pairs);
    /// owners resolve the keys of dynamic tables to rows, admitting and evicting when `learning`.
    func route(_ batch: Batch, plan: ShardingPlan, rank: Int, communicator: Communicator, learning: Bool) throws {
        try begin(batch, plan: plan, rank: rank, communicator: communicator, overlapped: false)
        try complete(communicator: communicator, learning: learning)
    }

    /// The stages of `route`, to run the exchange while other work goes on (`overlapped`: with
    /// non-blocking all-to-alls). `begin` lays out the requests and starts sending the counts;
    /// `advance` waits for the counts and starts sending the pairs; `complete` waits for the
    /// pairs, resolves dynamic tables' keys (as the owners' maps stand then) and copies the
    /// routing to the backend. The batch stays unchanged from `begin` to `complete`.
    func begin(_ batch: Batch, plan: ShardingPlan, rank: Int, communicator: Communicator, overlapped: Bool) throws {
        precondition(routedBatch == nil, "RequestRouting: a batch is already being routed")
        routedBatch = batch
        self.overlapped = overlapped
        layOut(batch, plan: plan, rank: rank)
        if overlapped {
            for r in sendCounts.indices { countsSent[r] = sendCounts[r] }
            pending = try communicator.startAllToAllV(send: countsSent, sendCounts: ones, sendOffsets: ranks,
                                                      receive: countsReceived, receiveCounts: ones, receiveOffsets: ranks)
        }
    }

    func advance(communicator: Communicator) throws {
        guard routedBatch != nil, !countsArrived else { return }
        if overlapped {
            try pending?.wait()
            pending = nil
            for r in receiveCounts.indices { receiveCounts[r] = countsReceived[r] }
        } else {
            receiveCounts = try communicator.allToAll(sendCounts)
        }
        writeOffsets(of: receiveCounts, into: &receiveOffsets)
        receivedPairs.reserve(2 * served)
        for r in sendCounts.indices {
            pairCounts[r] = 2 * sendCounts[r]
            pairOffsets[r] = 2 * sendOffsets[r]
            receivedPairCounts[r] = 2 * receiveCounts[r]
            receivedPairOffsets[r] = 2 * receiveOffsets[r]
        }
        if overlapped {
            pending = try communicator.startAllToAllV(send: sendPairs.base, sendCounts: pairCounts, sendOffsets: pairOffsets,
                                                      receive: receivedPairs.base, receiveCounts: receivedPairCounts,
                                                      receiveOffsets: receivedPairOffsets)
        } else {
            try communicator.allToAllV(send: sendPairs.base, sendCounts: pairCounts, sendOffsets: pairOffsets,
                                       receive: receivedPairs.base, receiveCounts: receivedPairCounts,
                                       receiveOffsets: receivedPairOffsets)
        }
        countsArrived = true
    }

    func complete(communicator: Communicator, learning: Bool) throws {
        guard let batch = routedBatch else { return }
        if !countsArrived { try advance(communicator: communicator) }
        try pending?.wait()
        pending = nil
        routedBatch = nil
        countsArrived = false
        if routedTables.contains(where: { isDynamic[$0] }) { try resolveKeys(communicator: communicator, learning: learning) }
        copyToBackend(batch, tables: routedTables)
    }

    /// Waits for an exchange in flight and forgets its batch (which will not be looked up).
    func abandon() throws {
        let inFlight = pending
        pending = nil
        routedBatch = nil
        countsArrived = false
        try inFlight?.wait()
    }

    /// The distinct requests of `batch`, laid out by owner (`sendCounts`, `sendOffsets`,
    /// `sendPairs`, `sendKeys`), and each id's send position.
    private func layOut(_ batch: Batch, plan: ShardingPlan, rank: Int) {
        let tables = (0..<plan.tables.count).filter { plan.isRequested(table: $0, rank: rank) }
        routedTables = tables
        var totalIDs = 0
        for t in tables { totalIDs += batch.sparse[t].idCount(samples: batch.size) }
        for buffer in [requestTable, requestRow, requestOwner] { buffer.reserve(totalIDs) }
        requestKey.reserve(totalIDs)
        requestCount = 0
        for r in sendCounts.indices { sendCounts[r] = 0 }

        // Distinct (table, row) pairs, each with its owner.
        for t in tables { request(batch, table: t, plan: plan, rank: rank) }
        // Lay requests out by owner: request -> send position.
        writeOffsets(of: sendCounts, into: &sendOffsets)
        var next = sendOffsets
        sendPosition.reserve(requestCount)
        sendPairs.reserve(2 * requestCount)
        sendKeys.reserve(requestCount)
        // Through the buffers' pointers: a hot loop over every request of the step.
        let owners = requestOwner.base, requestTables = requestTable.base, requestRows = requestRow.base
        let positionOfRequest = sendPosition.base, pairs = sendPairs.base, keys = sendKeys.base, requestKeys = requestKey.base
        for request in 0..<requestCount {
            let owner = Int(owners[request])
            let position = next[owner]
            next[owner] += 1
            positionOfRequest[request] = position
            pairs[2 * Int(position)] = requestTables[request]
            pairs[2 * Int(position) + 1] = requestRows[request]
            if isDynamic[Int(requestTables[request])] { keys[Int(position)] = requestKeys[request] }
        }
        for t in tables {
            let positions = positionOfID[t].base
            for k in 0..<batch.sparse[t].idCount(samples: batch.size) { positions[k] = positionOfRequest[Int(positions[k])] }
        }
    }

    /// The distinct rows of table `t` in `batch` (a dynamic table's keys) as requests to their
    /// owners; each id's position set to its request's index (a send position after layout).
    private func request(_ batch: Batch, table t: Int, plan: ShardingPlan, rank: Int) {
        let feature = batch.sparse[t], n = feature.idCount(samples: batch.size), dynamic = isDynamic[t]
        precondition(!dynamic || feature.carriesKeys || n == 0, "RequestRouting: table \(t) is dynamic, but its ids come without keys")
        positionOfID[t].reserve(n)
        let positions = positionOfID[t].base, ids = feature.ids.base, keys = feature.keys.base
        requests.reset(expected: n)
        // Locals and pointers in the loop: the class's own properties would be checked for
        // exclusive access, and its array for uniqueness, on every new request.
        let tables = requestTable.base, rows = requestRow.base, owners = requestOwner.base, requestKeys = requestKey.base
        var count = requestCount
        sendCounts.withUnsafeMutableBufferPointer { counts in
            for k in 0..<n {
                let key = dynamic ? keys[k] : UInt64(UInt32(bitPattern: ids[k]))
                positions[k] = requests.value(of: key) {
                    let owner = dynamic ? plan.owner(ofKey: key, table: t) : plan.owner(ofRow: Int(ids[k]), table: t, requester: rank)
                    tables[count] = Int32(t)
                    rows[count] = dynamic ? -1 : ids[k]
                    owners[count] = Int32(owner)
                    requestKeys[count] = key
                    counts[owner] += 1
                    count += 1
                    return Int32(count - 1)
                }
            }
        }
        requestCount = count
    }

    /// Sends each request's key along with its pair; each owner resolves the keys it receives
    /// to its rows, in arrival order, and writes them into the received pairs.
    private func resolveKeys(communicator: Communicator, learning: Bool) throws {
        for map in rowMaps { map?.beginStep(learning: learning) }
        receivedKeys.reserve(served)
        try sendKeys.base.withMemoryRebound(to: Int32.self, capacity: 2 * sendKeys.capacity) { send in
            try receivedKeys.base.withMemoryRebound(to: Int32.self, capacity: 2 * receivedKeys.capacity) { receive in
                try communicator.allToAllV(send: send, sendCounts: pairCounts, sendOffsets: pairOffsets,
                                           receive: receive, receiveCounts: receivedPairCounts,
                                           receiveOffsets: receivedPairOffsets)
            }
        }
        for request in 0..<served {
            guard let map = rowMaps[Int(receivedPairs[2 * request])] else { continue }
            receivedPairs[2 * request + 1] = Int32(map.firstRow) + map.row(forKey: receivedKeys[request])
        }
    }

    /// Each routed table's id positions and the served pairs, into backend memory.
    private func copyToBackend(_ batch: Batch, tables: [Int]) {
        for t in tables {
            let n = batch.sparse[t].idCount(samples: batch.size)
            if devicePositions[t].count < n { devicePositions[t] = backend.makeIndices(2 * n) }
            backend.upload(UnsafeBufferPointer(start: positionOfID[t].base, count: n), to: devicePositions[t].slice(0, n))
        }
        if deviceReceivedPairs.count < 2 * served { deviceReceivedPairs = backend.makeIndices(4 * served) }
        backend.upload(UnsafeBufferPointer(start: receivedPairs.base, count: 2 * served), to: deviceReceivedPairs.slice(0, 2 * served))
    }
}
