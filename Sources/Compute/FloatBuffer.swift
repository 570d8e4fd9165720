/// An owned, 64-byte-aligned, zero-initialised block of host `Float`s that never moves or copies:
/// what the data pipeline fills (a `Batch`'s labels and dense features). Model parameters and
/// activations are backend memory (`DeviceBuffer`), not this. It is a class so that sharing it
/// shares the storage: there is no copy-on-write on the hot path.
public final class FloatBuffer: @unchecked Sendable {
    /// Base address; valid for `count` elements while this buffer is alive.
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        base = HostMemory.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride).bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
    }

    deinit { HostMemory.deallocate(UnsafeMutableRawPointer(base)) }

    /// A non-owning view of the whole buffer.
    public var view: TensorView { TensorView(base: base, count: count) }

    /// A non-owning view of `count` elements starting at `offset`.
    public func view(offset: Int, count: Int) -> TensorView {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count, "view out of bounds")
        return TensorView(base: base + offset, count: count)
    }

    public subscript(index: Int) -> Float {
        get { assert(index >= 0 && index < count); return base[index] }
        set { assert(index >= 0 && index < count); base[index] = newValue }
    }

    /// Copies the contents out (for tests, checkpoints and printing; not for the hot path).
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// A non-owning window onto host `Float` storage owned by a `FloatBuffer`; the owner keeps it
/// alive for as long as the view is used.
public struct TensorView: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    public init(base: UnsafeMutablePointer<Float>, count: Int) {
        self.base = base
        self.count = count
    }

    public subscript(index: Int) -> Float {
        get { assert(index >= 0 && index < count); return base[index] }
        nonmutating set { assert(index >= 0 && index < count); base[index] = newValue }
    }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func copy(from values: [Float]) {
        precondition(values.count == count, "copy: expected \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: count) }
    }
}
