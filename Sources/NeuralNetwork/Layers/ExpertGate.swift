import Compute

/// A softmax gate over experts (MMoE, PLE): per sample, `weights = softmax(input W^T + b)` and
/// the output is `Σ_e weights[e] * expert_e`, each expert's output (B, width).
///
/// A gate over one expert has no parameters: its output is that expert's (softmax of one logit
/// is 1), which is how a shared-bottom model's towers read the shared MLP.
public final class ExpertGate: @unchecked Sendable {
    public let expertCount: Int
    /// The width of every expert's output, and of the gate's.
    public let width: Int
    /// The linear map to the expert logits; nil over one expert.
    public let linear: Linear?
    private let backend: any ComputeBackend
    /// The weights of the last forward (B, expertCount), then their gradient's scratch.
    private let weightBuffer: DeviceBuffer<Float>
    private let weightGradients: DeviceBuffer<Float>
    private let mixture: DeviceBuffer<Float>

    /// Reserves `name/weight` and `name/bias` in `arena` (nothing over one expert).
    public init(arena: ParameterArena, name: String, inputSize: Int, expertCount: Int, width: Int, batchCapacity: Int) {
        precondition(expertCount >= 1, "ExpertGate: no experts")
        self.expertCount = expertCount
        self.width = width
        backend = arena.backend
        let mixes = expertCount > 1
        linear = mixes ? Linear(arena: arena, name: name, inputSize: inputSize, outputSize: expertCount, appliesReLU: false) : nil
        weightBuffer = backend.makeFloats(mixes ? batchCapacity * expertCount : 0)
        weightGradients = backend.makeFloats(mixes ? batchCapacity * expertCount : 0)
        mixture = backend.makeFloats(mixes ? batchCapacity * width : 0)
    }

    /// The gate's weights of the last forward, (B, expertCount); nil over one expert.
    public func weights(rows: Int) -> DeviceSlice<Float>? { linear == nil ? nil : weightBuffer.slice(0, rows * expertCount) }

    public func initialize(using generator: inout SeededGenerator) { linear?.initialize(using: &generator) }

    /// The mixture (B, width) of `experts` (each (B, width)) for gate input `input` (B, inputSize).
    public func forward(input: DeviceSlice<Float>, experts: [DeviceSlice<Float>], rows: Int) -> DeviceSlice<Float> {
        precondition(experts.count == expertCount, "ExpertGate: \(experts.count) experts for a gate over \(expertCount)")
        guard let linear else { return experts[0] }
        let weights = weightBuffer.slice(0, rows * expertCount), output = mixture.slice(0, rows * width)
        linear.forward(input: input, output: weights, rows: rows)
        backend.softmaxRows(weights, rows: rows, columns: expertCount)
        backend.fill(output, with: 0)
        for (e, expert) in experts.enumerated() {
            backend.addScaledRows(expert, scales: weights.suffix(from: e), scaleStride: expertCount, into: output, rows: rows,
                                  columns: width)
        }
        return output
    }

    /// Backward from dL/d(output) (B, width): adds each expert's share into `expertGradients`
    /// (each (B, width)), the gate's parameter gradients into the arena, and dL/d(input) into
    /// `inputGradient` (B, inputSize).
    public func backward(input: DeviceSlice<Float>, experts: [DeviceSlice<Float>], outputGradient: DeviceSlice<Float>,
                         expertGradients: [DeviceSlice<Float>], inputGradient: DeviceSlice<Float>, rows: Int) {
        guard let linear else {
            backend.add(outputGradient.slice(0, rows * width), into: expertGradients[0].slice(0, rows * width))
            return
        }
        let weights = weightBuffer.slice(0, rows * expertCount), logits = weightGradients.slice(0, rows * expertCount)
        for (e, expert) in experts.enumerated() {
            // d weight_e = <dL/d(output), expert_e> per sample; d expert_e += weight_e * dL/d(output).
            backend.rowDots(outputGradient, expert, rows: rows, columns: width, into: logits.suffix(from: e), dotStride: expertCount)
            backend.addScaledRows(outputGradient, scales: weights.suffix(from: e), scaleStride: expertCount,
                                  into: expertGradients[e], rows: rows, columns: width)
        }
        backend.softmaxRowsBackward(probabilities: weights, gradient: logits, rows: rows, columns: expertCount)
        linear.backward(input: input, output: weights, outputGradient: logits, inputGradient: inputGradient, rows: rows,
                        addsInputGradient: true)
    }
}
