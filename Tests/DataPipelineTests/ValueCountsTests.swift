import DataPipeline
import Testing

/// `ValueCounts` against a `Dictionary` counting the same values: counts capped, the table grown
/// many times over, values of all 64 bits, and emptied for reuse.
struct ValueCountsTests {
    @Test func countsAsADictionaryDoesUpToTheCap() {
        let counts = ValueCounts(cap: 5)
        var reference: [UInt64: Int] = [:]
        var state: UInt64 = 42
        for i in 0..<200_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Small values repeat; every 7th is a full 64-bit value (0 and UInt64.max included).
            let value = i % 7 == 0 ? state : i == 1 ? UInt64.max : state % 50_000
            counts.add(value)
            reference[value, default: 0] += 1
        }
        counts.add(123_456_789, times: 1_000)
        reference[123_456_789, default: 0] += 1_000
        #expect(counts.count == reference.count)
        #expect(reference.allSatisfy { counts.occurrences(of: $0.key) == UInt32(min($0.value, 5)) })
        #expect(counts.frequentCount == reference.values.filter { $0 >= 5 }.count)
        #expect(reference.allSatisfy { counts.isFrequent($0.key) == ($0.value >= 5) })
        #expect(counts.occurrences(of: 50_001) == 0 && !counts.isFrequent(50_001))
        var seen = 0
        counts.forEach { value, count in seen += reference[value].map { UInt32(min($0, 5)) == count ? 1 : 0 } ?? 0 }
        #expect(seen == reference.count)
        counts.removeAll()
        #expect(counts.count == 0 && counts.occurrences(of: 123_456_789) == 0)
        counts.add(0)
        #expect(counts.count == 1 && counts.occurrences(of: 0) == 1)
    }
}
