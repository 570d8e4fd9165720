import Compute

/// The order an epoch visits a dataset's samples in, computed position by position in O(1)
/// memory: the identity, or a seeded pseudo-random permutation of 0..<count — a four-round
/// Feistel network over the smallest power-of-two domain (of an even number of bits) that holds
/// `count`, applied again until the result falls below `count` (cycle walking, at most a few
/// rounds on average). A table of `count` indices would cost 8 bytes per sample on every rank.
public struct SampleOrder: Sendable {
    public let count: Int
    private let keys: [UInt64]?
    private let halfBits: Int

    /// The identity order.
    public init(count: Int) {
        self.count = count
        keys = nil
        halfBits = 0
    }

    /// The permutation of epoch `epoch` from `seed`.
    public init(count: Int, seed: UInt64, epoch: Int) {
        self.count = count
        var bits = 2
        while (1 << bits) < count { bits += 2 }
        halfBits = bits / 2
        var generator = SeededGenerator(seed: seed, stream: UInt64(epoch))
        keys = (0..<4).map { _ in generator.next() }
    }

    /// The sample at `position` of the order.
    @inline(__always)
    public func sample(at position: Int) -> Int {
        guard let keys else { return position }
        var value = UInt64(position)
        repeat { value = permute(value, keys) } while value >= UInt64(count)
        return Int(value)
    }

    @inline(__always)
    private func permute(_ value: UInt64, _ keys: [UInt64]) -> UInt64 {
        let mask = (UInt64(1) << UInt64(halfBits)) - 1
        var left = value >> UInt64(halfBits), right = value & mask
        for key in keys {
            let mixed = SeededGenerator.mix(right ^ key) & mask
            (left, right) = (right, left ^ mixed)
        }
        return (left << UInt64(halfBits)) | right
    }
}
