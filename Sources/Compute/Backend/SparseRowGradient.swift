/// The gradient of an embedding table for one batch, as the rows it touched, in backend memory:
/// `rowIDs[u]` (unique local rows, in order of first contribution) and their summed gradients
/// `values[u * dimension ..< (u + 1) * dimension]`. A table-sized dense gradient is never formed.
///
/// Accumulation: `begin`, then any number of the backend's `accumulate...` operations (which
/// de-duplicate through a row-to-slot map sized by the batch, not the table), then `finish`.
public final class SparseRowGradient: @unchecked Sendable {
    public let backend: any ComputeBackend
    public let dimension: Int
    public private(set) var rowIDs: DeviceBuffer<Int32>
    public private(set) var values: DeviceBuffer<Float>
    /// The row-to-slot map while accumulating: an open-addressed hash table of (row, slot) pairs,
    /// `slotMapMask + 1` of them (a power of two at least twice `capacity`), a free pair's row
    /// -1; all free again after `finish`. A table of any size costs it no more than its batch.
    public private(set) var slotMap: DeviceBuffer<Int32>
    /// Distinct rows touched so far (kept on the host by the accumulating operations).
    public var rowCount = 0

    public init(backend: any ComputeBackend, dimension: Int, capacity: Int) {
        self.backend = backend
        self.dimension = dimension
        rowIDs = backend.makeIndices(max(capacity, 1))
        values = backend.makeFloats(max(capacity, 1) * dimension)
        slotMap = Self.freeSlotMap(backend, capacity: max(capacity, 1))
    }

    /// Rows the buffers can hold.
    public var capacity: Int { rowIDs.count }

    /// The pairs of `slotMap` less one (a mask of the hash).
    public var slotMapMask: Int { slotMap.count / 2 - 1 }

    /// Where row `row`'s probe in `slotMap` starts (Fibonacci hashing); the CUDA kernels' `slot_home`.
    @inline(__always)
    public static func slotHome(of row: Int, mask: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(truncatingIfNeeded: row)) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The pairs of the slot map of a gradient of `capacity` rows: the power of two at least twice it.
    public static func slotMapPairs(capacity: Int) -> Int {
        var pairs = 2
        while pairs < 2 * capacity { pairs *= 2 }
        return pairs
    }

    private static func freeSlotMap(_ backend: any ComputeBackend, capacity: Int) -> DeviceBuffer<Int32> {
        let map = backend.makeIndices(2 * slotMapPairs(capacity: capacity))
        backend.fill(map.whole, with: -1)
        return map
    }

    /// Starts a new gradient for at most `contributions` rows (a batch never touches more rows
    /// than it has ids).
    public func begin(contributions: Int) {
        if contributions > capacity {
            rowIDs = backend.makeIndices(contributions)
            values = backend.makeFloats(contributions * dimension)
            slotMap = Self.freeSlotMap(backend, capacity: contributions)
        }
        rowCount = 0
    }

    /// Ends the accumulation (frees every pair of the row-to-slot map).
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
