import Compute

/// The gradient of an embedding table for one batch, as the rows it touched: `rowIDs[u]`
/// (unique, in order of first occurrence in the batch) and the summed gradient
/// `values[u * dimension ..< (u + 1) * dimension]`. A table-sized dense gradient is never formed.
public final class SparseRowGradient: @unchecked Sendable {
    public let dimension: Int
    public private(set) var rowIDs: IndexBuffer
    public private(set) var values: FloatBuffer
    /// Number of distinct rows touched.
    public internal(set) var rowCount = 0
    var capacity: Int

    public init(dimension: Int, capacity: Int) {
        self.dimension = dimension
        rowIDs = IndexBuffer(capacity: capacity)
        values = FloatBuffer(count: max(capacity, 1) * dimension)
        self.capacity = max(capacity, 1)
    }

    /// Grows the buffers for `idCount` ids (a batch never touches more rows than it has ids).
    func reserve(idCount: Int) {
        guard idCount > capacity else { return }
        capacity = idCount
        rowIDs.reserve(idCount)
        values = FloatBuffer(count: idCount * dimension)
    }

    /// The gradient of touched row `u` (0 ..< rowCount).
    public func gradient(ofRow u: Int) -> UnsafeMutablePointer<Float> {
        assert(u < rowCount)
        return values.base + u * dimension
    }

    /// (row id, gradient) pairs, for tests and checks.
    public func rows() -> [(id: Int, gradient: [Float])] {
        (0..<rowCount).map { u in
            (Int(rowIDs[u]), Array(UnsafeBufferPointer(start: gradient(ofRow: u), count: dimension)))
        }
    }
}
