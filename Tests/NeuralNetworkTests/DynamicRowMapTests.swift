import NeuralNetwork
import Testing

/// The key-to-row map of dynamic tables: admission after `min_count` steps, one row per key
/// for good, eviction of the least recently or least frequently used row when a bucket is
/// full, never of a row the current step uses, and evaluation that only finds.
struct DynamicRowMapTests {
    /// One bucket of `rows` rows (row 0 the default row), so every key competes for the same rows.
    func oneBucket(rows: Int, minCount: Int = 1, eviction: DynamicTableRule.Eviction = .lru) -> DynamicRowMap {
        DynamicRowMap(rule: DynamicTableRule(capacity: rows, bucketRows: rows, minCount: minCount, eviction: eviction),
                      firstRow: 0, rowCount: rows)
    }

    /// Trains one step on `keys`; their rows.
    @discardableResult
    func step(_ map: DynamicRowMap, _ keys: [UInt64]) -> [Int32] {
        map.beginStep(learning: true)
        return keys.map { map.row(forKey: $0) }
    }

    @Test func keysKeepTheirRowsAndNeverShareOne() {
        let map = oneBucket(rows: 64)
        let keys: [UInt64] = (0..<40).map { $0 &* 0x9E37_79B9_7F4A_7C15 }
        let first = step(map, keys)
        #expect(Set(first).count == keys.count && !first.contains(0), "each key its own row, none the default row")
        #expect(step(map, keys.reversed()) == first.reversed(), "the same rows in a later step")
        #expect(map.occupiedRows == 40 && map.freshRows.isEmpty)
        // A 64-bit id differing only in its high half is another id.
        #expect(!first.contains(step(map, [keys[1] ^ (1 << 40)])[0]))
    }

    @Test func idsAreAdmittedAfterMinCountSteps() {
        let map = oneBucket(rows: 16, minCount: 3)
        #expect(step(map, [7, 7, 7]) == [0, 0, 0], "seen in one step: counted once")
        #expect(step(map, [7]) == [0])
        let admitted = step(map, [7])[0]
        #expect(admitted > 0 && map.freshRows == [admitted], "third step: its own row, fresh")
        #expect(step(map, [7]) == [admitted] && map.freshRows.isEmpty)
    }

    @Test func leastRecentlyUsedRowsGoFirst() {
        let map = oneBucket(rows: 4)  // 3 rows for keys
        let a = step(map, [1])[0], b = step(map, [2])[0], c = step(map, [3])[0]
        step(map, [1])            // 1 is now more recent than 2 and 3
        let d = step(map, [4])[0]  // evicts 2, the least recent
        #expect(d == b && map.freshRows == [b])
        #expect(step(map, [1, 3, 4]) == [a, c, d], "the recent ids stay")
        step(map, [3, 4])
        #expect(step(map, [2])[0] == a, "2 comes back in the row of the least recent, 1")
    }

    @Test func leastFrequentlyUsedRowsGoFirst() {
        let map = oneBucket(rows: 4, eviction: .lfu)
        let a = step(map, [1])[0], b = step(map, [2])[0], c = step(map, [3])[0]
        for _ in 0..<5 { step(map, [1, 3]) }  // 1 and 3 frequent, 2 used once
        step(map, [2])                          // 2 is the most recent, still the least frequent
        let d = step(map, [4])[0]
        #expect(d == b, "the least frequent goes although it is the most recent")
        #expect(step(map, [1, 3]) == [a, c], "the frequent ids stay")
    }

    @Test func rowsUsedInTheCurrentStepAreNeverEvicted() {
        let map = oneBucket(rows: 4)
        let rows = step(map, [1, 2, 3, 4, 5])
        #expect(Array(rows.prefix(3)).allSatisfy { $0 > 0 } && Set(rows.prefix(3)).count == 3)
        #expect(rows.suffix(2) == [0, 0], "a full bucket gives later keys of the same step the default row")
        #expect(step(map, [4])[0] > 0, "next step 4 evicts one of them")
    }

    @Test func evaluationOnlyFinds() {
        let map = oneBucket(rows: 8)
        let row = step(map, [10])[0]
        map.beginStep(learning: false)
        #expect(map.row(forKey: 10) == row)
        #expect(map.row(forKey: 11) == 0, "an unseen id gets the default row")
        #expect(map.occupiedRows == 1 && map.lastUsed[Int(row)] == 1, "nothing admitted, nothing stamped")
    }

    @Test func bucketsSpreadKeysEvenly() {
        let buckets = 64
        var counts = [Int](repeating: 0, count: buckets)
        for key in 0..<UInt64(64_000) { counts[DynamicTableRule.bucket(ofKey: key, bucketCount: buckets)] += 1 }
        #expect(counts.min()! > 850 && counts.max()! < 1150, "\(counts.min()!)...\(counts.max()!)")
    }
}
