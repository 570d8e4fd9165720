import Compute
import Distributed
import NeuralNetwork
import Testing

@Suite struct ShardingPlanTests {
    @Test func rowWiseShardsCoverEveryRowOnceAndOwnersInvertThem() {
        for worldSize in [1, 2, 3, 4, 7] {
            for rows in [1, 5, 7, 100, 1001] where rows >= 1 {
                let plan = ShardingPlan(tableRowCounts: [rows], dimension: 4, worldSize: worldSize, strategy: .rowWise)
                var covered = 0
                for rank in 0..<worldSize {
                    let held = plan.rows(ofTable: 0, rank: rank)
                    #expect(held.lowerBound == covered, "contiguous, in rank order")
                    covered = held.upperBound
                    for row in held { #expect(plan.owner(ofRow: row, table: 0, requester: 0) == rank) }
                }
                #expect(covered == rows)
            }
        }
    }

    /// A dynamic table is split by whole buckets whatever the strategy, and a key's owner is
    /// the owner of its bucket's rows.
    @Test func dynamicTablesAreSplitByWholeBuckets() {
        for worldSize in [1, 2, 3, 4, 7] {
            let plan = ShardingPlan(tableRowCounts: [160, 50], dimension: 4, worldSize: worldSize, strategy: .tableWise,
                                    bucketRows: [16, 1])
            #expect(plan.tables[0].placement == .rowWise && plan.tables[0].isDynamic && !plan.tables[1].isDynamic)
            var covered = 0
            for rank in 0..<worldSize {
                let held = plan.rows(ofTable: 0, rank: rank)
                #expect(held.lowerBound == covered && held.lowerBound % 16 == 0 && held.count % 16 == 0)
                covered = held.upperBound
                for row in held { #expect(plan.owner(ofRow: row, table: 0, requester: 0) == rank) }
            }
            #expect(covered == 160)
            for key in UInt64(0)..<500 {
                let bucket = DynamicTableRule.bucket(ofKey: key, bucketCount: 10)
                #expect(plan.rows(ofTable: 0, rank: plan.owner(ofKey: key, table: 0)).contains(bucket * 16))
            }
        }
    }

    @Test func tableWisePlacementBalancesRowsLargestFirst() {
        let plan = ShardingPlan(tableRowCounts: [100, 900, 300, 500, 200], dimension: 8, worldSize: 2, strategy: .tableWise)
        // 900 -> rank 0; 500 -> 1; 300 -> 1 (800); 200 -> 1 (1000)? no: 0 has 900, 1 has 800 -> 200 to 1; 100 -> 0.
        let owners = plan.tables.map { table -> Int in
            guard case .tableWise(let owner) = table.placement else { return -1 }
            return owner
        }
        #expect(owners == [0, 0, 1, 1, 1])
        for (t, owner) in owners.enumerated() {
            #expect(plan.rows(ofTable: t, rank: owner).count == plan.tables[t].rowCount)
            #expect(plan.rows(ofTable: t, rank: 1 - owner).isEmpty)
        }
    }

    @Test func autoReplicatesSmallSplitsLargePlacesTheRest() {
        let plan = ShardingPlan(tableRowCounts: [10, 5000, 1_000_000], dimension: 16, worldSize: 4, strategy: .auto,
                                replicateMaxRows: 100, rowWiseMinRows: 100_000)
        #expect(plan.tables[0].placement == .replicated)
        #expect(plan.tables[2].placement == .rowWise)
        // Row-wise shards count as load: 250,000 rows each, so the middle table goes to rank 0.
        #expect(plan.tables[1].placement == .tableWise(owner: 0))
        #expect(plan.owner(ofRow: 3, table: 0, requester: 2) == 2, "replicated rows are served locally")
    }

    @Test func moreRanksThanTablesLeavesSomeRanksWithoutTables() {
        let plan = ShardingPlan(tableRowCounts: [10, 20], dimension: 2, worldSize: 4, strategy: .tableWise)
        let held = (0..<4).map { rank in (0..<2).filter { !plan.rows(ofTable: $0, rank: rank).isEmpty } }
        #expect(held == [[1], [0], [], []])
    }

    @Test func localCommunicatorCopies() throws {
        let communicator = LocalCommunicator()
        #expect(try communicator.allToAll([7]) == [7])
        let backend = CPUBackend()
        let send = backend.makeFloats(3), receive = backend.makeFloats(3)
        send.copy(from: [1, 2, 3])
        try communicator.allToAllV(send: send.whole, sendCounts: [3], sendOffsets: [0],
                                   receive: receive.whole, receiveCounts: [3], receiveOffsets: [0])
        #expect(receive.toArray() == [1, 2, 3])
        #expect(offsets(of: [2, 0, 3]) == [0, 2, 2])
    }
}

/// The gather to one rank, on the single-process communicator (several ranks: through the
/// checkpoint and run-record tests under mpirun).
@Suite struct GatherTests {
    @Test func gatherReturnsEveryRanksValuesOnTheRoot() throws {
        let communicator = LocalCommunicator()
        #expect(try communicator.gather([3, 1, 4]) == [[3, 1, 4]])
        #expect(try communicator.gather([]) == [[]])
    }
}
