import Compute
import NeuralNetwork

/// Tables every rank holds whole: looked up locally, and kept identical on every rank by
/// sharing the row gradients: each rank's row gradients of its batch slice go to every rank (an
/// all-gather over all-to-all: the same buffer to all), and every rank applies all of them in
/// rank order.
final class ReplicatedTables: TablePlacement {
    /// Per table of the collection: this rank's replica, or nil for a table not replicated.
    private let tables: [EmbeddingTable?]
    /// The same per table: the replicas' gradients and rows, as the backend's row operations take them.
    private let gradients: [SparseRowGradient?]
    private let rows: [ShardRows<Float>?]
    private let communicator: Communicator
    private let backend: any ComputeBackend
    /// (table, row) of every local row gradient, and of every rank's after the exchange.
    private let localPairs = IndexBuffer(capacity: 2)
    private let gatheredPairs = IndexBuffer(capacity: 2)
    private var deviceGatheredPairs: DeviceBuffer<Int32>
    private var localValues: DeviceBuffer<Float>
    private var gatheredValues: DeviceBuffer<Float>
    private var sendCounts: [Int32]
    private var receiveOffsets: [Int32]
    private let zeroOffsets: [Int32]

    init(tables: [EmbeddingTable?], communicator: Communicator, backend: any ComputeBackend) {
        self.tables = tables
        gradients = tables.map { $0?.gradient }
        rows = tables.map { $0?.shardRows }
        self.communicator = communicator
        self.backend = backend
        deviceGatheredPairs = backend.makeIndices(0)
        localValues = backend.makeFloats(0)
        gatheredValues = backend.makeFloats(0)
        zeroOffsets = Array(repeating: 0, count: communicator.size)
        sendCounts = zeroOffsets
        receiveOffsets = zeroOffsets
    }

    private var dimension: Int { tables.lazy.compactMap { $0 }.first?.dimension ?? 0 }

    func pool(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) {
        for (t, table) in tables.enumerated() {
            table?.forward(batch.bags(t), output: layout.start(ofTable: t, in: output), outputStride: layout.rowStride)
        }
    }

    func addScalars(_ batch: DeviceBatch, output: DeviceSlice<Float>) {
        for (t, table) in tables.enumerated() { table?.forwardAddingScalars(batch.bags(t), output: output) }
    }

    /// Replicas request nothing.
    func addRequestGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout) {}

    /// Collects each replica's row gradients of `batch`, exchanges them, and applies every
    /// rank's (by `mode`). Collective: every rank calls it for every batch.
    func applyOwnGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                           mode: EmbeddingBackwardMode) throws {
        guard tables.contains(where: { $0 != nil }) else { return }
        let d = dimension, worldSize = communicator.size
        // This rank's row gradients: (table, row) pairs on the host, values in backend memory.
        var localCount = 0
        for (t, table) in tables.enumerated() {
            guard let table else { continue }
            table.backward(batch.bags(t), outputGradient: layout.start(ofTable: t, in: outputGradient),
                           gradientStride: layout.rowStride, mode: .collectGradients)
            localCount += table.gradient.rowCount
        }
        localPairs.reserve(2 * localCount)
        if localValues.count < localCount * d { localValues = backend.makeFloats(2 * localCount * d) }
        var next = 0
        for (t, table) in tables.enumerated() {
            guard let gradient = table?.gradient, gradient.rowCount > 0 else { continue }
            backend.copy(gradient.touchedValues, to: localValues.slice(next * d, gradient.rowCount * d))
            for row in gradient.touchedRows.toArray() {
                localPairs[2 * next] = Int32(t)
                localPairs[2 * next + 1] = row
                next += 1
            }
        }

        // Every rank's, in rank order.
        for r in 0..<worldSize { sendCounts[r] = Int32(localCount) }
        let counts = try communicator.allToAll(sendCounts)
        writeOffsets(of: counts, into: &receiveOffsets)
        let total = Int(counts.reduce(0, +))
        gatheredPairs.reserve(2 * total)
        if gatheredValues.count < total * d { gatheredValues = backend.makeFloats(2 * total * d) }
        let pairs = elementLayout(counts, width: 2), values = elementLayout(counts, width: d)
        try communicator.allToAllV(send: localPairs.base, sendCounts: pairs.send, sendOffsets: pairs.sendOffsets,
                                   receive: gatheredPairs.base, receiveCounts: pairs.receive, receiveOffsets: pairs.receiveOffsets)
        try communicator.allToAllV(send: localValues.whole, sendCounts: values.send, sendOffsets: values.sendOffsets,
                                   receive: gatheredValues.whole, receiveCounts: values.receive, receiveOffsets: values.receiveOffsets)
        if deviceGatheredPairs.count < 2 * total { deviceGatheredPairs = backend.makeIndices(4 * total) }
        backend.upload(UnsafeBufferPointer(start: gatheredPairs.base, count: 2 * total), to: deviceGatheredPairs.slice(0, 2 * total))

        for table in tables { table?.gradient.begin(contributions: total) }
        switch mode {
        case .collectGradients:
            backend.accumulateRowGradients(gatheredValues.whole, pairs: deviceGatheredPairs.whole, count: total,
                                           into: gradients, firstRows: tables.map { _ in 0 })
        case .fusedSGD(let learningRate):
            backend.scatterAddRows(gatheredValues.whole, pairs: deviceGatheredPairs.whole, count: total, scale: -learningRate,
                                   into: rows, dimension: d)
        }
        for table in tables { table?.gradient.finish() }
    }

    /// The all-gather in elements of `width` (one request is `width` elements): this rank's
    /// block to every rank from offset 0; every rank's block received in rank order.
    private func elementLayout(_ counts: [Int32], width: Int)
        -> (send: [Int32], sendOffsets: [Int32], receive: [Int32], receiveOffsets: [Int32]) {
        var send = sendCounts, sendOffsets = zeroOffsets, receive = counts, receiveOffsets = self.receiveOffsets
        scale(sendCounts, zeroOffsets, by: width, into: &send, &sendOffsets)
        scale(counts, self.receiveOffsets, by: width, into: &receive, &receiveOffsets)
        return (send, sendOffsets, receive, receiveOffsets)
    }
}
