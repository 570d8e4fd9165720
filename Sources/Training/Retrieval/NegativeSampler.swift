import Compute
import DataPipeline

/// Mixed negative sampling (Yang et al., WWW 2020): each step, `count` items drawn uniformly
/// from the training catalogue join the global batch's items as negatives of every user. The
/// draw depends on the seed and the step alone, so every rank draws the same items and each
/// appends its slice of them to its slice of the batch: N ranks see one process's candidates.
public final class NegativeSampler {
    public let count: Int
    /// Each rank's share of the negatives.
    public let countsPerRank: [Int]
    private let catalogue: SampleSource
    private let seed: UInt64
    private let share: Range<Int>
    private let negatives: Batch
    private let combined: Batch
    private var order: [Int]

    /// - Parameters:
    ///   - catalogue: one sample per item (its features).
    ///   - batchCapacity: the most interactions a rank's batch holds.
    public init(catalogue: SampleSource, count: Int, seed: UInt64, batchCapacity: Int, rank: Int, worldSize: Int) {
        self.count = count
        self.catalogue = catalogue
        self.seed = seed
        countsPerRank = (0..<worldSize).map { BatchLoader.slice(of: count, rank: $0, worldSize: worldSize).count }
        share = BatchLoader.slice(of: count, rank: rank, worldSize: worldSize)
        let bags = catalogue.idsPerSample.max() ?? 1
        negatives = Batch(capacity: max(share.count, 1), denseFeatureCount: catalogue.denseFeatureCount, tableCount: catalogue.tableCount,
                          idsPerSample: bags, taskCount: catalogue.taskCount)
        combined = Batch(capacity: batchCapacity + share.count, denseFeatureCount: catalogue.denseFeatureCount,
                         tableCount: catalogue.tableCount, idsPerSample: bags, taskCount: catalogue.taskCount)
        order = Array(repeating: 0, count: share.count)
    }

    /// `batch` (this rank's interactions) followed by this rank's negatives of step `step`: its
    /// share of the step's draws, one per negative from a generator of the step (the draws
    /// before its share skipped).
    public func appendNegatives(to batch: Batch, step: Int) throws -> Batch {
        var generator = SeededGenerator(seed: seed, stream: 0x6E65_6761 &+ UInt64(step))
        generator.skip(share.lowerBound)
        for i in order.indices { order[i] = Int(generator.nextUniform() * Double(catalogue.count)) % catalogue.count }
        try order.withUnsafeBufferPointer { try catalogue.fill(negatives, order: $0, start: 0, size: share.count) }
        negatives.size = share.count
        combined.fill(concatenating: batch, negatives)
        return combined
    }
}
