/// An owned block of raw 64-bit ids (the keys of dynamic tables) that grows on demand, like
/// `IndexBuffer`.
public final class KeyBuffer: @unchecked Sendable {
    public private(set) var base: UnsafeMutablePointer<UInt64>
    public private(set) var capacity: Int

    public init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
        base.initialize(repeating: 0, count: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `count` keys; existing contents are kept.
    public func reserve(_ count: Int) {
        guard count > capacity else { return }
        let newCapacity = max(count, capacity * 2)
        let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
        grown.initialize(from: base, count: capacity)
        (grown + capacity).initialize(repeating: 0, count: newCapacity - capacity)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    public subscript(index: Int) -> UInt64 {
        get { assert(index >= 0 && index < capacity); return base[index] }
        set { assert(index >= 0 && index < capacity); base[index] = newValue }
    }
}
