import Compute
import NeuralNetwork

extension EmbeddingTable {
    /// An fp32 table's rows, for tests that read or set them in place.
    public var weights: DeviceBuffer<Float> {
        guard case .fp32(let weights) = storage else { preconditionFailure("\(name) stores bf16 rows") }
        return weights
    }
}
