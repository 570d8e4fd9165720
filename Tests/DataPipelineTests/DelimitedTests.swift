import Compute
import DataPipeline
import Foundation
import Testing
import TestSupport

@Suite struct DelimitedTests {
    func folder() -> String {
        let path = ScratchFolder.path("recsys-csv")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// user,item,rating,comment with a header and CRLF; users joined from a "|" file with a
    /// flags block; rating >= 4 is a click.
    func schema(_ usersPath: String) -> DelimitedSchema {
        DelimitedSchema(delimiter: 44, hasHeader: true, label: .init(index: 2), labelRule: .init(">= 4"),
                        dense: [(column: .init(join: 0, index: 1), transform: .log1p)],
                        categorical: [.hashed(.init(index: 0)), .hashed(.init(index: 1)), .flags(join: 0, columns: 2...4)],
                        joins: [.init(path: usersPath, delimiter: 124, keyColumn: 0, mainColumn: 0)])
    }

    @Test func readsLabelsRulesJoinsAndFlagBags() throws {
        let dir = folder()
        try "u1|30|1|0|1\nu2|0|0|0|0\n".write(toFile: dir + "/users.txt", atomically: true, encoding: .utf8)
        try "user,item,rating,comment\r\nu1,i9,5,great\r\nu2,i9,3,\r\nu1,,4,ok\r\n".write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
        let train = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [100, 100, 3]), eval = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [100, 100, 3])
        let result = try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: schema(dir + "/users.txt"),
                                                    tableRows: [100, 100, 3], split: .files([]), skipBadLines: false,
                                                    train: train, eval: eval)
        #expect(result.train == 3 && result.lines == 3)
        let records = train.build(name: "r")
        #expect(records.labels == [1, 0, 1])
        let batch = Batch(capacity: 3, denseFeatureCount: 1, tableCount: 3, idsPerSample: 3)
        try [0, 1, 2].withUnsafeBufferPointer { try records.fill(batch, order: $0, start: 0, size: 3) }
        #expect(abs(batch.dense[0] - Float(log1p(30.0))) < 1e-6 && batch.dense[1] == 0)
        #expect(batch.sparse[0].ids[0] == batch.sparse[0].ids[2], "the same user hashes to the same row")
        #expect(batch.sparse[1].ids[0] == batch.sparse[1].ids[1] && batch.sparse[1].ids[2] == 0, "an empty value is row 0")
        #expect((0...3).map { batch.sparse[2].offsets[$0] } == [0, 2, 2, 4], "u1 has flags 0 and 2, u2 none")
        #expect((0..<4).map { batch.sparse[2].ids[$0] } == [0, 2, 0, 2])
    }

    /// Lines read in timestamp order; each line's history is its user's earlier items then its
    /// own (at most 3), or with `positivesOnly` its user's earlier clicked items then its own, or
    /// without `includesCandidate` the earlier items alone; the position split holds out the
    /// latest lines.
    @Test func historiesFollowTheOrderColumnAndTheGroup() throws {
        let dir = folder()
        try "u1\ta\t5\t30\nu2\tb\t2\t10\nu1\tc\t1\t20\nu1\td\t4\t40\nu2\te\t5\t50\n"
            .write(toFile: dir + "/r.tsv", atomically: true, encoding: .utf8)
        let item = DelimitedSchema.Column(index: 1), user = DelimitedSchema.Column(index: 0)
        let schema = DelimitedSchema(delimiter: 9, hasHeader: false, label: .init(index: 2), labelRule: .init(">= 4"), dense: [],
                                     categorical: [.hashed(item), .history(item: item, group: user, maxLength: 3, positivesOnly: false),
                                                   .history(item: item, group: user, maxLength: 3, positivesOnly: true),
                                                   .history(item: item, group: user, maxLength: 3, positivesOnly: false, includesCandidate: false)],
                                     joins: [], orderBy: .init(index: 3))
        let rows = [1000, 1000, 1000, 1000], bagSizes = [1, 3, 3, 3]
        let train = RecordBuffer(denseCount: 0, bagSizes: bagSizes, tableRows: rows)
        let eval = RecordBuffer(denseCount: 0, bagSizes: bagSizes, tableRows: rows)
        let result = try DelimitedPreprocessing.run(paths: [dir + "/r.tsv"], schema: schema, tableRows: rows,
                                                    split: .position(fraction: 0.4), skipBadLines: false, train: train, eval: eval)
        #expect(result.train == 3 && result.eval == 2)
        func bags(_ buffer: RecordBuffer, _ count: Int) throws -> (labels: [Float], items: [Int32], histories: [[[Int32]]]) {
            let records = buffer.build(name: "r")
            let batch = Batch(capacity: count, denseFeatureCount: 0, tableCount: 4, idsPerSample: 3)
            try Array(0..<count).withUnsafeBufferPointer { try records.fill(batch, order: $0, start: 0, size: count) }
            let histories = (1...3).map { t in
                (0..<count).map { b in
                    (Int(batch.sparse[t].offsets[b])..<Int(batch.sparse[t].offsets[b + 1])).map { batch.sparse[t].ids[$0] }
                }
            }
            return (records.labels, (0..<count).map { batch.sparse[0].ids[$0] }, histories)
        }
        // In time order: (u2 b 2), (u1 c 1), (u1 a 5) | held out: (u1 d 4), (u2 e 5).
        let (trainLabels, trainItems, trainHistories) = try bags(train, 3)
        let (evalLabels, evalItems, evalHistories) = try bags(eval, 2)
        let (b, c, a) = (trainItems[0], trainItems[1], trainItems[2]), (d, e) = (evalItems[0], evalItems[1])
        #expect(Set([a, b, c, d, e]).count == 5, "five items, five rows")
        #expect(trainLabels == [0, 0, 1] && evalLabels == [1, 1])
        #expect(trainHistories[0] == [[b], [c], [c, a]] && evalHistories[0] == [[c, a, d], [b, e]])
        #expect(trainHistories[1] == [[b], [c], [a]] && evalHistories[1] == [[a, d], [e]], "only clicks enter a history")
        #expect(trainHistories[2] == [[], [], [c]] && evalHistories[2] == [[c, a], [b]], "earlier items only, the line's own left out")
    }

    /// Leave-last-out: each user's latest line by the order column is held out (ties in file
    /// order: the later line is the last), or without an order column the user's last line in
    /// the file; a schema without a label column reads every line as a positive.
    @Test func lastPerUserHoldsOutEachUsersLatestLine() throws {
        let dir = folder()
        // user, item, timestamp: by time u1's last is item 4, u2's 5, u3's (only line) 6, u4's 8 (tied at 60 with 7, later in the file).
        try "u1\t1\t30\nu2\t2\t10\nu1\t3\t20\nu1\t4\t40\nu2\t5\t50\nu3\t6\t5\nu4\t7\t60\nu4\t8\t60\nu4\t9\t1\n"
            .write(toFile: dir + "/r.tsv", atomically: true, encoding: .utf8)
        func split(orderBy: DelimitedSchema.Column?) throws -> (train: Int, heldOut: Set<Int32>, labels: [Float]) {
            var schema = DelimitedSchema(delimiter: 9, hasHeader: false, labels: [.init(task: .interaction, column: nil, rule: nil)], dense: [],
                                         categorical: [.derived(.init(index: 1), .integer)], joins: [], orderBy: orderBy)
            schema.userColumn = 0
            let train = RecordBuffer(denseCount: 0, bagSizes: [1], tableRows: [1000]), eval = RecordBuffer(denseCount: 0, bagSizes: [1], tableRows: [1000])
            let result = try DelimitedPreprocessing.run(paths: [dir + "/r.tsv"], schema: schema, tableRows: [1000], split: .lastPerUser,
                                                        skipBadLines: false, train: train, eval: eval)
            let records = eval.build(name: "held out")
            let batch = Batch(capacity: 8, denseFeatureCount: 0, tableCount: 1)
            try Array(0..<records.count).withUnsafeBufferPointer { try records.fill(batch, order: $0, start: 0, size: records.count) }
            return (result.train, Set((0..<records.count).map { batch.sparse[0].ids[$0] }), records.labels + train.build(name: "train").labels)
        }
        let byTime = try split(orderBy: .init(index: 2))
        // Item v is row 1 + v (row 0 is the missing values').
        #expect(byTime.heldOut == [5, 6, 7, 9] && byTime.train == 5)
        #expect(byTime.labels == Array(repeating: 1, count: 9), "every line an interaction")
        let byFile = try split(orderBy: nil)
        #expect(byFile.heldOut == [5, 6, 7, 10] && byFile.train == 5)
    }

    /// A hashed prefix: the value's first characters hashed as a whole value would be.
    @Test func aPrefixHashesTheValuesFirstCharacters() throws {
        let dir = folder()
        try "1,s10\n1,s1\n0,s2\n0,\n".write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
        let schema = DelimitedSchema(delimiter: 44, hasHeader: false, label: .init(index: 0), labelRule: nil, dense: [],
                                     categorical: [.hashed(.init(index: 1), prefix: 2), .hashed(.init(index: 1))], joins: [])
        let train = RecordBuffer(denseCount: 0, bagSizes: [1, 1], tableRows: [1000, 1000]), eval = RecordBuffer(denseCount: 0, bagSizes: [1, 1], tableRows: [1000, 1000])
        _ = try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: schema, tableRows: [1000, 1000], split: .files([]),
                                           skipBadLines: false, train: train, eval: eval)
        let records = train.build(name: "r"), batch = Batch(capacity: 4, denseFeatureCount: 0, tableCount: 2)
        try [0, 1, 2, 3].withUnsafeBufferPointer { try records.fill(batch, order: $0, start: 0, size: 4) }
        let prefixes = (0..<4).map { batch.sparse[0].ids[$0] }, values = (0..<4).map { batch.sparse[1].ids[$0] }
        #expect(prefixes[0] == prefixes[1] && prefixes[1] == values[1], "s10 and s1 share s1's row")
        #expect(prefixes[2] == values[2] && prefixes[3] == 0, "s2 is its own prefix; an empty value is row 0")
    }

    @Test func badLinesNameTheFileLineAndProblem() throws {
        let dir = folder()
        try "u1|30|1|0|1\n".write(toFile: dir + "/users.txt", atomically: true, encoding: .utf8)
        func error(_ lines: String) throws -> String? {
            try ("user,item,rating\n" + lines).write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
            let sink = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [100, 100, 3])
            do {
                _ = try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: schema(dir + "/users.txt"), tableRows: [10, 10, 3],
                                                   split: .files([]), skipBadLines: false, train: sink, eval: sink)
                return nil
            } catch { return "\(error)" }
        }
        #expect(try error("u7,i1,5\n") == "\(dir)/r.csv:2: key 'u7' not found in \(dir)/users.txt")
        #expect(try error("u1,i1,five\n") == "\(dir)/r.csv:2: label 'five' is not a number")
        #expect(try error("u1,i1\n") == "\(dir)/r.csv:2: 2 fields, the header has 3")
        #expect(try error("u1,i1,5,extra\n") == "\(dir)/r.csv:2: 4 fields, the header has 3")
        let invalid = dir + "/r.csv"
        try Data("user,item,rating\nu1,\u{FF}".utf8.map { $0 } + [0xC3, 0x28, 44, 0x35, 10]).write(to: URL(fileURLWithPath: invalid))
        let sink = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [100, 100, 3])
        #expect(throws: DataError("\(dir)/r.csv:2: categorical column 1: invalid UTF-8")) {
            try DelimitedPreprocessing.run(paths: [invalid], schema: schema(dir + "/users.txt"), tableRows: [10, 10, 3],
                                           split: .files([]), skipBadLines: false, train: sink, eval: sink)
        }
    }

    /// RFC 4180 quoting (issue 10, item 15): a quoted field holds the delimiter and doubled
    /// quotes; an unclosed quote is an error naming the line.
    @Test func quotedFieldsHoldTheDelimiterAndQuotes() throws {
        let dir = folder()
        try "u1|30|1|0|1\nu,2|5|0|1|0\n\"q\"\"x\"|7|0|0|0\n".write(toFile: dir + "/users.txt", atomically: true, encoding: .utf8)
        try "user,item,rating\n\"u,2\",\"i,9\",5\n\"q\"\"x\",i9,4\n".write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
        let train = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [100, 100, 3])
        let result = try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: schema(dir + "/users.txt"), tableRows: [100, 100, 3],
                                                    split: .files([]), skipBadLines: false, train: train, eval: train)
        #expect(result.train == 2, "the keys 'u,2' and 'q\"x' are found in the joined file")
        try "user,item,rating\n\"u1,i1,5\n".write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
        #expect(throws: DataError("\(dir)/r.csv:2: a quoted field has no closing quote (quoted fields cannot span lines)")) {
            try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: schema(dir + "/users.txt"), tableRows: [100, 100, 3],
                                           split: .files([]), skipBadLines: false, train: train, eval: train)
        }
    }

    /// A label that is not a number on line 1 of a file without a header suggests the header.
    @Test func anUnskippedHeaderIsSuggested() throws {
        let dir = folder()
        try "u1|30|1|0|1\n".write(toFile: dir + "/users.txt", atomically: true, encoding: .utf8)
        try "user,item,rating\nu1,i1,5\n".write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
        var headerless = schema(dir + "/users.txt")
        headerless.hasHeader = false
        let sink = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [100, 100, 3])
        #expect(throws: DataError("\(dir)/r.csv:1: key 'user' not found in \(dir)/users.txt (if line 1 is a header, set data.delimited.header: true)")) {
            try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: headerless, tableRows: [100, 100, 3],
                                           split: .files([]), skipBadLines: false, train: sink, eval: sink)
        }
    }

    /// With frequency_threshold K, hashed values seen fewer than K times share a row (issue 10,
    /// item 18): row 1, apart from the missing values' row 0 (issue 29, item 2).
    @Test func rareValuesShareTheRareRow() throws {
        let dir = folder()
        try "u1|30|1|0|1\nu2|0|0|0|0\nu3|1|0|0|0\n".write(toFile: dir + "/users.txt", atomically: true, encoding: .utf8)
        try "user,item,rating\nu1,i9,5\nu2,i9,3\nu1,i7,4\nu3,i9,1\n".write(toFile: dir + "/r.csv", atomically: true, encoding: .utf8)
        func ids(threshold: Int) throws -> [[Int32]] {
            let train = RecordBuffer(denseCount: 1, bagSizes: [1, 1, 3], tableRows: [1000, 1000, 3])
            _ = try DelimitedPreprocessing.run(paths: [dir + "/r.csv"], schema: schema(dir + "/users.txt"), tableRows: [1000, 1000, 3],
                                               split: .files([]), skipBadLines: false, frequencyThreshold: threshold, train: train, eval: train)
            let records = train.build(name: "r")
            let batch = Batch(capacity: 4, denseFeatureCount: 1, tableCount: 3, idsPerSample: 3)
            try [0, 1, 2, 3].withUnsafeBufferPointer { try records.fill(batch, order: $0, start: 0, size: 4) }
            return (0..<2).map { t in (0..<4).map { batch.sparse[t].ids[$0] } }
        }
        let all = try ids(threshold: 0), frequent = try ids(threshold: 2)
        #expect(Set(all[0]).count == 3 && !all[0].contains(0) && !all[1].contains(0), "every value its own row: \(all)")
        #expect(!frequent[0].contains(0) && !frequent[1].contains(0), "no value takes the missing row: \(frequent)")
        #expect(frequent[0] == [frequent[0][0], 1, frequent[0][0], 1] && frequent[0][0] > 1, "u2 and u3 are seen once: \(frequent[0])")
        #expect(frequent[1] == [frequent[1][0], frequent[1][0], 1, frequent[1][0]] && frequent[1][0] > 1, "i7 is seen once: \(frequent[1])")
    }
}
