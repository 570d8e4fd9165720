import DataPipeline
import Testing

/// The value mappings (issue 29, item 2): under mapping 2 no present value takes the missing
/// values' row 0 (nor, with a frequency threshold, the rare values' row 1); a hashed value keeps
/// its mapping-1 row unless that row is reserved; mapping 1 gives the rows older models use.
@Suite struct CategoricalRowsTests {
    @Test func hashedValuesKeepTheirRowUnlessItIsReserved() {
        let rows = 1000, plain = CategoricalRows(mapping: 2), withRare = CategoricalRows(mapping: 2, hasRareRow: true)
        #expect(plain.reserved == 1 && withRare.reserved == 2 && withRare.rareRow == 1)
        for hash: UInt64 in [9, 1009, 999, 123_456_789_012_345] {
            #expect(plain.row(ofHash: hash, rows: rows) == Int32(hash % 1000))
        }
        // Landing on row 0 (or 1 with a rare row), a hash moves by its higher digits.
        #expect(plain.row(ofHash: 0, rows: rows) == 1 && plain.row(ofHash: 5000, rows: rows) == 1 + 5)
        #expect(withRare.row(ofHash: 1001, rows: rows) == 2 + 1 && withRare.row(ofHash: 2000, rows: rows) == 2 + 2)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let hash = generator.next() as UInt64, size = Int.random(in: 3...5000)
            #expect(plain.row(ofHash: hash, rows: size) >= 1 && withRare.row(ofHash: hash, rows: size) >= 2)
            #expect(plain.row(ofHash: hash, rows: size) < size && withRare.row(ofHash: hash, rows: size) < size)
        }
    }

    @Test func computedValuesArePastTheReservedRows() {
        let plain = CategoricalRows(mapping: 2)
        #expect((0..<24).map { plain.row(ofValue: UInt64($0), rows: 25) } == Array(1...24))
        #expect(plain.row(ofValue: 24, rows: 25) == 1, "a 25th value wraps: the config check refuses 24 hours in 24 rows")
    }

    @Test func mappingOneIsTheRowsOfOlderModels() {
        let old = CategoricalRows(mapping: 1, hasRareRow: true)
        #expect(old.reserved == 0 && old.rareRow == CategoricalRows.missingRow)
        #expect(old.row(ofHash: 5000, rows: 1000) == 0 && old.row(ofHash: 1009, rows: 1000) == 9 && old.row(ofValue: 0, rows: 24) == 0)
    }
}
