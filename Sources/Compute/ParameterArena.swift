/// All dense parameters of a model in one contiguous block, their gradients in a twin block.
///
/// Layers reserve named slices while the model is built; `allocate()` then creates both blocks.
/// Because every dense parameter lives in `values` and every gradient in `gradients`, an
/// optimizer step is one flat loop and an all-reduce is one call (or a few bucket slices).
/// Names are paths joined with "/" (`bottom_mlp/layer0/weight`), ready to become HDF5 groups.
public final class ParameterArena: @unchecked Sendable {
    /// One reserved parameter: its path, shape and place in the arena.
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    public private(set) var count = 0
    public private(set) var values = FloatBuffer(count: 0)
    public private(set) var gradients = FloatBuffer(count: 0)
    private var isAllocated = false

    public init() {}

    /// Reserves a slice for a parameter; returns its offset. Only before `allocate()`.
    public func reserve(_ name: String, shape: [Int]) -> Int {
        precondition(!isAllocated, "ParameterArena: reserve after allocate")
        precondition(!entries.contains { $0.name == name }, "ParameterArena: duplicate name \(name)")
        // Keep each parameter 16-float (64-byte) aligned so SIMD kernels start on a line.
        let offset = (count + 15) & ~15
        let entry = Entry(name: name, shape: shape, offset: offset)
        entries.append(entry)
        count = offset + entry.count
        return offset
    }

    /// Creates the value and gradient blocks (zero-filled).
    public func allocate() {
        precondition(!isAllocated, "ParameterArena: allocate twice")
        values = FloatBuffer(count: count)
        gradients = FloatBuffer(count: count)
        isAllocated = true
    }

    public func value(at offset: Int, count: Int) -> TensorView { values.view(offset: offset, count: count) }
    public func gradient(at offset: Int, count: Int) -> TensorView { gradients.view(offset: offset, count: count) }

    /// Zeroes every gradient (backward passes add into them).
    public func zeroGradients() { gradients.setZero() }
}
