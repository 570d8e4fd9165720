import DataPipeline
import Datasets
import Distributed
import Foundation
import Testing
import TestSupport
import Training

/// Progress of a pass that three ranks run on their own parts: rank 0 shows every rank's counts
/// as they arrive, the end of the pass gives every rank the exact sums, and no post is left over
/// for the next pass.
@Suite struct RankProgressSharingTests {
    @Test func rankZeroShowsEveryRanksCounts() throws {
        let results = try ThreadCommunicator.run(ranks: 3) { communicator -> [ProgressCounts] in
            let sharing = RankProgressSharing(communicator: communicator)
            var seen: [ProgressCounts] = []
            for pass in 1...2 {
                var mine = ProgressCounts()
                for step in 1...4 {
                    mine.bytes += 1_000 * (communicator.rank + 1)
                    mine.lines += 10 * pass
                    let shown = try sharing.share(mine)
                    #expect((shown == nil) == (communicator.rank != 0), "rank \(communicator.rank) step \(step)")
                    if let shown { seen.append(shown) }
                }
                // Rank 0 waits here, so the other ranks' posts of this pass have all been sent.
                try communicator.barrier()
                if let shown = try sharing.share(mine) { seen.append(shown) }
                seen.append(try sharing.finish(mine))
                try communicator.barrier()
                #expect(try communicator.nextPost(wait: false) == nil, "a post outlived its pass")
                try communicator.barrier()
            }
            return seen
        }
        // Each rank r adds 1,000·(r+1) bytes a step: 4 steps on 3 ranks are 24,000 bytes.
        let rankZero = results[0]
        #expect(rankZero[4] == ProgressCounts(bytes: 24_000, lines: 120), "everything posted, taken after the barrier")
        #expect(rankZero.prefix(4).allSatisfy { $0.bytes <= 24_000 } && rankZero[0].bytes >= 1_000)
        for seen in results {
            #expect(seen.last == ProgressCounts(bytes: 24_000, lines: 240), "the second pass's exact sums on every rank")
            #expect(seen[seen.count == 2 ? 0 : 5] == ProgressCounts(bytes: 24_000, lines: 120))
        }
    }
}
