/// Values a backend stores in fp32 or in bf16 (`TablePrecision`): an embedding table's rows,
/// or the optimizer's state of them. Host code reads and writes them as fp32: bf16 values are
/// widened exactly, and fp32 values written into bf16 are rounded to nearest (ties to even), so a
/// value read from bf16 storage is written back unchanged.
public enum StoredValues {
    case fp32(DeviceBuffer<Float>)
    case bf16(DeviceBuffer<UInt16>)

    public init(backend: any ComputeBackend, count: Int, precision: TablePrecision) {
        switch precision {
        case .fp32: self = .fp32(backend.makeFloats(count))
        case .bf16: self = .bf16(backend.makeBuffer(UInt16.self, count: count))
        }
    }

    public var precision: TablePrecision {
        switch self {
        case .fp32: .fp32
        case .bf16: .bf16
        }
    }

    public var count: Int {
        switch self {
        case .fp32(let values): values.count
        case .bf16(let values): values.count
        }
    }

    public var backend: any ComputeBackend {
        switch self {
        case .fp32(let values): values.backend
        case .bf16(let values): values.backend
        }
    }

    /// A host copy of `range` as fp32.
    public func read(_ range: Range<Int>) -> [Float] {
        switch self {
        case .fp32(let values): values.slice(range.lowerBound, range.count).toArray()
        case .bf16(let values): values.slice(range.lowerBound, range.count).toArray().map(BFloat16.widen)
        }
    }

    /// Writes fp32 `source` from `offset` on.
    public func write(_ source: UnsafeBufferPointer<Float>, at offset: Int) {
        switch self {
        case .fp32(let values):
            values.backend.upload(source, to: values.slice(offset, source.count))
        case .bf16(let values):
            let rounded = source.map(BFloat16.nearest(to:))
            rounded.withUnsafeBufferPointer { values.backend.upload($0, to: values.slice(offset, source.count)) }
        }
    }

    /// Sets `range` to `value` (rounded to nearest in bf16).
    public func fill(_ range: Range<Int>, with value: Float) {
        switch self {
        case .fp32(let values):
            values.backend.fill(values.slice(range.lowerBound, range.count), with: value)
        case .bf16:
            let block = 1 << 16
            let values = [Float](repeating: value, count: min(block, range.count))
            for start in stride(from: range.lowerBound, to: range.upperBound, by: block) {
                values.withUnsafeBufferPointer { write(UnsafeBufferPointer(rebasing: $0[0..<min(block, range.upperBound - start)]), at: start) }
            }
        }
    }

    /// Whether every value is finite.
    public func allFinite() -> Bool {
        switch self {
        case .fp32(let values):
            return values.backend.allFinite(values.whole)
        case .bf16(let values):
            // A bf16 is infinite or NaN when its 8 exponent bits are all ones; read a block at a time.
            let block = 1 << 20
            for start in stride(from: 0, to: values.count, by: block) {
                if values.slice(start, min(block, values.count - start)).toArray().contains(where: { $0 & 0x7F80 == 0x7F80 }) {
                    return false
                }
            }
            return true
        }
    }
}
