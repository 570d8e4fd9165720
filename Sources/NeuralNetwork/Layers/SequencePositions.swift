import Compute

/// A behaviour sequence laid out by position for lookup: a sample's bag of ids (oldest first,
/// the candidate item last) becomes `length` one-id bags, right-aligned so position
/// `length - 1` always holds the last id and the positions before its first id are empty (they
/// look up to zero vectors). A bag longer than `length` keeps its last `length` ids.
///
/// The bags go to an embedding collection as a batch of samples × length rows; `lengths` (how
/// many trailing positions hold an id) is the attention's padding mask.
public final class SequencePositions: @unchecked Sendable {
    public let length: Int
    public let sampleCapacity: Int
    /// The positions as a one-table batch of `sampleCapacity * length` bags, in backend memory.
    public let inputs: DeviceBatch
    /// Valid positions per sample, in backend memory.
    public let lengths: DeviceBuffer<Int32>
    private let bags: Batch
    private var hostLengths: [Int32]

    public init(backend: any ComputeBackend, length: Int, sampleCapacity: Int) {
        self.length = length
        self.sampleCapacity = sampleCapacity
        bags = Batch(capacity: sampleCapacity * length, denseFeatureCount: 0, tableCount: 1)
        inputs = DeviceBatch(backend: backend, capacity: sampleCapacity * length, denseFeatureCount: 0, tableCount: 1)
        lengths = backend.makeIndices(sampleCapacity)
        hostLengths = Array(repeating: 0, count: sampleCapacity)
    }

    /// Lays out the first `samples` bags of `feature` by position and copies them in.
    public func load(_ feature: SparseFeature, samples: Int) {
        precondition(samples <= sampleCapacity, "SequencePositions: \(samples) samples exceed \(sampleCapacity)")
        let positions = bags.sparse[0]
        var written: Int32 = 0
        for b in 0..<samples {
            let end = Int(feature.offsets[b + 1]), count = min(end - Int(feature.offsets[b]), length)
            let firstFilled = length - count
            for p in 0..<length {
                positions.offsets[b * length + p] = written
                if p >= firstFilled {
                    positions.ids[Int(written)] = feature.ids[end - count + p - firstFilled]
                    written += 1
                }
            }
            hostLengths[b] = Int32(count)
        }
        positions.offsets[samples * length] = written
        bags.size = samples * length
        inputs.load(bags)
        hostLengths.withUnsafeBufferPointer { inputs.backend.upload(UnsafeBufferPointer(rebasing: $0[0..<samples]), to: lengths.slice(0, samples)) }
    }
}
