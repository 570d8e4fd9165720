import Compute
import Foundation

/// One backend operation run on two backends from the same seeded inputs: what it wrote (or
/// returned), by name. The CUDA backend's tests and `recsys-dist check-backend` (gpu-check on a
/// GPU machine) compare every operation this way against the CPU backend.
public struct ComparedOperation: CustomStringConvertible, Sendable {
    public let description: String
    let run: @Sendable (OperationInputs) -> [(String, OperationResult)]

    init(_ name: String, _ run: @escaping @Sendable (OperationInputs) -> [(String, OperationResult)]) {
        description = name
        self.run = run
    }
}

/// What an operation wrote or returned.
public enum OperationResult {
    case floats([Float])
    case integers([Int32])
    case number(Double)
}

/// Inputs drawn from a seed on one backend: the same values on every backend.
public final class OperationInputs: @unchecked Sendable {
    let backend: any ComputeBackend
    private var generator: SeededGenerator

    init(backend: any ComputeBackend, seed: UInt64 = 11) {
        self.backend = backend
        generator = SeededGenerator(seed: seed)
    }

    func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> DeviceBuffer<Float> {
        let buffer = backend.makeFloats(count)
        buffer.copy(from: (0..<count).map { _ in Float.random(in: range, using: &generator) })
        return buffer
    }

    /// `count` values drawn as `floats` draws them, stored in bf16 (rounded to nearest).
    func bfloat16(_ count: Int, in range: ClosedRange<Float> = -1...1) -> DeviceBuffer<UInt16> {
        let buffer = backend.makeBuffer(UInt16.self, count: count)
        buffer.copy(from: (0..<count).map { _ in BFloat16.nearest(to: Float.random(in: range, using: &generator)) })
        return buffer
    }

    /// `count` values drawn as `floats` draws them, stored in `precision`.
    func stored(_ count: Int, in range: ClosedRange<Float>, _ precision: TablePrecision) -> StoredValues {
        switch precision {
        case .fp32: .fp32(floats(count, in: range))
        case .bf16: .bf16(bfloat16(count, in: range))
        }
    }

    func floats(_ values: [Float]) -> DeviceBuffer<Float> {
        let buffer = backend.makeFloats(values.count)
        buffer.copy(from: values)
        return buffer
    }

    func integers(_ values: [Int32]) -> DeviceBuffer<Int32> {
        let buffer = backend.makeIndices(values.count)
        buffer.copy(from: values)
        return buffer
    }

    func integer(in range: ClosedRange<Int32>) -> Int32 { Int32.random(in: range, using: &generator) }

    /// Bags of `rows` samples over `tableRows` rows: sizes 0 to 3 (some empty), ids repeating.
    func bags(rows: Int, tableRows: Int) -> EmbeddingBags {
        var ids: [Int32] = [], offsets: [Int32] = [0]
        for _ in 0..<rows {
            for _ in 0..<Int.random(in: 0...3, using: &generator) { ids.append(Int32.random(in: 0..<Int32(tableRows), using: &generator)) }
            offsets.append(Int32(ids.count))
        }
        return EmbeddingBags(ids: integers(ids + [0]).slice(0, ids.count), offsets: integers(offsets).whole, rows: rows, idCount: ids.count)
    }
}

/// `operation` on `backend` and on the reference `cpu`: integers equal, numbers within
/// `tolerance` relative to the largest magnitude of their result (sums in another order differ by
/// rounding). Returns what differs, empty when nothing does.
public func compare(_ operation: ComparedOperation, on backend: any ComputeBackend, against cpu: any ComputeBackend,
                    tolerance: Double = 1e-6) -> [String] {
    let expected = operation.run(OperationInputs(backend: cpu)), got = operation.run(OperationInputs(backend: backend))
    var failures: [String] = []
    for ((name, want), (_, have)) in zip(expected, got) {
        switch (want, have) {
        case let (.integers(a), .integers(b)):
            if a != b {
                let first = a.indices.first { $0 >= b.count || a[$0] != b[$0] } ?? a.count
                failures.append("\(name): integers differ (counts \(a.count), \(b.count); first at \(first))")
            }
        case let (.floats(a), .floats(b)):
            guard a.count == b.count else {
                failures.append("\(name): \(a.count) values against \(b.count)")
                continue
            }
            let scale = max(Double(a.lazy.filter(\.isFinite).map(abs).max() ?? 0), 1e-30)
            for i in a.indices where a[i] != b[i] && !(a[i].isNaN && b[i].isNaN) {
                if !(abs(Double(a[i]) - Double(b[i])) <= tolerance * scale) {
                    failures.append("\(name)[\(i)]: cpu \(a[i]), \(backend.name) \(b[i]) (scale \(scale))")
                    break
                }
            }
        case let (.number(a), .number(b)):
            if !(abs(a - b) <= tolerance * max(abs(a), 1e-30)) { failures.append("\(name): cpu \(a), \(backend.name) \(b)") }
        default:
            failures.append("\(name): results of different kinds")
        }
    }
    if expected.count != got.count { failures.append("\(expected.count) results against \(got.count)") }
    return failures
}
