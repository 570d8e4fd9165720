/// All dense parameters of a model in one contiguous block of backend memory, their gradients in
/// a twin block (as llm.c allocates its parameter block on the host or the device).
///
/// Layers reserve named slices while the model is built; `allocate(on:)` then creates both
/// blocks. Because every dense parameter lives in `values` and every gradient in `gradients`, an
/// optimizer step is one operation and an all-reduce is one call (or a few bucket slices).
/// Names are paths joined with "/" (`bottom_mlp/layer0/weight`), ready to become HDF5 groups.
public final class ParameterArena: @unchecked Sendable {
    /// One reserved parameter: its path, shape and place in the arena.
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let backend: any ComputeBackend
    public private(set) var entries: [Entry] = []
    public private(set) var count = 0
    public private(set) var values: DeviceBuffer<Float>
    public private(set) var gradients: DeviceBuffer<Float>
    private var isAllocated = false

    public init(backend: any ComputeBackend) {
        self.backend = backend
        values = backend.makeFloats(0)
        gradients = backend.makeFloats(0)
    }

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
        values = backend.makeFloats(count)
        gradients = backend.makeFloats(count)
        isAllocated = true
    }

    public func value(at offset: Int, count: Int) -> DeviceSlice<Float> { values.slice(offset, count) }
    public func gradient(at offset: Int, count: Int) -> DeviceSlice<Float> { gradients.slice(offset, count) }
    /// The values of one reserved parameter.
    public func value(of entry: Entry) -> DeviceSlice<Float> { values.slice(entry.offset, entry.count) }

    /// Zeroes every gradient (backward passes add into them).
    public func zeroGradients() { backend.fill(gradients.whole, with: 0) }
}
