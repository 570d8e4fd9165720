import Compute

/// A layer's matrix operands as its products take them: under bf16 matmuls (`training.precision:
/// bf16`) each rounded to bf16 once however many products read it — a linear layer's input
/// feeds its forward product and its weight gradient, its weights the forward product and the
/// input gradient, its output gradient both backward products; in fp32 the values themselves.
/// Slots are the layer's to number; each keeps the last values rounded into it, in a buffer
/// grown to the largest seen (the first steps), then kept.
final class MatmulOperands: @unchecked Sendable {
    private let backend: any ComputeBackend
    /// Whether operands are rounded (the backend's products are bf16).
    private let rounds: Bool
    private var slots: [DeviceBuffer<UInt16>?]
    /// What each slot holds the rounding of: its buffer, offset and count.
    private var sources: [(buffer: ObjectIdentifier, offset: Int, count: Int)?]

    init(backend: any ComputeBackend, slots: Int) {
        self.backend = backend
        rounds = backend.matmulPrecision == .bf16
        self.slots = Array(repeating: nil, count: slots)
        sources = Array(repeating: nil, count: slots)
    }

    /// `values` as an operand: rounded into `slot` under bf16 matmuls.
    func operand(_ values: DeviceSlice<Float>, slot: Int) -> MatmulOperand {
        guard let rounded = destination(for: values, slot: slot) else { return .fp32(values) }
        backend.pack(values, as: .bf16, into: rounded)
        return .bf16(rounded)
    }

    /// Under bf16 matmuls, where `values` are to be rounded into for `slot` by an operation that
    /// rounds them itself (a fused epilogue); nil under fp32 matmuls.
    func destination(for values: DeviceSlice<Float>, slot: Int) -> DeviceSlice<UInt16>? {
        guard rounds else { return nil }
        if (slots[slot]?.count ?? -1) < values.count { slots[slot] = backend.makeBuffer(UInt16.self, count: values.count) }
        sources[slot] = (ObjectIdentifier(values.buffer), values.offset, values.count)
        return slots[slot]!.slice(0, values.count)
    }

    /// `values` as an operand again: under bf16 matmuls the copy `operand` rounded into `slot`
    /// (the layer's forward did; nothing else may have been rounded into it since).
    func reused(_ slot: Int, of values: DeviceSlice<Float>) -> MatmulOperand {
        guard rounds else { return .fp32(values) }
        guard let source = sources[slot], source == (ObjectIdentifier(values.buffer), values.offset, values.count) else {
            preconditionFailure("MatmulOperands: slot \(slot) holds the rounding of other values (a backward without its forward)")
        }
        return .bf16(slots[slot]!.slice(0, values.count))
    }
}
