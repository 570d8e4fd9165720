import Compute

/// An embedding table with sum-pooled bags (PyTorch's `EmbeddingBag(mode: "sum")`).
///
/// Forward: out[b] = sum of rows `ids[offsets[b] ..< offsets[b+1]]` (zero for an empty bag),
/// written with a row stride so that pooled vectors land straight in the interaction input.
/// Backward: the gradient of every touched row, de-duplicated (`SparseRowGradient`); the table
/// never sees a dense gradient. Weights are (rows, dimension), outside the dense arena: tables
/// are sharded, not all-reduced.
public final class EmbeddingTable: @unchecked Sendable {
    public let name: String
    public let rowCount: Int
    public let dimension: Int
    public let weights: FloatBuffer
    public let gradient: SparseRowGradient

    public init(name: String, rowCount: Int, dimension: Int, batchCapacity: Int) {
        precondition(rowCount > 0 && rowCount <= Int(Int32.max), "EmbeddingTable: bad row count \(rowCount)")
        self.name = name
        self.rowCount = rowCount
        self.dimension = dimension
        weights = FloatBuffer(count: rowCount * dimension)
        gradient = SparseRowGradient(dimension: dimension, capacity: batchCapacity)
    }

    /// Row `id` of the table.
    public func row(_ id: Int) -> UnsafeMutablePointer<Float> {
        assert(id >= 0 && id < rowCount)
        return weights.base + id * dimension
    }

    /// Uniform(-sqrt(1/rows), sqrt(1/rows)) as in the DLRM reference.
    public func initializeUniform(using generator: inout SeededGenerator) {
        let bound = (1.0 / Double(rowCount)).squareRoot()
        let w = weights.base
        for i in 0..<weights.count { w[i] = Float((generator.nextUniform() * 2 - 1) * bound) }
    }

    /// Pools each sample's bag into `output + b * outputStride` (dimension floats per sample).
    public func forward(_ feature: SparseFeature, rows: Int, output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let ids = feature.ids.base, offsets = feature.offsets.base
        let dimension = self.dimension, w = weights.base
        for b in 0..<rows {
            let out = output + b &* outputStride
            let start = Int(offsets[b]), end = Int(offsets[b &+ 1])
            if start == end {
                out.update(repeating: 0, count: dimension)
                continue
            }
            out.update(from: w + Int(ids[start]) &* dimension, count: dimension)
            var k = start &+ 1
            while k < end {
                Kernels.add(w + Int(ids[k]) &* dimension, into: out, count: dimension)
                k &+= 1
            }
        }
    }

    /// Builds `gradient` from dL/d(pooled output) `outputGradient + b * gradientStride`:
    /// sorts (id, sample) keys so repeated ids become runs, then sums each run.
    public func backward(_ feature: SparseFeature, rows: Int,
                         outputGradient: UnsafePointer<Float>, gradientStride: Int) {
        let idCount = feature.idCount(samples: rows)
        gradient.reserve(idCount: idCount)
        let keys = gradient.sortKeys, ids = feature.ids.base, offsets = feature.offsets.base
        for b in 0..<rows {
            for k in Int(offsets[b])..<Int(offsets[b &+ 1]) {
                keys[k] = UInt64(UInt32(bitPattern: ids[k])) << 32 | UInt64(b)
            }
        }
        var sortable = UnsafeMutableBufferPointer(start: keys, count: idCount)
        sortable.sort()

        let dimension = self.dimension
        var unique = -1
        var previousID: UInt64 = .max
        let values = gradient.values.base, rowIDs = gradient.rowIDs.base
        for k in 0..<idCount {
            let id = keys[k] >> 32
            let sample = Int(keys[k] & 0xFFFF_FFFF)
            let source = outputGradient + sample &* gradientStride
            if id != previousID {
                unique &+= 1
                previousID = id
                rowIDs[unique] = Int32(truncatingIfNeeded: id)
                (values + unique &* dimension).update(from: source, count: dimension)
            } else {
                Kernels.add(source, into: values + unique &* dimension, count: dimension)
            }
        }
        gradient.rowCount = unique + 1
    }
}
