import Compute
import DataPipeline
import Testing

/// One-hot tables made multi-hot as MLPerf's DLRMv2 data: each id becomes a bag that starts
/// with it, has the table's size, stays inside the table and is the same wherever the id occurs.
@Suite struct MultiHotExpansionTests {
    /// 6 samples over a 1000-row table and a 10-row table; sample 2 has no id in table 0 (-1).
    func source() -> RecordDataset {
        let buffer = RecordBuffer(denseCount: 1, bagSizes: [1, 1], tableRows: [1000, 10])
        let ids: [[Int32]] = [[7, 1], [500, 2], [-1, 3], [7, 4], [999, 5], [0, 6]]
        for (n, pair) in ids.enumerated() {
            var dense = Float(n)
            pair.withUnsafeBufferPointer { buffer.append(label: Float(n % 2), dense: &dense, ids: $0.baseAddress!) }
        }
        return buffer.build(name: "one-hot")
    }

    func bags(_ source: SampleSource, table: Int, size: Int) throws -> [[Int32]] {
        let batch = Batch(capacity: size, denseFeatureCount: 1, tableCount: 2, idsPerSample: source.idsPerSample.max()!)
        // Read in a shuffled order, so a bag's place in the batch moves as expansion runs backwards.
        let order = [5, 3, 0, 2, 4, 1]
        try order.withUnsafeBufferPointer { try source.fill(batch, order: $0, start: 0, size: size) }
        let feature = batch.sparse[table]
        return (0..<size).map { b in (Int(feature.offsets[b])..<Int(feature.offsets[b + 1])).map { feature.ids[$0] } }
    }

    @Test func idsBecomeBagsOfTheirTablesSize() throws {
        let expanded = try MultiHotExpansion(source(), sizes: [5, 1], tableRows: [1000, 10])
        #expect(expanded.idsPerSample == [5, 1])
        let bags = try bags(expanded, table: 0, size: 6), onehot = try self.bags(source(), table: 0, size: 6)
        for (bag, original) in zip(bags, onehot) {
            if original.isEmpty { #expect(bag.isEmpty, "an empty bag stays empty"); continue }
            #expect(bag.count == 5 && bag[0] == original[0], "\(bag) from \(original)")
            #expect(bag.allSatisfy { $0 >= 0 && $0 < 1000 })
        }
        // Samples 0 and 3 (batch places 2 and 1) share id 7, so they share the whole bag.
        #expect(bags[2] == bags[1] && bags[2][0] == 7)
        #expect(Set(bags[2].dropFirst()).count >= 3, "the extra ids spread over the table: \(bags[2])")
        #expect(try self.bags(expanded, table: 1, size: 6) == (try self.bags(source(), table: 1, size: 6)), "size 1: as read")
    }

    @Test func onlyOneHotTablesAreExpanded() throws {
        let buffer = RecordBuffer(denseCount: 0, bagSizes: [3], tableRows: [10])
        #expect(throws: DataError.self) { try MultiHotExpansion(buffer.build(name: "bags"), sizes: [4], tableRows: [10]) }
        #expect(throws: DataError.self) { try MultiHotExpansion(self.source(), sizes: [4], tableRows: [1000]) }
    }
}
