import Compute

/// DLRM's dot interaction.
///
/// Input Z is (B, F, D): slot 0 is the bottom-MLP output, slots 1...T the pooled embeddings
/// (with no dense features, slots 0...T-1 are the embeddings). Output is (B, D + F(F-1)/2):
/// Z[:, 0, :] followed by the dots <Z_i, Z_j> for i > j, ordered by i then j (the strictly
/// lower triangle, as the DLRM reference orders it); without `passesFirstSlot`, the dots alone.
public struct DotInteraction: Sendable {
    public let shape: InteractionShape
    let backend: any ComputeBackend

    public init(backend: any ComputeBackend, featureCount: Int, dimension: Int, passesFirstSlot: Bool = true) {
        self.backend = backend
        shape = InteractionShape(featureCount: featureCount, dimension: dimension, passesFirstSlot: passesFirstSlot)
    }

    public var featureCount: Int { shape.featureCount }
    public var dimension: Int { shape.dimension }
    public var pairCount: Int { shape.pairCount }
    public var inputWidth: Int { shape.inputWidth }
    public var outputWidth: Int { shape.outputWidth }

    /// Z (B, F, D) -> (B, [D +] pairs).
    public func forward(input: DeviceSlice<Float>, output: DeviceSlice<Float>, rows: Int) {
        backend.dotInteraction(shape, input: input, output: output, rows: rows)
    }

    /// dL/dZ (B, F, D) from dL/d(output); overwrites `inputGradient`. With G the symmetric
    /// (F, F) matrix of pair gradients (zero diagonal), dZ = G Z, plus the pass-through gradient
    /// in slot 0.
    public func backward(input: DeviceSlice<Float>, outputGradient: DeviceSlice<Float>,
                         inputGradient: DeviceSlice<Float>, rows: Int) {
        backend.dotInteractionBackward(shape, input: input, outputGradient: outputGradient, inputGradient: inputGradient, rows: rows)
    }
}
