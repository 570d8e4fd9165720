import Compute
import Dispatch

/// Walks a dataset in global batches: in order, or in a seeded order that is reshuffled every
/// epoch, the same for any number of ranks. Rank r of N fills `batch` with its slice of each
/// global batch (sizes differ by at most one), so N ranks together see exactly the batches one
/// process sees. The last batch of an epoch is dropped when `dropLast` is set (training) and
/// kept short otherwise (evaluation).
///
/// With `prefetch`, a background thread fills the following batch of the epoch into a second
/// buffer while the caller trains on the current one; the batches are the same either way.
/// The order is computed a batch at a time (`SampleOrder`): memory O(batch), not O(dataset).
public final class BatchLoader: @unchecked Sendable {
    public let dataset: SampleSource
    public let batchSize: Int
    public let shuffleSeed: UInt64?
    /// With a shuffle: samples shuffled among themselves at a time (0: the whole dataset; see
    /// `SampleOrder`).
    public let shuffleWindow: Int
    public let dropLast: Bool
    public let rank: Int
    public let worldSize: Int
    /// This rank's slice of the current global batch (valid until the next `next()`).
    public var batch: Batch { buffers[current] }
    private let buffers: [Batch]
    private var current = 0
    public let prefetches: Bool
    private let prefetchQueue = DispatchQueue(label: "recsys-dist.prefetch")
    /// Where in the epoch the batch being filled in the background starts (nil: none is).
    private var pendingPosition: Int?
    /// Done when the background fill has finished.
    private let prefetched = DispatchGroup()
    /// What the background fill threw, rethrown by the `next()` that takes its batch.
    private var prefetchError: Error?
    /// Samples in the current global batch (all ranks together).
    public private(set) var globalBatchSize = 0
    public private(set) var epoch = 0
    private var position = 0
    private var order: SampleOrder
    /// Per buffer, the sample indices of the slice it is filled with.
    private let indices: [UnsafeMutableBufferPointer<Int>]

    public init(dataset: SampleSource, batchSize: Int, shuffleSeed: UInt64?, shuffleWindow: Int = 0, dropLast: Bool,
                rank: Int = 0, worldSize: Int = 1, prefetch: Bool = false) {
        precondition(batchSize > 0, "BatchLoader: batch size must be positive")
        precondition(rank >= 0 && rank < worldSize, "BatchLoader: bad rank \(rank) of \(worldSize)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffleSeed = shuffleSeed
        self.shuffleWindow = shuffleWindow
        self.dropLast = dropLast
        self.rank = rank
        self.worldSize = worldSize
        prefetches = prefetch
        buffers = (0..<(prefetch ? 2 : 1)).map { _ in
            Batch(capacity: Self.slice(of: batchSize, rank: 0, worldSize: worldSize).count,
                  denseFeatureCount: dataset.denseFeatureCount,
                  tableCount: dataset.tableCount, idsPerSample: dataset.idsPerSample.max() ?? 1, taskCount: dataset.taskCount)
        }
        indices = buffers.map { .allocate(capacity: $0.capacity) }
        order = SampleOrder(count: dataset.count)
        reorder()
    }

    deinit {
        prefetched.wait()
        for buffer in indices { buffer.deallocate() }
    }

    /// Samples of the current epoch already handed out.
    public var positionInEpoch: Int { position }

    /// Continues from a saved place: epoch `epoch`, `position` samples into it (the order of
    /// the epoch is recomputed from the seed).
    public func restore(epoch: Int, position: Int) {
        prefetched.wait()
        pendingPosition = nil
        prefetchError = nil
        self.epoch = epoch
        self.position = position
        reorder()
    }

    /// Full batches in one pass over the data (plus a short one when `dropLast` is off).
    public var batchesPerEpoch: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// Fills `batch` with the next batch; returns false at the end of an epoch (after which the
    /// next call starts the following epoch). Throws what the dataset throws (a bad id).
    public func next() throws -> Bool {
        guard let size = batchSize(at: position) else {
            epoch += 1
            position = 0
            reorder()
            return false
        }
        if prefetches {
            // Take the batch the background thread filled (or fill it now), then start the next.
            let target = 1 - current
            prefetched.wait()
            let backgroundError = prefetchError
            prefetchError = nil
            if pendingPosition == position {
                pendingPosition = nil
                if let backgroundError { throw backgroundError }
            } else {
                try fill(buffer: target, at: position, size: size)
            }
            current = target
            let following = position + size
            if let followingSize = batchSize(at: following) {
                let spare = 1 - current
                prefetchQueue.async(group: prefetched) {
                    do { try self.fill(buffer: spare, at: following, size: followingSize) } catch { self.prefetchError = error }
                }
                pendingPosition = following
            }
        } else {
            try fill(buffer: current, at: position, size: size)
        }
        position += size
        globalBatchSize = size
        return true
    }

    /// The batch the next `next()` will hand out, once filled in the background: this rank's
    /// slice of the following global batch of the epoch. Nil without `prefetch`, at the end of
    /// an epoch, or when the fill failed (`next()` throws its error).
    public func upcomingBatch() -> Batch? {
        guard prefetches, pendingPosition == position else { return nil }
        prefetched.wait()
        return prefetchError == nil ? buffers[1 - current] : nil
    }

    /// The size of the global batch starting at `position` of this epoch, or nil at its end.
    private func batchSize(at position: Int) -> Int? {
        let remaining = dataset.count - position
        if remaining <= 0 || (dropLast && remaining < batchSize) { return nil }
        return min(batchSize, remaining)
    }

    /// Fills buffer `buffer` with this rank's slice of the global batch at `position`.
    private func fill(buffer: Int, at position: Int, size: Int) throws {
        let slice = Self.slice(of: size, rank: rank, worldSize: worldSize), samples = indices[buffer]
        for k in 0..<slice.count { samples[k] = order.sample(at: position + slice.lowerBound + k) }
        try dataset.fill(buffers[buffer], order: UnsafeBufferPointer(samples), start: 0, size: slice.count)
        // (epoch, position) names the global batch: no other batch of the run has it.
        buffers[buffer].serial = epoch &* (dataset.count + 1) &+ position
    }

    /// Rank `rank`'s samples of a global batch of `size`: the first `size % worldSize` ranks take
    /// one more than the others.
    public static func slice(of size: Int, rank: Int, worldSize: Int) -> Range<Int> {
        let base = size / worldSize, extra = size % worldSize
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }

    private func reorder() {
        guard let shuffleSeed else { return }
        order = SampleOrder(count: dataset.count, seed: shuffleSeed, epoch: epoch, window: shuffleWindow)
    }
}
