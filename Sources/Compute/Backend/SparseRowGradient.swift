/// The gradient of an embedding table for one batch, as the rows it touched, in backend memory:
/// `rowIDs[u]` (unique local rows, in order of first contribution) and their summed gradients
/// `values[u * dimension ..< (u + 1) * dimension]`. A table-sized dense gradient is never formed.
///
/// Accumulation: `begin`, then any number of the backend's `accumulate...` operations (which
/// de-duplicate through a row-to-slot map of the table's size), then `finish`.
public final class SparseRowGradient: @unchecked Sendable {
    public let backend: any ComputeBackend
    public let dimension: Int
    public let tableRowCount: Int
    public private(set) var rowIDs: DeviceBuffer<Int32>
    public private(set) var values: DeviceBuffer<Float>
    /// Per table row: its slot in `rowIDs` while accumulating, -1 otherwise.
    public let slotOfRow: DeviceBuffer<Int32>
    /// Distinct rows touched so far (kept on the host by the accumulating operations).
    public var rowCount = 0

    public init(backend: any ComputeBackend, tableRowCount: Int, dimension: Int, capacity: Int) {
        self.backend = backend
        self.dimension = dimension
        self.tableRowCount = tableRowCount
        rowIDs = backend.makeIndices(max(capacity, 1))
        values = backend.makeFloats(max(capacity, 1) * dimension)
        slotOfRow = backend.makeIndices(tableRowCount)
        backend.fill(slotOfRow.whole, with: -1)
    }

    /// Rows the buffers can hold.
    public var capacity: Int { rowIDs.count }

    /// Starts a new gradient for at most `contributions` rows (a batch never touches more rows
    /// than it has ids).
    public func begin(contributions: Int) {
        if contributions > capacity {
            rowIDs = backend.makeIndices(contributions)
            values = backend.makeFloats(contributions * dimension)
        }
        rowCount = 0
    }

    /// Ends the accumulation (clears the row-to-slot map).
    public func finish() { backend.finishRowGradient(self) }

    /// The touched rows' ids.
    public var touchedRows: DeviceSlice<Int32> { rowIDs.slice(0, rowCount) }
    /// Their gradients, (rowCount, dimension).
    public var touchedValues: DeviceSlice<Float> { values.slice(0, rowCount * dimension) }

    /// (row id, gradient) pairs copied to the host, for tests and checks.
    public func rows() -> [(id: Int, gradient: [Float])] {
        let ids = touchedRows.toArray(), gradients = touchedValues.toArray()
        return ids.enumerated().map { u, id in (Int(id), Array(gradients[u * dimension ..< (u + 1) * dimension])) }
    }
}
