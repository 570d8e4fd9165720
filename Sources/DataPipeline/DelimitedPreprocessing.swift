import Compute
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

    /// One embedding table's ids: a hashed string, a multi-hot bag of the indices of flag
    /// columns that hold "1" (MovieLens genres), a feature derived from a value (the hour or
    /// weekday of a timestamp, the bucket of a number), or a behaviour sequence: the hashed
    /// `item` values of the earlier lines of the same `group` value (a user) — of those labelled 1
    /// alone with `positivesOnly`, as clicks — oldest first, then this line's own (left out
    /// without `includesCandidate`: a retriever's user history, whose own item is the target),
    /// at most `maxLength` in all.
    public enum Categorical: Sendable, Equatable {
        /// The value, hashed; with `prefix`, its first `prefix` characters (a zip code's region).
        case hashed(Column, prefix: Int? = nil)
        case flags(join: Int?, columns: ClosedRange<Int>)
        case derived(Column, DerivedFeature)
        case history(item: Column, group: Column, maxLength: Int, positivesOnly: Bool, includesCandidate: Bool = true)

        var bagSize: Int {
            switch self {
            case .flags(_, let columns): return columns.count
            case .history(_, _, let maxLength, _, _): return maxLength
            case .hashed, .derived: return 1
            }
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

    /// A task's label: its column and the rule that makes it 0/1 (a binary task without a rule
    /// reads 0/1; a regression reads the number). Without a column every line is a positive (a
    /// retriever's interactions).
    public struct Label: Sendable, Equatable {
        public var task: PredictionTask
        public var column: Column?
        public var rule: LabelRule?

        public init(task: PredictionTask, column: Column?, rule: LabelRule?) {
            self.task = task
            self.column = column
            self.rule = rule
        }
    }

    public var delimiter: UInt8
    public var hasHeader: Bool
    /// One label per task, in the tasks' order.
    public var labels: [Label]
    public var dense: [(column: Column, transform: DenseTransform)]
    public var categorical: [Categorical]
    public var joins: [Join]
    /// A main-file column whose numbers order the lines (a timestamp): the main files are then
    /// read whole into memory and processed in ascending order (ties in file order), so
    /// histories hold only earlier events and a `position` split holds out the latest lines.
    public var orderBy: Column?
    /// The main-file column naming each line's user (for a `lastPerUser` split).
    public var userColumn: Int?

    /// A schema of one click label read from `label` (by `labelRule` when given).
    public init(delimiter: UInt8, hasHeader: Bool, label: Column, labelRule: LabelRule?,
                dense: [(column: Column, transform: DenseTransform)], categorical: [Categorical], joins: [Join],
                orderBy: Column? = nil) {
        self.init(delimiter: delimiter, hasHeader: hasHeader, labels: [Label(task: .click, column: label, rule: labelRule)],
                  dense: dense, categorical: categorical, joins: joins, orderBy: orderBy)
    }

    public init(delimiter: UInt8, hasHeader: Bool, labels: [Label],
                dense: [(column: Column, transform: DenseTransform)], categorical: [Categorical], joins: [Join],
                orderBy: Column? = nil) {
        precondition(!labels.isEmpty, "DelimitedSchema: at least one label")
        self.delimiter = delimiter
        self.hasHeader = hasHeader
        self.labels = labels
        self.dense = dense
        self.categorical = categorical
        self.joins = joins
        self.orderBy = orderBy
    }

    public var bagSizes: [Int] { categorical.map(\.bagSize) }
    public var tasks: [PredictionTask] { labels.map(\.task) }
}

/// Reads delimited files by a `DelimitedSchema` into records: categorical strings are hashed
/// (64-bit FNV-1a of their UTF-8 bytes) and derived values (hours, buckets) computed, then
/// given rows by the value mapping (`CategoricalRows`: under the current one, empty values have
/// row 0 to themselves, and with a `frequencyThreshold` of K the values seen fewer than K times
/// in the main files share row 1, found by a counting pass first, as for Criteo data). An empty
/// dense value is 0; an empty label makes the line bad. The empty values of each feature are
/// counted (`Result.emptyValues`).
public enum DelimitedPreprocessing {
    /// What a run read and wrote.
    public struct Result: Sendable, Equatable {
        public var lines: Int
        public var badLines: Int
        /// Empty lines, ignored (not in `lines`).
        public var blankLines: Int
        public var train: Int
        public var eval: Int
        /// Empty values of the good lines, per feature: the dense columns, then the categorical
        /// features (a history counts its line's own item; flag blocks never count).
        public var emptyValues: [Int]
        /// Distinct non-empty values of each categorical feature in the good lines (a history's
        /// items, a derived feature's rows, a flag block's columns that held a 1).
        public var distinctValues: [Int]

        /// Rows to give a table of `distinct` hashed values: the power of two at least twice as
        /// many, so that few values share a row (about a fifth collide at twice, by the birthday
        /// bound), and no table is sized far past its data.
        public static func suggestedRows(distinct: Int) -> Int {
            var rows = 1
            while rows < 2 * max(distinct, 1) { rows *= 2 }
            return rows
        }
    }

    /// `progress` shows each pass over the files as it goes, and its closing line.
    public static func run(paths: [String], schema: DelimitedSchema, tableRows: [Int], split: HeldOutSplit,
                           skipBadLines: Bool, frequencyThreshold: Int = 0, valueMapping: Int = CategoricalRows.currentMapping,
                           train: RecordSink, eval: RecordSink, progress: ProgressOutput = .silent,
                           heldOutLine: ((String, Int) -> Void)? = nil) throws -> Result {
        guard tableRows.count == schema.categorical.count else {
            throw DataError("the schema has \(schema.categorical.count) categorical features, the model \(tableRows.count) tables")
        }
        let rowRules = categoricalRows(schema, mapping: valueMapping, frequencyThreshold: frequencyThreshold)
        for (t, rules) in rowRules.enumerated() {
            if case .flags = schema.categorical[t] { continue }
            try rules.requireRoom(inTable: t, rows: tableRows[t])
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
        let meter = ReadProgress(output: progress)
        for reader in mainReaders + evalReaders { reader.progress = meter }
        let mainBytes = mainReaders.reduce(0) { $0 + $1.sizeInBytes }, evalBytes = evalReaders.reduce(0) { $0 + $1.sizeInBytes }
        var dataLines = 0
        if split.needsLineCount {
            meter.begin("counting lines", totalBytes: mainBytes)
            for reader in mainReaders {
                try reader.forEachLine { line, number in if !(schema.hasHeader && number == 1) && !line.isEmpty { dataLines += 1 } }
            }
            try meter.end()
        }
        let selection = split.selection(lineCount: dataLines)
        var labels = [Float](repeating: 0, count: schema.labels.count)
        var dense = [Float](repeating: 0, count: schema.dense.count)
        var ids = [Int32](repeating: -1, count: RecordFormat.idSlots(bagSizes: schema.bagSizes, tableRows: tableRows).last!)
        var good = 0, bad = 0, blankLines = 0, trainCount = 0, evalCount = 0, lineIndex: UInt64 = 0
        var fields = Fields()
        // The features found empty and the categorical values of the line being read; the empty
        // values and the distinct values per feature of the good lines.
        var emptyOnLine: [Int] = [], valuesOnLine: [(table: Int, value: UInt64)] = []
        var emptyValues = [Int](repeating: 0, count: schema.dense.count + schema.categorical.count)
        let distinct = schema.categorical.map { _ in ValueCounts(cap: 1) }
        let histories = SequenceHistories()
        var frequencies: ValueFrequencies?
        if frequencyThreshold > 0 {
            // Counting pass over the main files; bad lines are left to the pass that writes.
            meter.begin("counting categorical values", totalBytes: mainBytes)
            let counting = ValueFrequencies(tables: schema.categorical.count, threshold: frequencyThreshold)
            // The pass counts each line's own values; the histories it builds are thrown away.
            let countingHistories = SequenceHistories()
            for reader in mainReaders {
                try reader.forEachLine { line, number in
                    if (schema.hasHeader && number == 1) || line.isEmpty { return }
                    let location = "\(reader.path):\(number)"
                    guard (try? Self.split(line, by: schema.delimiter, into: &fields, location: location)) != nil else { return }
                    try? parseRecord(line, fields: fields, schema: schema, joined: joined, tableRows: tableRows, rowRules: rowRules,
                                     frequencies: counting, histories: countingHistories, labels: &labels, dense: &dense, ids: &ids,
                                     empty: &emptyOnLine, values: &valuesOnLine, location: location)
                }
            }
            try meter.end()
            counting.isCounting = false
            frequencies = counting
        }

        func process(_ readers: [LineReader], heldOutFile: Bool) throws {
            // Every line of a file has as many fields as its header (or, without one, its first line).
            var fieldCounts = [(count: Int, source: String)?](repeating: nil, count: readers.count)
            func handle(_ r: Int, _ line: UnsafeBufferPointer<UInt8>, _ number: Int, lastOfGroup: Bool = false) throws {
                let reader = readers[r]
                let location = "\(reader.path):\(number)"
                if schema.hasHeader && number == 1 {
                    try Self.split(line, by: schema.delimiter, into: &fields, location: location)
                    fieldCounts[r] = (fields.count, "the header has")
                    return
                }
                // Blank lines (a file's trailing empty line) are no records, as for CSV readers.
                if line.isEmpty { blankLines += 1; return }
                lineIndex += 1
                do {
                    try Self.split(line, by: schema.delimiter, into: &fields, location: location)
                    if let expected = fieldCounts[r], fields.count != expected.count {
                        throw DataError("\(location): \(fields.count) fields, \(expected.source) \(expected.count)")
                    }
                    if fieldCounts[r] == nil { fieldCounts[r] = (fields.count, "line \(number) has") }
                    try parseRecord(line, fields: fields, schema: schema, joined: joined, tableRows: tableRows, rowRules: rowRules,
                                    frequencies: frequencies, histories: histories, labels: &labels, dense: &dense, ids: &ids,
                                    empty: &emptyOnLine, values: &valuesOnLine, location: location)
                } catch var error as DataError {
                    if number == 1 && !schema.hasHeader {
                        error = DataError(error.message + " (if line 1 is a header, set data.delimited.header: true)")
                    }
                    guard skipBadLines else { throw error }
                    bad += 1
                    return
                }
                // By position among all data lines, bad ones included: skipping a line moves no other.
                let heldOut = heldOutFile || lastOfGroup || selection.holdsOut(line: Int(lineIndex - 1))
                if heldOut { heldOutLine?(reader.path, number) }
                try labels.withUnsafeBufferPointer { labels in
                    try dense.withUnsafeBufferPointer { dense in
                        try ids.withUnsafeBufferPointer { ids in
                            try (heldOut ? eval : train).append(labels: labels.baseAddress!, dense: dense.baseAddress!, ids: ids.baseAddress!)
                        }
                    }
                }
                good += 1
                for feature in emptyOnLine { emptyValues[feature] += 1 }
                for (t, value) in valuesOnLine { distinct[t].add(value) }
                if heldOut { evalCount += 1 } else { trainCount += 1 }
            }
            var groupColumn: Int?
            if case .lastPerUser = split, !heldOutFile {
                guard let column = schema.userColumn else { throw DataError("split last_per_user: the schema names no user column") }
                groupColumn = column
            }
            guard schema.orderBy != nil || groupColumn != nil else {
                for r in readers.indices { try readers[r].forEachLine { try handle(r, $0, $1) } }
                return
            }
            // Header lines first, then every data line of these files by its order value.
            var lines: [OrderedLine] = []
            for (r, reader) in readers.enumerated() {
                try reader.forEachLine { line, number in
                    if schema.hasHeader && number == 1 { try handle(r, line, number); return }
                    if line.isEmpty { blankLines += 1; return }
                    let location = "\(reader.path):\(number)"
                    do {
                        try Self.split(line, by: schema.delimiter, into: &fields, location: location)
                        let key = try schema.orderBy.map { try orderValue(line, fields: fields, column: $0.index, location: location) } ?? 0
                        var group: [UInt8] = []
                        if let groupColumn {
                            guard groupColumn < fields.count else {
                                throw DataError("\(location): no column \(groupColumn) (data.delimited.user_column) in \(fields.count) fields")
                            }
                            group = fields.bytes(groupColumn, of: line)
                        }
                        lines.append(OrderedLine(key: key, reader: r, number: number, bytes: Array(line), group: group))
                    } catch let error as DataError {
                        guard skipBadLines else { throw error }
                        bad += 1
                    }
                }
            }
            lines.sort { ($0.key, $0.reader, $0.number) < ($1.key, $1.reader, $1.number) }
            // Leave-last-out: each group's last line in this order.
            var last = [Bool](repeating: false, count: groupColumn == nil ? 0 : lines.count)
            if groupColumn != nil {
                var seen = Set<[UInt8]>()
                for index in lines.indices.reversed() where seen.insert(lines[index].group).inserted { last[index] = true }
            }
            for (index, line) in lines.enumerated() {
                try line.bytes.withUnsafeBufferPointer { try handle(line.reader, $0, line.number, lastOfGroup: last.isEmpty ? false : last[index]) }
            }
        }
        meter.begin("writing records", totalBytes: mainBytes + evalBytes)
        try process(mainReaders, heldOutFile: false)
        try process(evalReaders, heldOutFile: true)
        try meter.end()
        guard good + bad > 0 else {
            throw DataError("\((paths + evalPaths).joined(separator: ", ")): no data lines" + (schema.hasHeader ? " (a header line only)" : ""))
        }
        return Result(lines: good + bad, badLines: bad, blankLines: blankLines, train: trainCount, eval: evalCount,
                      emptyValues: emptyValues, distinctValues: distinct.map(\.count))
    }

    /// The fields of one line: byte ranges of their contents (inside the quotes of a quoted
    /// field), and which of them hold doubled quotes to undo.
    struct Fields {
        var ranges: [Range<Int>] = []
        var escaped: [Bool] = []
        var count: Int { ranges.count }

        mutating func removeAll() {
            ranges.removeAll(keepingCapacity: true)
            escaped.removeAll(keepingCapacity: true)
        }

        /// The bytes of field `index` of `line`, with `""` turned back into `"`.
        func bytes(_ index: Int, of line: UnsafeBufferPointer<UInt8>) -> [UInt8] {
            let raw = Array(UnsafeBufferPointer(rebasing: line[ranges[index]]))
            guard escaped[index] else { return raw }
            var result: [UInt8] = []
            var previousWasQuote = false
            for byte in raw {
                if byte == 34 && previousWasQuote { previousWasQuote = false; continue }
                previousWasQuote = byte == 34
                result.append(byte)
            }
            return result
        }
    }

    /// Splits `line` into fields, RFC 4180 style: a field that starts with `"` runs to the
    /// closing `"` and may hold the delimiter and doubled quotes (`""`); it must end the line
    /// (quoted fields cannot span lines) or be followed by the delimiter.
    static func split(_ line: UnsafeBufferPointer<UInt8>, by delimiter: UInt8, into fields: inout Fields, location: String) throws {
        fields.removeAll()
        var start = 0
        while true {
            if start < line.count && line[start] == 34 {
                var end = start + 1, escaped = false
                while true {
                    guard end < line.count else {
                        throw DataError("\(location): a quoted field has no closing quote (quoted fields cannot span lines)")
                    }
                    if line[end] == 34 {
                        if end + 1 < line.count && line[end + 1] == 34 { escaped = true; end += 2; continue }
                        break
                    }
                    end += 1
                }
                fields.ranges.append((start + 1)..<end)
                fields.escaped.append(escaped)
                guard end + 1 == line.count || line[end + 1] == delimiter else {
                    throw DataError("\(location): text after the closing quote of field \(fields.count - 1)")
                }
                if end + 1 == line.count { return }
                start = end + 2
            } else {
                let rest = UnsafeBufferPointer(rebasing: line[start...])
                let end = rest.firstIndex(of: delimiter).map { start + ($0 - rest.startIndex) } ?? line.count
                fields.ranges.append(start..<end)
                fields.escaped.append(false)
                if end == line.count { return }
                start = end + 1
            }
        }
    }

    /// The names in the header line of the delimited file at `path`.
    public static func headerNames(path: String, delimiter: UInt8) throws -> [String] {
        var names: [String]?
        var fields = Fields()
        try LineReader(path: path).forEachLine { line, number in
            guard names == nil else { return }
            try split(line, by: delimiter, into: &fields, location: "\(path):\(number)")
            names = (0..<fields.count).map { String(decoding: fields.bytes($0, of: line), as: UTF8.self) }
            // A UTF-8 byte-order mark is no part of the first name.
            if let first = names?.first, first.hasPrefix("\u{FEFF}") { names![0] = String(first.dropFirst()) }
        }
        guard let names else { throw DataError("\(path): empty file") }
        return names
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
        var fields = Fields()
        try reader.forEachLine { line, number in
            if line.isEmpty { return }
            try split(line, by: join.delimiter, into: &fields, location: "\(join.path):\(number)")
            guard join.keyColumn < fields.count else {
                throw DataError("\(join.path):\(number): no column \(join.keyColumn) (the line has \(fields.count) fields)")
            }
            let values = (0..<fields.count).map { fields.bytes($0, of: line) }
            rows[String(decoding: values[join.keyColumn], as: UTF8.self)] = values
        }
        return JoinedTable(path: join.path, rows: rows)
    }

    /// A data line kept in memory to be processed in order.
    struct OrderedLine {
        let key: Double
        let reader: Int
        let number: Int
        let bytes: [UInt8]
        /// The line's value of the leave-last-out column (empty without one).
        let group: [UInt8]
    }

    /// The number in the `order_by` column of a line.
    static func orderValue(_ line: UnsafeBufferPointer<UInt8>, fields: Fields, column: Int, location: String) throws -> Double {
        guard column < fields.count else {
            throw DataError("\(location): no column \(column) to order by (the line has \(fields.count) fields)")
        }
        let text = String(decoding: fields.bytes(column, of: line), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw DataError("\(location): order_by column \(column) '\(text)' is not a number")
        }
        return value
    }

    /// Fills `labels` (one per task), `dense` and `ids` from one line, sets `empty` to the features
    /// (dense columns, then categorical features) whose value was empty, and `values` to each
    /// categorical value by table (a hashed value's full hash, so values sharing a row count
    /// apart; a derived feature's row; a flag block's columns holding 1). An empty or
    /// non-numeric label is an error: a line without its label cannot be a negative. A history of
    /// positives only keeps the lines whose first task is 1.
    /// With `frequencies` counting, every hashed value is counted; afterwards, values rarer than
    /// its threshold take the rare row. A history feature reads and extends `histories`.
    static func parseRecord(_ line: UnsafeBufferPointer<UInt8>, fields: Fields, schema: DelimitedSchema,
                            joined: [JoinedTable], tableRows: [Int], rowRules: [CategoricalRows], frequencies: ValueFrequencies? = nil,
                            histories: SequenceHistories, labels: inout [Float], dense: inout [Float], ids: inout [Int32],
                            empty: inout [Int], values: inout [(table: Int, value: UInt64)], location: String) throws {
        empty.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        // The joined rows of this line, found by their key columns.
        var joinedRows: [[[UInt8]]] = []
        for (j, join) in schema.joins.enumerated() {
            guard join.mainColumn < fields.count else {
                throw DataError("\(location): no column \(join.mainColumn) to join \(join.path) on (the line has \(fields.count) fields)")
            }
            let key = String(decoding: fields.bytes(join.mainColumn, of: line), as: UTF8.self)
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
            return fields.bytes(column.index, of: line)
        }
        func number(_ column: DelimitedSchema.Column, what: String) throws -> Double? {
            let value = try bytes(column)
            if value.isEmpty { return nil }
            guard let text = String(bytes: value, encoding: .utf8), let number = Double(text), number.isFinite else {
                throw DataError("\(location): \(what) '\(String(decoding: value, as: UTF8.self))' is not a number")
            }
            return number
        }

        for (k, label) in schema.labels.enumerated() {
            let what = schema.labels.count > 1 ? "label of task '\(label.task.name)'" : "label"
            guard let column = label.column else {
                labels[k] = 1
                continue
            }
            guard let value = try number(column, what: what) else {
                let join = column.join.map { " of \(schema.joins[$0].path)" } ?? ""
                throw DataError("\(location): the \(what) (column \(column.index)\(join)) is empty")
            }
            if let rule = label.rule {
                labels[k] = rule.apply(value) ? 1 : 0
            } else if label.task.kind == .regression {
                labels[k] = Float(value)
            } else {
                guard value == 0 || value == 1 else { throw DataError("\(location): \(what) must be 0 or 1, found \(value)") }
                labels[k] = Float(value)
            }
        }
        for (i, feature) in schema.dense.enumerated() {
            guard let value = try number(feature.column, what: "dense value") else {
                dense[i] = 0
                empty.append(i)
                continue
            }
            dense[i] = Float(feature.transform == .log1p ? log1p(max(value, 0)) : value)
            guard dense[i].isFinite else {
                throw DataError("\(location): dense value \(value) is beyond the range of a 32-bit float (use transform: log1p, or scale it)")
            }
        }
        var slot = 0
        /// The bytes of a categorical value: the whole value, or its first `prefix` characters.
        func categoricalBytes(_ column: DelimitedSchema.Column, prefix: Int?) throws -> [UInt8] {
            let value = try bytes(column)
            guard let text = String(bytes: value, encoding: .utf8) else {
                throw DataError("\(location): categorical column \(column.index): invalid UTF-8")
            }
            return prefix.map { Array(text.prefix($0).utf8) } ?? value
        }
        /// The row of a hashed value (by `rowRules`: empty values their row, rare ones theirs).
        func hashedRow(_ column: DelimitedSchema.Column, table t: Int, prefix: Int? = nil) throws -> Int32 {
            let value = try categoricalBytes(column, prefix: prefix)
            let hash = fnv1a(value)
            if value.isEmpty { empty.append(schema.dense.count + t) } else { values.append((t, hash)) }
            let row = value.isEmpty ? CategoricalRows.missingRow
                : frequencies?.isRare(hash, table: t) == true ? rowRules[t].rareRow : rowRules[t].row(ofHash: hash, rows: tableRows[t])
            if !value.isEmpty { frequencies?.count(hash, table: t) }
            return row
        }
        // Histories grow only once the whole line has parsed.
        var extendedHistories: [(table: Int, group: [UInt8], row: Int32)] = []
        for (t, feature) in schema.categorical.enumerated() {
            switch feature {
            case .hashed(let column, let prefix) where tableRows[t] == 0:
                // A dynamic table's key: the value's whole 64-bit hash.
                let value = try categoricalBytes(column, prefix: prefix)
                if value.isEmpty { empty.append(schema.dense.count + t) } else { values.append((t, fnv1a(value))) }
                let key = value.isEmpty ? RecordFormat.missingKey : min(fnv1a(value), RecordFormat.missingKey - 1)
                ids.withUnsafeMutableBufferPointer { RecordFormat.store(key: key, in: $0.baseAddress!, at: slot) }
                slot += 2
            case .hashed(let column, let prefix):
                ids[slot] = try hashedRow(column, table: t, prefix: prefix)
                slot += 1
            case .history(let item, let group, let maxLength, let positivesOnly, let includesCandidate):
                let row = try hashedRow(item, table: t), key = try bytes(group)
                let earlier = histories.items(table: t, group: key).suffix(includesCandidate ? maxLength - 1 : maxLength)
                for (k, id) in earlier.enumerated() { ids[slot + k] = id }
                var filled = earlier.count
                if includesCandidate {
                    ids[slot + filled] = row
                    filled += 1
                }
                for k in filled..<maxLength { ids[slot + k] = -1 }
                if !positivesOnly || labels[0] == 1 { extendedHistories.append((t, key, row)) }
                slot += maxLength
            case .derived(let column, let feature):
                let value = try bytes(column)
                if value.isEmpty {
                    ids[slot] = CategoricalRows.missingRow
                    empty.append(schema.dense.count + t)
                } else {
                    let text = String(decoding: value, as: UTF8.self)
                    guard let row = feature.row(text) else {
                        throw DataError("\(location): column \(column.index): '\(text)' is not a \(feature.expected)")
                    }
                    ids[slot] = rowRules[t].row(ofValue: UInt64(row), rows: tableRows[t])
                    values.append((t, UInt64(row)))
                }
                slot += 1
            case .flags(let join, let columns):
                var written = 0
                for (k, index) in columns.enumerated() {
                    let flag = try bytes(DelimitedSchema.Column(join: join, index: index))
                    if flag == [49] {
                        ids[slot + written] = Int32(k % tableRows[t])
                        values.append((t, UInt64(k)))
                        written += 1
                    }
                    else if !(flag == [48] || flag.isEmpty) {
                        throw DataError("\(location): flag column \(index) must be 0 or 1, found '\(String(decoding: flag, as: UTF8.self))'")
                    }
                }
                for k in written..<columns.count { ids[slot + k] = -1 }
                slot += columns.count
            }
        }
        for extended in extendedHistories {
            histories.append(extended.row, table: extended.table, group: extended.group, keeping: schema.categorical[extended.table].bagSize)
        }
    }

    /// Each categorical feature's row rules under `mapping`: hashed values (and a history's
    /// items) with a rare row when a frequency threshold applies, derived ones without.
    static func categoricalRows(_ schema: DelimitedSchema, mapping: Int, frequencyThreshold: Int) -> [CategoricalRows] {
        schema.categorical.map { feature in
            switch feature {
            case .hashed, .history: CategoricalRows(mapping: mapping, hasRareRow: frequencyThreshold > 0)
            case .derived, .flags: CategoricalRows(mapping: mapping)
            }
        }
    }

    /// 64-bit FNV-1a: a stable hash of a categorical value's bytes.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}

/// How often each hashed categorical value occurs, per table: counted in a first pass, then
/// consulted (values seen fewer than `threshold` times share the rare row).
final class ValueFrequencies {
    private var counts: [ValueCounts]
    /// True during the counting pass; set false, only the frequent values are kept.
    var isCounting = true {
        didSet { if !isCounting { counts = counts.map { $0.frequentValues() } } }
    }

    init(tables: Int, threshold: Int) {
        counts = (0..<tables).map { _ in ValueCounts(cap: threshold) }
    }

    func count(_ hash: UInt64, table: Int) {
        if isCounting { counts[table].add(hash) }
    }

    func isRare(_ hash: UInt64, table: Int) -> Bool {
        !isCounting && !counts[table].isFrequent(hash)
    }
}

/// Each group's (user's) latest items per history feature, oldest first, as the lines are read.
final class SequenceHistories {
    private var items: [Int: [[UInt8]: [Int32]]] = [:]

    func items(table: Int, group: [UInt8]) -> [Int32] { items[table]?[group] ?? [] }

    /// Appends `row` to the group's history, keeping its last `keeping - 1` items (with the
    /// line's own item a bag holds at most `keeping`).
    func append(_ row: Int32, table: Int, group: [UInt8], keeping: Int) {
        var history = items[table]?[group] ?? []
        history.append(row)
        if history.count > keeping - 1 { history.removeFirst(history.count - (keeping - 1)) }
        items[table, default: [:]][group] = history
    }
}
