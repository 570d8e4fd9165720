import Compute

/// A stack of `Linear` layers with ReLU between them (and after the last one if asked).
///
/// Owns its activations and their gradients, sized for `batchCapacity` rows once; the caller
/// writes dL/d(output) into `outputGradient` and calls `backward`.
public final class MLP: @unchecked Sendable {
    public let layers: [Linear]
    public let inputSize: Int
    public let batchCapacity: Int
    /// Output of layer l, (B, layers[l].outputSize).
    private let activations: [DeviceBuffer<Float>]
    /// dL/d(output of layer l), same shapes.
    private let activationGradients: [DeviceBuffer<Float>]
    /// dL/d(input), (B, inputSize); allocated only when the input needs a gradient.
    private let inputGradientBuffer: DeviceBuffer<Float>?

    /// - Parameters:
    ///   - widths: output width of every layer; the input width is `inputSize`.
    ///   - reluOnLast: whether the last layer is followed by ReLU (DLRM's bottom MLP is).
    ///   - needsInputGradient: whether `backward` must return dL/d(input).
    public init(arena: ParameterArena, name: String, inputSize: Int, widths: [Int], reluOnLast: Bool,
                batchCapacity: Int, needsInputGradient: Bool) {
        precondition(!widths.isEmpty, "MLP needs at least one layer")
        var layers: [Linear] = []
        var width = inputSize
        for (index, outputWidth) in widths.enumerated() {
            let isLast = index == widths.count - 1
            layers.append(Linear(arena: arena, name: "\(name)/layer\(index)", inputSize: width,
                                 outputSize: outputWidth, appliesReLU: !isLast || reluOnLast))
            width = outputWidth
        }
        self.layers = layers
        self.inputSize = inputSize
        self.batchCapacity = batchCapacity
        let backend = arena.backend
        activations = widths.map { backend.makeFloats(batchCapacity * $0) }
        activationGradients = widths.map { backend.makeFloats(batchCapacity * $0) }
        inputGradientBuffer = needsInputGradient ? backend.makeFloats(batchCapacity * inputSize) : nil
    }

    public var outputSize: Int { layers[layers.count - 1].outputSize }
    /// The arena slice holding every parameter of this MLP (its layers were reserved in order).
    public var parameterRange: Range<Int> { layers[0].parameterRange.lowerBound..<layers[layers.count - 1].parameterRange.upperBound }
    /// The last layer's output, (B, outputSize), valid after `forward`.
    public var output: DeviceSlice<Float> { activations[activations.count - 1].whole }
    /// Where the caller writes dL/d(output) before `backward`.
    public var outputGradient: DeviceSlice<Float> { activationGradients[activationGradients.count - 1].whole }

    public func initialize(using generator: inout SeededGenerator) {
        for layer in layers { layer.initialize(using: &generator) }
    }

    /// input (B, inputSize) -> output (B, outputSize). Under bf16 products each layer rounds its
    /// output for the next in the pass that adds its bias.
    @discardableResult
    public func forward(input: DeviceSlice<Float>, rows: Int) -> DeviceSlice<Float> {
        precondition(rows <= batchCapacity, "MLP: batch of \(rows) exceeds capacity \(batchCapacity)")
        var x = input, inputIsRounded = false
        for (index, layer) in layers.enumerated() {
            let output = activations[index].whole
            let next = index + 1 < layers.count ? layers[index + 1] : nil
            let rounded = next?.inputDestination(for: output.slice(0, rows * layer.outputSize))
            layer.forward(input: x, output: output, rows: rows, roundedOutput: rounded, inputIsRounded: inputIsRounded)
            x = output
            inputIsRounded = rounded != nil
        }
        return output
    }

    /// Adds parameter gradients into the arena; returns dL/d(input) when it was asked for.
    @discardableResult
    public func backward(input: DeviceSlice<Float>, rows: Int) -> DeviceSlice<Float>? {
        for index in stride(from: layers.count - 1, through: 0, by: -1) {
            let layerInput = index == 0 ? input : activations[index - 1].whole
            let inputGradient = index == 0 ? inputGradientBuffer?.whole : activationGradients[index - 1].whole
            layers[index].backward(input: layerInput, output: activations[index].whole,
                                   outputGradient: activationGradients[index].whole,
                                   inputGradient: inputGradient, rows: rows)
        }
        return inputGradientBuffer?.whole
    }
}
