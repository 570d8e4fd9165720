import Foundation

/// Where parsed records go: a record file, or memory.
public protocol RecordSink: AnyObject {
    /// A label per task; `ids` holds every table's bag (one id per table for Criteo).
    func append(labels: UnsafePointer<Float>, dense: UnsafePointer<Float>, ids: UnsafePointer<Int32>) throws
}

extension RecordSink {
    /// Appends a record of a single-task sink (one click label).
    public func append(label: Float, dense: UnsafePointer<Float>, ids: UnsafePointer<Int32>) throws {
        var label = label
        try append(labels: &label, dense: dense, ids: ids)
    }
}

extension RecordWriter: RecordSink {}

/// Turns raw Criteo TSV files (plain or .gz) into records: dense counts log-transformed,
/// categorical values mapped to rows by the value mapping (`CategoricalRows`: under the current
/// one missing values take row 0, with a frequency threshold the values seen fewer times than it
/// row 1, and every other value its value modulo the rows, moved off a reserved row), split into
/// a training and a held-out part. A table of 0 rows is dynamic: it keeps each raw value as its
/// key (a missing or rare value as `RecordFormat.missingKey`).
public enum CriteoPreprocessing {
    public struct Settings: Sendable {
        public var tableRows: [Int]
        public var frequencyThreshold = 0
        public var split: HeldOutSplit = .position(fraction: 0.2)
        public var skipBadLines = false
        /// The value mapping rows are given by (`CategoricalRows`).
        public var valueMapping = CategoricalRows.currentMapping

        public init(tableRows: [Int]) { self.tableRows = tableRows }

        /// The row rules every table follows.
        var rowRules: CategoricalRows { CategoricalRows(mapping: valueMapping, hasRareRow: frequencyThreshold > 0) }

        /// Throws when a fixed table has no row left for values after the reserved ones.
        func checkRows() throws {
            for (t, rows) in tableRows.enumerated() { try rowRules.requireRoom(inTable: t, rows: rows) }
        }
    }

    /// What preprocessing did, stored beside the records.
    public struct Statistics: Codable, Sendable, Equatable {
        public var files: [String]
        public var lines: Int
        public var badLines: Int
        public var trainRecords: Int
        public var evalRecords: Int
        public var split: String
        public var tableRows: [Int]
        public var frequencyThreshold: Int
        /// The value mapping the rows were given by (`CategoricalRows`).
        public var valueMapping: Int
        /// Distinct values seen per table (counted when a frequency threshold is set).
        public var distinctValues: [Int]?
        /// Values per table mapped to the shared row for being rarer than the threshold.
        public var rareValues: [Int]?

        public init(files: [String], lines: Int, badLines: Int, trainRecords: Int, evalRecords: Int, split: String,
                    tableRows: [Int], frequencyThreshold: Int, valueMapping: Int, distinctValues: [Int]? = nil, rareValues: [Int]? = nil) {
            self.files = files
            self.lines = lines
            self.badLines = badLines
            self.trainRecords = trainRecords
            self.evalRecords = evalRecords
            self.split = split
            self.tableRows = tableRows
            self.frequencyThreshold = frequencyThreshold
            self.valueMapping = valueMapping
            self.distinctValues = distinctValues
            self.rareValues = rareValues
        }
    }

    /// `progress` shows each pass as it goes, and its closing line; `heldOutLine`, when given, is
    /// told the file and 1-based line of every held-out record.
    public static func run(paths: [String], settings: Settings, train: RecordSink, eval: RecordSink,
                           progress: ProgressOutput = .silent, heldOutLine: ((String, Int) -> Void)? = nil) throws -> Statistics {
        let tables = CriteoLineParser.categoricalCount
        guard settings.tableRows.count == tables else {
            throw DataError("Criteo data has \(tables) categorical fields, but the model has \(settings.tableRows.count) tables")
        }
        guard !paths.isEmpty else { throw DataError("no data files given") }
        try settings.checkRows()
        var evalPaths: [String] = []
        if case .files(let files) = settings.split { evalPaths = files }
        let readers = try (paths + evalPaths).map { try LineReader(path: $0) }
        for reader in readers where !reader.isCompressed {
            let size = (try? FileManager.default.attributesOfItem(atPath: reader.path)[.size] as? Int) ?? 0
            if size == 0 { throw DataError("\(reader.path): empty file") }
        }
        let trainReaders = Array(readers.prefix(paths.count)), evalReaders = Array(readers.dropFirst(paths.count))
        let meter = ReadProgress(output: progress)
        for reader in readers { reader.progress = meter }
        let trainBytes = trainReaders.reduce(0) { $0 + $1.sizeInBytes }, evalBytes = evalReaders.reduce(0) { $0 + $1.sizeInBytes }

        // Pass over the lines that decide the split and the frequencies, when needed.
        var trainLineCount = 0
        if settings.split.needsLineCount {
            meter.begin("counting lines", totalBytes: trainBytes)
            for reader in trainReaders { try reader.forEachLine { _, _ in trainLineCount += 1 } }
            try meter.end()
            if trainLineCount == 0 { throw DataError("\(paths.joined(separator: ", ")): no lines") }
        }
        var counts: [ValueCounts]?
        if settings.frequencyThreshold > 0 {
            meter.begin("counting categorical values", totalBytes: trainBytes)
            let tally = (0..<tables).map { _ in ValueCounts(cap: settings.frequencyThreshold) }
            try parseAll(trainReaders, settings: settings) { _, _, _, categorical, _, _ in count(categorical, into: tally) }
            try meter.end()
            counts = tally
        }

        var statistics = Statistics(files: paths + evalPaths, lines: 0, badLines: 0, trainRecords: 0, evalRecords: 0,
                                    split: settings.split.description, tableRows: settings.tableRows,
                                    frequencyThreshold: settings.frequencyThreshold, valueMapping: settings.valueMapping,
                                    distinctValues: counts?.map(\.count), rareValues: counts?.map { $0.count - $0.frequentCount })
        let selection = settings.split.selection(lineCount: trainLineCount)
        let encoder = RecordEncoder(settings: settings, frequent: counts?.map { $0.frequentValues() })
        counts = nil
        func write(_ sink: RecordSink, _ label: Float, _ dense: UnsafePointer<Float>, _ categorical: UnsafePointer<Int64>) throws {
            try encoder.write(to: sink, label: label, dense: dense, categorical: categorical)
        }
        meter.begin("writing records", totalBytes: trainBytes + evalBytes)
        let lines = try parseAll(trainReaders, settings: settings) { index, label, dense, categorical, path, number in
            let heldOut = selection.holdsOut(line: index)
            try write(heldOut ? eval : train, label, dense, categorical)
            if heldOut { statistics.evalRecords += 1; heldOutLine?(path, number) } else { statistics.trainRecords += 1 }
        }
        statistics.lines = lines.good + lines.bad
        statistics.badLines = lines.bad
        if !evalReaders.isEmpty {
            let held = try parseAll(evalReaders, settings: settings) { _, label, dense, categorical, path, number in
                try write(eval, label, dense, categorical)
                statistics.evalRecords += 1
                heldOutLine?(path, number)
            }
            statistics.lines += held.good + held.bad
            statistics.badLines += held.bad
        }
        try meter.end()
        return statistics
    }

    /// Counts a line's categorical values (missing ones are not values), a table each.
    @inline(__always)
    static func count(_ categorical: UnsafePointer<Int64>, into tables: [ValueCounts]) {
        for t in tables.indices where categorical[t] >= 0 { tables[t].add(UInt64(categorical[t])) }
    }

    /// One line's record: each categorical value mapped to its table's row (`CategoricalRows`:
    /// missing values, and values rarer than the threshold, their own rows), or kept whole as a
    /// dynamic table's key.
    final class RecordEncoder {
        let settings: Settings
        /// With a frequency threshold, each table's values counted (up to the threshold) over the
        /// training files: those below it are rare.
        let frequent: [ValueCounts]?
        private let slots: [Int]
        private var ids: [Int32]
        private let rowRules: CategoricalRows

        init(settings: Settings, frequent: [ValueCounts]?) {
            self.settings = settings
            rowRules = settings.rowRules
            self.frequent = frequent
            // A table of 0 rows is dynamic: its slots hold the raw value as a key.
            slots = RecordFormat.idSlots(bagSizes: Array(repeating: 1, count: settings.tableRows.count), tableRows: settings.tableRows)
            ids = [Int32](repeating: 0, count: slots.last!)
        }

        func write(to sink: RecordSink, label: Float, dense: UnsafePointer<Float>, categorical: UnsafePointer<Int64>) throws {
            let tableRows = settings.tableRows
            // The buffer taken out of the object for the loop (no exclusivity check per id).
            var ids: [Int32] = []
            swap(&ids, &self.ids)
            defer { swap(&ids, &self.ids) }
            for t in tableRows.indices {
                let value = categorical[t]
                let missing = value < 0, rare = !missing && frequent.map { !$0[t].isFrequent(UInt64(value)) } == true
                if tableRows[t] == 0 {
                    RecordFormat.store(key: missing || rare ? RecordFormat.missingKey : UInt64(value), in: &ids, at: slots[t])
                } else {
                    ids[slots[t]] = missing ? CategoricalRows.missingRow
                        : rare ? rowRules.rareRow : rowRules.row(ofHash: UInt64(value), rows: tableRows[t])
                }
            }
            try ids.withUnsafeBufferPointer { try sink.append(label: label, dense: dense, ids: $0.baseAddress!) }
        }
    }

    /// A piece of the input that one rank preprocesses alone: a whole file (always so for
    /// gzip), or the lines that start within a byte range of a plain file. The pieces depend
    /// on the files and the piece size only, never on the number of ranks.
    public struct InputUnit: Sendable, Equatable {
        public var path: String
        public var byteRange: Range<Int>?
        /// A piece of a held-out file (`split: files`): every line is held out.
        public var isHeldOut: Bool
        /// Bytes of the piece on disk (compressed bytes for a gzip file).
        public var size: Int
    }

    /// The pieces of `paths` (then of the held-out `evalPaths`), plain files cut every
    /// `pieceBytes` bytes.
    public static func units(paths: [String], evalPaths: [String], pieceBytes: Int) throws -> [InputUnit] {
        try (paths.map { ($0, false) } + evalPaths.map { ($0, true) }).flatMap { path, heldOut -> [InputUnit] in
            let reader = try LineReader(path: path)
            let size = reader.sizeInBytes
            if !reader.isCompressed && size == 0 { throw DataError("\(path): empty file") }
            guard !reader.isCompressed, size > pieceBytes else {
                return [InputUnit(path: path, byteRange: nil, isHeldOut: heldOut, size: size)]
            }
            return stride(from: 0, to: size, by: pieceBytes).map {
                InputUnit(path: path, byteRange: $0..<min($0 + pieceBytes, size), isHeldOut: heldOut, size: min(pieceBytes, size - $0))
            }
        }
    }

    /// The lines of `unit`.
    public static func countLines(of unit: InputUnit, progress: ReadProgress? = nil) throws -> Int {
        var lines = 0
        let reader = try LineReader(path: unit.path, byteRange: unit.byteRange)
        reader.progress = progress
        try reader.forEachLine { _, _ in lines += 1 }
        return lines
    }

    /// The lines of `unit`, its categorical values counted into `tables` on the way. Bad lines
    /// are skipped here whatever the settings: the pass that writes records reports them, with
    /// their line numbers.
    public static func countValues(of unit: InputUnit, settings: Settings, into tables: [ValueCounts],
                                   progress: ReadProgress? = nil) throws -> Int {
        let reader = try LineReader(path: unit.path, byteRange: unit.byteRange)
        reader.progress = progress
        var skipping = settings
        skipping.skipBadLines = true
        let lines = try parseAll([reader], settings: skipping) { _, _, _, categorical, _, _ in count(categorical, into: tables) }
        return lines.good + lines.bad
    }

    /// What preprocessing one unit wrote.
    public struct UnitCounts: Sendable {
        public var lines = 0, badLines = 0, trainRecords = 0, evalRecords = 0
    }

    /// Writes the records of `unit`'s lines: its first line is line `firstLine` of all the
    /// training files (the position the split decides by) and line `firstLineNumber` of its file
    /// (as errors and `heldOutLine` name it).
    /// `frequent`: with a frequency threshold, each table's values seen at least that often in
    /// all the training files (counted to the threshold).
    public static func preprocess(unit: InputUnit, firstLine: Int, firstLineNumber: Int, selection: HeldOutSelection,
                                  settings: Settings, frequent: [ValueCounts]? = nil, train: RecordSink, eval: RecordSink,
                                  progress: ReadProgress? = nil, heldOutLine: ((String, Int) -> Void)? = nil) throws -> UnitCounts {
        guard (settings.frequencyThreshold > 0) == (frequent != nil) else {
            throw DataError("a frequency threshold needs the values' counts, and counts need a threshold")
        }
        try settings.checkRows()
        let reader = try LineReader(path: unit.path, byteRange: unit.byteRange)
        reader.progress = progress
        let encoder = RecordEncoder(settings: settings, frequent: frequent)
        var counts = UnitCounts()
        let lines = try parseAll([reader], settings: settings, firstLineNumber: firstLineNumber) { index, label, dense, categorical, path, number in
            let heldOut = unit.isHeldOut || selection.holdsOut(line: firstLine + index)
            try encoder.write(to: heldOut ? eval : train, label: label, dense: dense, categorical: categorical)
            if heldOut { counts.evalRecords += 1; heldOutLine?(path, number) } else { counts.trainRecords += 1 }
        }
        counts.lines = lines.good + lines.bad
        counts.badLines = lines.bad
        return counts
    }

    /// Parses every line of `readers`, calling `body(position of the line among all lines of
    /// the files, label, dense, categorical, file, 1-based line number)`; bad lines throw or,
    /// when skipped, count. Positions count bad lines too, so skipping one moves no line across
    /// the split.
    @discardableResult
    static func parseAll(_ readers: [LineReader], settings: Settings, firstLineNumber: Int = 1,
                         _ body: (Int, Float, UnsafePointer<Float>, UnsafePointer<Int64>, String, Int) throws -> Void)
        throws -> (good: Int, bad: Int) {
        let parser = CriteoLineParser()
        var label: Float = 0
        var dense = [Float](repeating: 0, count: CriteoLineParser.denseCount)
        var categorical = [Int64](repeating: 0, count: CriteoLineParser.categoricalCount)
        var good = 0, bad = 0, globalLine = 0
        for reader in readers {
            try dense.withUnsafeMutableBufferPointer { dense in
                try categorical.withUnsafeMutableBufferPointer { categorical in
                    try reader.forEachLine { line, readNumber in
                        let number = readNumber + firstLineNumber - 1
                        globalLine += 1
                        do {
                            try parser.parse(line, label: &label, dense: dense.baseAddress!, categorical: categorical.baseAddress!,
                                             where: { "\(reader.path):\(number)" })
                        } catch let error as DataError {
                            guard settings.skipBadLines else { throw error }
                            bad += 1
                            return
                        }
                        try body(globalLine - 1, label, dense.baseAddress!, categorical.baseAddress!, reader.path, number)
                        good += 1
                    }
                }
            }
        }
        return (good, bad)
    }
}
