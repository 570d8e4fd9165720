#if canImport(Glibc)
import Glibc
#endif

/// An owned, 64-byte-aligned, zero-initialised block of `Float`s that never moves or copies.
///
/// Activations, workspaces and parameter arenas are `FloatBuffer`s sized once and reused, so a
/// training step allocates nothing. It is a class so that sharing it shares the storage: there
/// is no copy-on-write on the hot path. Blocks of 4 MiB or more (embedding tables) are 2 MiB
/// aligned and asked for transparent huge pages: random row lookups then miss the TLB far less.
public final class FloatBuffer: @unchecked Sendable {
    /// Base address; valid for `count` elements while this buffer is alive.
    public let base: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        let hugePage = 1 << 21
        var byteCount = max(count, 1) * MemoryLayout<Float>.stride
        let usesHugePages = byteCount >= 2 * hugePage
        if usesHugePages { byteCount = (byteCount + hugePage - 1) / hugePage * hugePage }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: usesHugePages ? hugePage : 64)
        #if os(Linux)
        if usesHugePages { _ = madvise(raw, byteCount, MADV_HUGEPAGE) }
        #endif
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        self.count = count
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

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

    public func setZero() { base.update(repeating: 0, count: count) }
}

/// A non-owning window onto `Float` storage owned by a `FloatBuffer` (an arena or a workspace).
///
/// Layers keep views into the model's parameter arena, as llm.c keeps pointers into its one
/// parameter block; the owner of the buffer keeps it alive for as long as the views are used.
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

    public func setZero() { base.update(repeating: 0, count: count) }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func copy(from values: [Float]) {
        precondition(values.count == count, "copy: expected \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: count) }
    }
}
