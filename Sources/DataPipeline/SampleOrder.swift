import Compute

/// The order an epoch visits a dataset's samples in, computed position by position in O(1)
/// memory: the identity; a seeded pseudo-random permutation of 0..<count; or, with a window, a
/// shuffle that stays local to the data. A table of `count` indices would cost 8 bytes per sample
/// on every rank.
///
/// The windowed order is for records larger than the memory that can cache them: a shuffle over
/// the whole dataset reads a random page (and the kernel's read-ahead around it, megabytes) per
/// sample once the pages no longer fit. It cuts the samples into blocks of consecutive samples,
/// a sixteenth of the window each (at least `minimumBlock`), permutes the blocks, and takes the
/// permuted blocks sixteen at a time: each window's samples are permuted among themselves. An
/// epoch then reads whole blocks, a window's worth at once, and every sample is still visited
/// exactly once. (A last partial block stays last.)
public struct SampleOrder: Sendable {
    /// Blocks of a window.
    public static let blocksPerWindow = 16
    /// Samples of a block at least.
    public static let minimumBlock = 4_096

    public let count: Int
    /// Samples of a block of the windowed order (0 for the others).
    public let blockSize: Int
    private enum Kind: Sendable {
        case identity
        case whole(FeistelPermutation)
        /// The permutation of the full blocks, and the keys each window's permutation is derived from.
        case windowed(blocks: FeistelPermutation, keys: SIMD4<UInt64>)
    }
    private let kind: Kind

    /// The identity order.
    public init(count: Int) {
        self.count = count
        blockSize = 0
        kind = .identity
    }

    /// The permutation of epoch `epoch` from `seed`; with a `window` of samples smaller than
    /// `count` (0: none), the windowed shuffle described above.
    public init(count: Int, seed: UInt64, epoch: Int, window: Int = 0) {
        self.count = count
        var generator = SeededGenerator(seed: seed, stream: UInt64(epoch))
        let keys = SIMD4(generator.next(), generator.next(), generator.next(), generator.next())
        if window > 0 && window < count {
            let blockKeys = SIMD4(generator.next(), generator.next(), generator.next(), generator.next())
            blockSize = max(Self.minimumBlock, (window + Self.blocksPerWindow - 1) / Self.blocksPerWindow)
            kind = .windowed(blocks: FeistelPermutation(count: count / blockSize, keys: blockKeys), keys: keys)
        } else {
            blockSize = 0
            kind = .whole(FeistelPermutation(count: count, keys: keys))
        }
    }

    /// The sample at `position` of the order.
    @inline(__always)
    public func sample(at position: Int) -> Int {
        switch kind {
        case .identity:
            return position
        case .whole(let permutation):
            return permutation.apply(position)
        case .windowed(let blocks, let keys):
            let span = Self.blocksPerWindow * blockSize
            let window = position / span, start = window * span
            let windowKeys = SIMD4(SeededGenerator.mix(keys[0] ^ UInt64(window)), SeededGenerator.mix(keys[1] ^ UInt64(window)),
                                   SeededGenerator.mix(keys[2] ^ UInt64(window)), SeededGenerator.mix(keys[3] ^ UInt64(window)))
            let inWindow = FeistelPermutation(count: min(span, count - start), keys: windowKeys).apply(position - start)
            let slot = window * Self.blocksPerWindow + inWindow / blockSize
            // The partial block (slot == blocks.count) is not permuted.
            let block = slot < blocks.count ? blocks.apply(slot) : slot
            return block * blockSize + inWindow % blockSize
        }
    }
}

/// A seeded permutation of 0..<count: a four-round Feistel network over the smallest
/// power-of-two domain (of an even number of bits) that holds `count`, applied again until the
/// result falls below `count` (cycle walking, at most a few rounds on average).
struct FeistelPermutation: Sendable {
    let count: Int
    private let keys: SIMD4<UInt64>
    private let halfBits: UInt64

    init(count: Int, keys: SIMD4<UInt64>) {
        self.count = count
        self.keys = keys
        var bits = 2
        while (1 << bits) < count { bits += 2 }
        halfBits = UInt64(bits / 2)
    }

    @inline(__always)
    func apply(_ position: Int) -> Int {
        var value = UInt64(position)
        repeat { value = permute(value) } while value >= UInt64(count)
        return Int(value)
    }

    @inline(__always)
    private func permute(_ value: UInt64) -> UInt64 {
        let mask = (UInt64(1) << halfBits) - 1
        var left = value >> halfBits, right = value & mask
        for round in 0..<4 {
            let mixed = SeededGenerator.mix(right ^ keys[round]) & mask
            (left, right) = (right, left ^ mixed)
        }
        return (left << halfBits) | right
    }
}
