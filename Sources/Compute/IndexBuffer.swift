/// An owned block of integers that grows (never shrinks) on demand, so that a batch of multi-hot
/// features reuses its storage from step to step.
public final class GrowableBuffer<Element: FixedWidthInteger>: @unchecked Sendable {
    public private(set) var base: UnsafeMutablePointer<Element>
    public private(set) var capacity: Int

    public init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
        base.initialize(repeating: 0, count: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `count` elements; existing contents are kept.
    public func reserve(_ count: Int) {
        guard count > capacity else { return }
        let newCapacity = max(count, capacity * 2)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        grown.initialize(from: base, count: capacity)
        (grown + capacity).initialize(repeating: 0, count: newCapacity - capacity)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    public subscript(index: Int) -> Element {
        get { assert(index >= 0 && index < capacity); return base[index] }
        set { assert(index >= 0 && index < capacity); base[index] = newValue }
    }
}

/// `Int32` row ids or offsets.
public typealias IndexBuffer = GrowableBuffer<Int32>
/// Raw 64-bit ids (the keys of dynamic tables).
public typealias KeyBuffer = GrowableBuffer<UInt64>
