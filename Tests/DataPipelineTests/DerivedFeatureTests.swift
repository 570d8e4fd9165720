import Compute
import DataPipeline
import Foundation
import Testing
import TestSupport

/// Hour, weekday, buckets and integers as categorical features (issue 10, item 17).
@Suite struct DerivedFeatureTests {
    @Test func timestampsGiveHourAndWeekdayInEveryFormat() throws {
        // 2014-10-21 was a Tuesday (weekday 1); 2024-02-29 a Thursday (3); 1969-12-31 a Wednesday (2).
        let cases: [(String, DerivedFeature.TimestampFormat, hour: Int, weekday: Int)] = [
            ("1413849600", .unix, 0, 1), ("1413896400", .unix, 13, 1), ("-1", .unix, 23, 2),
            ("14102113", .yymmddhh, 13, 1), ("2024-02-29 23:59:00", .iso8601, 23, 3), ("2024-02-29T07:05", .iso8601, 7, 3),
        ]
        // Row 0 is the missing values': value v is row 1 + v.
        for (text, format, hour, weekday) in cases {
            #expect(try rows(text, .hourOfDay(format)) == 1 + hour, "\(text)")
            #expect(try rows(text, .dayOfWeek(format)) == 1 + weekday, "\(text)")
        }
        #expect(throws: DataError.self) { try rows("2024-13-01 00:00", .hourOfDay(.iso8601)) }
        #expect(throws: DataError.self) { try rows("noon", .hourOfDay(.unix)) }
    }

    @Test func bucketsCountTheBoundariesAtOrBelow() throws {
        for (value, bucket) in [("5", 0), ("10", 1), ("99.9", 1), ("100", 2), ("1e9", 2), ("-3", 0)] {
            #expect(try rows(value, .buckets([10, 100])) == 1 + bucket, "\(value)")
        }
    }

    /// An id numbered already is its own row, after the missing row, modulo the other 999 of the
    /// table's 1,000 rows; a negative or non-integer value is a bad line, never a row.
    @Test func integersAreTheirOwnRows() throws {
        for (value, row) in [("0", 1), ("943", 944), ("1682", 1 + 1682 % 999)] {
            #expect(try rows(value, .integer) == row, "\(value)")
        }
        for bad in ["-1", "1.5", "u12"] {
            #expect(throws: DataError.self, "\(bad)") { try rows(bad, .integer) }
        }
    }

    /// Issue 29, item 2: an empty value and hour 0 (the first bucket, id 0) shared row 0; now the
    /// missing values have row 0 to themselves. Value mapping 1 (older records and checkpoints)
    /// still gives the old rows.
    @Test func missingValuesHaveARowOfTheirOwn() throws {
        let midnight = "1413849600"  // 2014-10-21 00:00 UTC
        for feature in [DerivedFeature.hourOfDay(.unix), .dayOfWeek(.unix), .buckets([10, 100]), .integer] {
            let first = feature == .hourOfDay(.unix) || feature == .dayOfWeek(.unix) ? midnight : "0"
            let firstRow = try rows(first, feature), missingRow = try rows("", feature)
            #expect(missingRow == 0 && firstRow != missingRow, "\(feature): missing \(missingRow), first value \(firstRow)")
        }
        #expect(try rows(midnight, .hourOfDay(.unix), mapping: 1) == 0 && rows("", .hourOfDay(.unix), mapping: 1) == 0,
                "mapping 1 keeps the shared row 0 of the models made with it")
        #expect(try rows("1682", .integer, mapping: 1) == 682)
    }

    /// The row a one-line file with `text` in column 1 gets for `feature`, through the reader.
    func rows(_ text: String, _ feature: DerivedFeature, mapping: Int = CategoricalRows.currentMapping) throws -> Int {
        let path = ScratchFolder.path("recsys-derived", suffix: ".csv")
        try "1,\(text)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let schema = DelimitedSchema(delimiter: 44, hasHeader: false, label: .init(index: 0), labelRule: nil, dense: [],
                                     categorical: [.derived(.init(index: 1), feature)], joins: [])
        let sink = RecordBuffer(denseCount: 0, bagSizes: [1], tableRows: [1000])
        _ = try DelimitedPreprocessing.run(paths: [path], schema: schema, tableRows: [1000], split: .files([]), skipBadLines: false,
                                           valueMapping: mapping, train: sink, eval: sink)
        let records = sink.build(name: "r")
        let batch = Batch(capacity: 1, denseFeatureCount: 0, tableCount: 1)
        try [0].withUnsafeBufferPointer { try records.fill(batch, order: $0, start: 0, size: 1) }
        return Int(batch.sparse[0].ids[0])
    }
}
