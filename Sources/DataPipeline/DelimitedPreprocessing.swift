import Foundation

/// How to read any delimited text dataset (CSV, TSV, "|"-separated) into records: which column
/// is the label, which are dense and which categorical, and which other files to join in.
public struct DelimitedSchema: Sendable {
    /// A column of the main file (`join` nil) or of a joined file.
    public struct Column: Sendable, Equatable {
        public var join: Int?
        public var index: Int
        public init(join: Int? = nil, index: Int) {
            self.join = join
            self.index = index
        }
    }

    /// A label rule: the column's number compared with a threshold gives 1 or 0.
    public struct LabelRule: Sendable, Equatable {
        public enum Comparison: String, Sendable, CaseIterable { case greaterOrEqual = ">=", greater = ">", lessOrEqual = "<=", less = "<", equal = "==", notEqual = "!=" }
        public var comparison: Comparison
        public var threshold: Double

        /// Parses ">= 4", "== 1", ...
        public init?(_ text: String) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let comparison = Comparison.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count })
                .first(where: { trimmed.hasPrefix($0.rawValue) }),
                  let threshold = Double(trimmed.dropFirst(comparison.rawValue.count).trimmingCharacters(in: .whitespaces)) else {
                return nil
            }
            self.comparison = comparison
            self.threshold = threshold
        }

        func apply(_ value: Double) -> Bool {
            switch comparison {
            case .greaterOrEqual: return value >= threshold
            case .greater: return value > threshold
            case .lessOrEqual: return value <= threshold
            case .less: return value < threshold
            case .equal: return value == threshold
            case .notEqual: return value != threshold
            }
        }
    }

    public enum DenseTransform: String, Sendable, Codable, CaseIterable {
        /// The value as it is.
        case none
        /// log(1 + max(x, 0)), as for Criteo's counts.
        case log1p
    }

    /// One embedding table's ids: a hashed string, or a multi-hot bag of the indices of flag
    /// columns that hold "1" (MovieLens genres).
    public enum Categorical: Sendable, Equatable {
        case hashed(Column)
        case flags(join: Int?, columns: ClosedRange<Int>)

        var bagSize: Int {
            if case .flags(_, let columns) = self { return columns.count }
            return 1
        }
    }

    /// A file joined on a key: its rows are found by the value of `mainColumn` in the main file.
    public struct Join: Sendable, Equatable {
        public var path: String
        public var delimiter: UInt8
        public var keyColumn: Int
        public var mainColumn: Int
        public init(path: String, delimiter: UInt8, keyColumn: Int, mainColumn: Int) {
            self.path = path
            self.delimiter = delimiter
            self.keyColumn = keyColumn
            self.mainColumn = mainColumn
        }
    }

    public var delimiter: UInt8
    public var hasHeader: Bool
    public var label: Column
    public var labelRule: LabelRule?
    public var dense: [(column: Column, transform: DenseTransform)]
    public var categorical: [Categorical]
    public var joins: [Join]

    public init(delimiter: UInt8, hasHeader: Bool, label: Column, labelRule: LabelRule?,
                dense: [(column: Column, transform: DenseTransform)], categorical: [Categorical], joins: [Join]) {
        self.delimiter = delimiter
        self.hasHeader = hasHeader
        self.label = label
        self.labelRule = labelRule
        self.dense = dense
        self.categorical = categorical
        self.joins = joins
    }

    public var bagSizes: [Int] { categorical.map(\.bagSize) }
}

/// Reads delimited files by a `DelimitedSchema` into records: categorical strings are hashed
/// (64-bit FNV-1a of their UTF-8 bytes) modulo their table's rows; empty values go to row 0.
public enum DelimitedPreprocessing {
    public static func run(paths: [String], schema: DelimitedSchema, tableRows: [Int], split: HeldOutSplit,
                           skipBadLines: Bool, train: RecordSink, eval: RecordSink) throws -> (lines: Int, badLines: Int, train: Int, eval: Int) {
        guard tableRows.count == schema.categorical.count else {
            throw DataError("the schema has \(schema.categorical.count) categorical features, the model \(tableRows.count) tables")
        }
        let joined = try schema.joins.map { try loadJoin($0) }
        var evalPaths: [String] = []
        if case .files(let files) = split { evalPaths = files }
        let mainReaders = try paths.map { try LineReader(path: $0) }, evalReaders = try evalPaths.map { try LineReader(path: $0) }
        for reader in mainReaders + evalReaders where !reader.isCompressed {
            if ((try? FileManager.default.attributesOfItem(atPath: reader.path)[.size] as? Int) ?? 0) == 0 {
                throw DataError("\(reader.path): empty file")
            }
        }
        var dataLines = 0
        if case .position = split {
            for reader in mainReaders { try reader.forEachLine { _, number in if !(schema.hasHeader && number == 1) { dataLines += 1 } } }
        }
        let firstHeldOut = split.firstHeldOutLine(of: dataLines)
        var dense = [Float](repeating: 0, count: schema.dense.count)
        var ids = [Int32](repeating: -1, count: schema.bagSizes.reduce(0, +))
        var good = 0, bad = 0, trainCount = 0, evalCount = 0, lineIndex: UInt64 = 0
        var fields: [Range<Int>] = []

        func process(_ readers: [LineReader], heldOutFile: Bool) throws {
            for reader in readers {
                try reader.forEachLine { line, number in
                    if schema.hasHeader && number == 1 { return }
                    lineIndex += 1
                    let location = "\(reader.path):\(number)"
                    let label: Float
                    do {
                        Self.split(line, by: schema.delimiter, into: &fields)
                        label = try parseRecord(line, fields: fields, schema: schema, joined: joined, tableRows: tableRows,
                                                dense: &dense, ids: &ids, location: location)
                    } catch let error as DataError {
                        guard skipBadLines else { throw error }
                        bad += 1
                        return
                    }
                    // By position among all data lines, bad ones included: skipping a line moves no other.
                    let heldOut = heldOutFile || split.holdsOut(line: Int(lineIndex - 1), firstHeldOut: firstHeldOut,
                                                                hash: SplitMixHash.hash(lineIndex, seed: split.seed))
                    try dense.withUnsafeBufferPointer { dense in
                        try ids.withUnsafeBufferPointer { ids in
                            try (heldOut ? eval : train).append(label: label, dense: dense.baseAddress!, ids: ids.baseAddress!)
                        }
                    }
                    good += 1
                    if heldOut { evalCount += 1 } else { trainCount += 1 }
                }
            }
        }
        try process(mainReaders, heldOutFile: false)
        try process(evalReaders, heldOutFile: true)
        return (good + bad, bad, trainCount, evalCount)
    }

    /// Byte ranges of the fields of `line`.
    static func split(_ line: UnsafeBufferPointer<UInt8>, by delimiter: UInt8, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        var start = 0
        for (index, byte) in line.enumerated() where byte == delimiter {
            fields.append(start..<index)
            start = index + 1
        }
        fields.append(start..<line.count)
    }

    /// A joined file: its rows by key, each row as its fields' bytes (only the fields a
    /// feature uses must be valid UTF-8: MovieLens titles are Latin-1).
    struct JoinedTable {
        let path: String
        let rows: [String: [[UInt8]]]
    }

    static func loadJoin(_ join: DelimitedSchema.Join) throws -> JoinedTable {
        let reader = try LineReader(path: join.path)
        var rows: [String: [[UInt8]]] = [:]
        var fields: [Range<Int>] = []
        try reader.forEachLine { line, number in
            if line.isEmpty { return }
            split(line, by: join.delimiter, into: &fields)
            guard join.keyColumn < fields.count else {
                throw DataError("\(join.path):\(number): no column \(join.keyColumn) (the line has \(fields.count) fields)")
            }
            let values = fields.map { Array(UnsafeBufferPointer(rebasing: line[$0])) }
            rows[String(decoding: values[join.keyColumn], as: UTF8.self)] = values
        }
        return JoinedTable(path: join.path, rows: rows)
    }

    /// Fills `dense` and `ids` from one line; returns its label.
    static func parseRecord(_ line: UnsafeBufferPointer<UInt8>, fields: [Range<Int>], schema: DelimitedSchema,
                            joined: [JoinedTable], tableRows: [Int], dense: inout [Float], ids: inout [Int32],
                            location: String) throws -> Float {
        // The joined rows of this line, found by their key columns.
        var joinedRows: [[[UInt8]]] = []
        for (j, join) in schema.joins.enumerated() {
            guard join.mainColumn < fields.count else {
                throw DataError("\(location): no column \(join.mainColumn) to join \(join.path) on (the line has \(fields.count) fields)")
            }
            let key = String(decoding: UnsafeBufferPointer(rebasing: line[fields[join.mainColumn]]), as: UTF8.self)
            guard let row = joined[j].rows[key] else { throw DataError("\(location): key '\(key)' not found in \(join.path)") }
            joinedRows.append(row)
        }
        func bytes(_ column: DelimitedSchema.Column) throws -> [UInt8] {
            if let j = column.join {
                let row = joinedRows[j]
                guard column.index < row.count else {
                    throw DataError("\(location): \(schema.joins[j].path) has no column \(column.index) for this line's key")
                }
                return row[column.index]
            }
            guard column.index < fields.count else {
                throw DataError("\(location): expected at least \(column.index + 1) fields, found \(fields.count)")
            }
            return Array(UnsafeBufferPointer(rebasing: line[fields[column.index]]))
        }
        func number(_ column: DelimitedSchema.Column, what: String) throws -> Double {
            let value = try bytes(column)
            if value.isEmpty { return 0 }
            guard let text = String(bytes: value, encoding: .utf8), let number = Double(text), number.isFinite else {
                throw DataError("\(location): \(what) '\(String(decoding: value, as: UTF8.self))' is not a number")
            }
            return number
        }

        let labelValue = try number(schema.label, what: "label")
        let label: Float
        if let rule = schema.labelRule {
            label = rule.apply(labelValue) ? 1 : 0
        } else {
            guard labelValue == 0 || labelValue == 1 else { throw DataError("\(location): label must be 0 or 1, found \(labelValue)") }
            label = Float(labelValue)
        }
        for (i, feature) in schema.dense.enumerated() {
            let value = try number(feature.column, what: "dense value")
            dense[i] = Float(feature.transform == .log1p ? log1p(max(value, 0)) : value)
        }
        var slot = 0
        for (t, feature) in schema.categorical.enumerated() {
            switch feature {
            case .hashed(let column):
                let value = try bytes(column)
                guard String(bytes: value, encoding: .utf8) != nil else {
                    throw DataError("\(location): categorical column \(column.index): invalid UTF-8")
                }
                ids[slot] = value.isEmpty ? 0 : Int32(fnv1a(value) % UInt64(tableRows[t]))
                slot += 1
            case .flags(let join, let columns):
                var written = 0
                for (k, index) in columns.enumerated() {
                    let flag = try bytes(DelimitedSchema.Column(join: join, index: index))
                    if flag == [49] { ids[slot + written] = Int32(k % tableRows[t]); written += 1 }
                    else if !(flag == [48] || flag.isEmpty) {
                        throw DataError("\(location): flag column \(index) must be 0 or 1, found '\(String(decoding: flag, as: UTF8.self))'")
                    }
                }
                for k in written..<columns.count { ids[slot + k] = -1 }
                slot += columns.count
            }
        }
        return label
    }

    /// 64-bit FNV-1a: a stable hash of a categorical value's bytes.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}
