import DataPipeline
import Distributed

/// The progress of a pass that every rank runs over its own part of the data, shown by rank 0
/// with every rank's counts: the other ranks post theirs to rank 0 (point to point, without
/// waiting), which takes what has arrived whenever it shows a line. At the end of the pass every
/// rank says how many posts it sent, rank 0 takes them all, and the exact sums are all-reduced:
/// no post outlives its pass.
public final class RankProgressSharing: ProgressSharing {
    private let communicator: Communicator
    private var latest: [ProgressCounts]
    private var posted = 0
    private var taken: [Int]

    public init(communicator: Communicator) {
        self.communicator = communicator
        latest = Array(repeating: ProgressCounts(), count: communicator.size)
        taken = Array(repeating: 0, count: communicator.size)
    }

    public var ranks: Int { communicator.size }

    public func share(_ counts: ProgressCounts) throws -> ProgressCounts? {
        guard communicator.size > 1 else { return counts }
        guard communicator.isRoot else {
            try communicator.post([Double(counts.bytes), Double(counts.lines)], to: 0)
            posted += 1
            return nil
        }
        latest[0] = counts
        while let post = try communicator.nextPost(wait: false) { take(post) }
        return latest.reduce(ProgressCounts()) { ProgressCounts(bytes: $0.bytes + $1.bytes, lines: $0.lines + $1.lines) }
    }

    public func finish(_ counts: ProgressCounts) throws -> ProgressCounts {
        guard communicator.size > 1 else { return counts }
        var sent = [Double](repeating: 0, count: communicator.size)
        sent[communicator.rank] = Double(posted)
        let sentByRank = try communicator.allReduceSum(sent).map { Int($0) }
        if communicator.isRoot {
            while zip(taken, sentByRank).contains(where: { $0 < $1 }) { take(try communicator.nextPost(wait: true)!) }
        }
        try communicator.completePosts()
        let sums = try communicator.allReduceSum([Double(counts.bytes), Double(counts.lines)])
        latest = Array(repeating: ProgressCounts(), count: communicator.size)
        taken = Array(repeating: 0, count: communicator.size)
        posted = 0
        return ProgressCounts(bytes: Int(sums[0]), lines: Int(sums[1]))
    }

    private func take(_ post: (source: Int, values: [Double])) {
        latest[post.source] = ProgressCounts(bytes: Int(post.values[0]), lines: Int(post.values[1]))
        taken[post.source] += 1
    }
}
