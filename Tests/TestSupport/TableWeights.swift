import Compute
import NeuralNetwork

extension EmbeddingTable {
    /// An fp32 table's rows, for tests that read or set them in place.
    public var weights: DeviceBuffer<Float> {
        guard case .fp32(let weights) = storage else { preconditionFailure("\(name) stores bf16 rows") }
        return weights
    }
}

extension StoredValues {
    /// fp32 values, for tests that read or set them in place.
    public var floats: DeviceBuffer<Float> {
        guard case .fp32(let values) = self else { preconditionFailure("bf16 values") }
        return values
    }
}
