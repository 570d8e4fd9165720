import Compute
import DataPipeline
import Distributed

/// The frequency threshold of preprocessing in pieces: every rank counts the categorical values
/// of its own pieces, and the counts are merged at owners — a value's owner is a hash of the
/// value modulo the ranks — so each value is counted over all the training files exactly as one
/// process counts it. Counting goes in rounds of one piece per rank: after each round every
/// rank's counts go to their owners and are forgotten, so a rank holds one piece's values plus
/// its share (1/N) of all the distinct values, each counted only up to the threshold. Then every
/// owner's frequent values are gathered on every rank: the set the record pass looks values up in.
enum PieceValueCounting {
    struct Result {
        /// Lines of each piece this rank counted (0 for the others').
        var lines: [Int]
        /// Per table, the values seen at least the threshold's times in all the training pieces.
        var frequent: [ValueCounts]
        /// Per table, the distinct values and those of them rarer than the threshold.
        var distinctValues: [Int]
        var rareValues: [Int]
    }

    static func run(units: [CriteoPreprocessing.InputUnit], mine: Range<Int>, settings: CriteoPreprocessing.Settings,
                    communicator: Communicator, meter: ReadProgress) throws -> Result {
        let tables = settings.tableRows.count, threshold = settings.frequencyThreshold, ranks = communicator.size
        let local = (0..<tables).map { _ in ValueCounts(cap: threshold) }
        let owned = (0..<tables).map { _ in ValueCounts(cap: threshold) }
        var lines = [Int](repeating: 0, count: units.count)
        let rounds = (units.count + ranks - 1) / ranks
        for round in 0..<rounds {
            let u = mine.lowerBound + round
            if u < mine.upperBound {
                // Held-out files are not counted, as in one process.
                lines[u] = units[u].isHeldOut
                    ? try CriteoPreprocessing.countLines(of: units[u], progress: meter)
                    : try CriteoPreprocessing.countValues(of: units[u], settings: settings, into: local, progress: meter)
            }
            for t in 0..<tables {
                try sendToOwners(local[t], owned[t], communicator)
                local[t].removeAll()
            }
        }
        var figures = [Double](repeating: 0, count: 2 * tables)
        for t in 0..<tables {
            figures[t] = Double(owned[t].count)
            figures[tables + t] = Double(owned[t].count - owned[t].frequentCount)
        }
        let totals = try communicator.allReduceSum(figures).map { Int($0) }
        let frequent = try (0..<tables).map { try gatherFrequent(owned[$0], communicator) }
        return Result(lines: lines, frequent: frequent, distinctValues: Array(totals.prefix(tables)),
                      rareValues: Array(totals.suffix(tables)))
    }

    /// The owner of a value: the same on every rank.
    static func owner(of value: UInt64, ranks: Int) -> Int { Int(SeededGenerator.mix(value) % UInt64(ranks)) }

    /// Moves `local`'s counts to their owners, which add them to `owned`. A value travels as
    /// three Int32s: its low and high halves and its count.
    private static func sendToOwners(_ local: ValueCounts, _ owned: ValueCounts, _ communicator: Communicator) throws {
        let ranks = communicator.size
        var buckets = [[Int32]](repeating: [], count: ranks)
        local.forEach { value, count in
            buckets[owner(of: value, ranks: ranks)].append(contentsOf: [Int32(truncatingIfNeeded: value),
                                                                         Int32(truncatingIfNeeded: value >> 32),
                                                                         Int32(bitPattern: count)])
        }
        let sendCounts = buckets.map { Int32($0.count) }
        let received = try exchange(Array(buckets.joined()), sendCounts: sendCounts, sendOffsets: offsets(of: sendCounts), communicator)
        for i in stride(from: 0, to: received.count, by: 3) {
            owned.add(value(received[i], received[i + 1]), times: UInt32(bitPattern: received[i + 2]))
        }
    }

    /// Every rank's frequent values of one table, as a set (each counted at the threshold).
    private static func gatherFrequent(_ owned: ValueCounts, _ communicator: Communicator) throws -> ValueCounts {
        var mine: [Int32] = []
        owned.forEach { value, count in
            if count >= owned.cap { mine.append(contentsOf: [Int32(truncatingIfNeeded: value), Int32(truncatingIfNeeded: value >> 32)]) }
        }
        // The same block to every rank: one copy, at offset 0 for all.
        let received = try exchange(mine, sendCounts: Array(repeating: Int32(mine.count), count: communicator.size),
                                    sendOffsets: Array(repeating: 0, count: communicator.size), communicator)
        let frequent = ValueCounts(cap: Int(owned.cap))
        for i in stride(from: 0, to: received.count, by: 2) { frequent.add(value(received[i], received[i + 1]), times: owned.cap) }
        return frequent
    }

    /// Sends `send[sendOffsets[r] ..< + sendCounts[r]]` to rank r; returns what every rank sent
    /// to this one, in rank order.
    private static func exchange(_ send: [Int32], sendCounts: [Int32], sendOffsets: [Int32],
                                 _ communicator: Communicator) throws -> [Int32] {
        let receiveCounts = try communicator.allToAll(sendCounts)
        var received = [Int32](repeating: 0, count: Int(receiveCounts.reduce(0, +)))
        try send.withUnsafeBufferPointer { send in
            try received.withUnsafeMutableBufferPointer { receive in
                // Empty buffers still need addresses.
                try withUnsafeTemporaryAllocation(of: Int32.self, capacity: 1) { spare in
                    try communicator.allToAllV(send: send.baseAddress ?? UnsafePointer(spare.baseAddress!), sendCounts: sendCounts,
                                               sendOffsets: sendOffsets,
                                               receive: receive.baseAddress ?? spare.baseAddress!, receiveCounts: receiveCounts,
                                               receiveOffsets: offsets(of: receiveCounts))
                }
            }
        }
        return received
    }

    private static func value(_ low: Int32, _ high: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: low)) | UInt64(UInt32(bitPattern: high)) << 32
    }
}
