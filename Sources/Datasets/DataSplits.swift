import Compute
import Configuration
import DataPipeline
import Foundation

/// The train and held-out sets a config describes.
public struct DataSplits: Sendable {
    public let train: SampleSource
    public let evaluation: SampleSource
    /// What was read, for the log.
    public let summary: String
    /// The value mapping the samples' rows were given by (`CategoricalRows`): the records' own,
    /// or the config's for raw data.
    public let valueMapping: Int

    public init(train: SampleSource, evaluation: SampleSource, summary: String, valueMapping: Int) {
        self.train = train
        self.evaluation = evaluation
        self.summary = summary
        self.valueMapping = valueMapping
    }
}

extension DataSplits {
    /// Loads (or generates) both splits as `data` says. Every rank loads the same splits; each
    /// then reads only its slices of the batches. An empty held-out set is an error here,
    /// before any training.
    /// Raw files show each pass to `progress` as it goes.
    public static func load(_ configuration: TrainingConfiguration, progress: ProgressOutput = .silent) throws -> DataSplits {
        let splits = try loadWithoutChecks(configuration, progress: progress)
        try requireHeldOut(splits.evaluation.count, of: configuration)
        return DataSplits(train: try multiHot(splits.train, configuration), evaluation: try multiHot(splits.evaluation, configuration),
                          summary: splits.summary + (configuration.data.multiHotSizes.isEmpty ? "" : "; made multi-hot"),
                          valueMapping: splits.valueMapping)
    }

    /// `source` with its one-hot tables made multi-hot by `data.multi_hot_sizes` (as read without).
    static func multiHot(_ source: SampleSource, _ configuration: TrainingConfiguration) throws -> SampleSource {
        let sizes = configuration.data.multiHotSizes
        guard !sizes.isEmpty else { return source }
        return try MultiHotExpansion(source, sizes: sizes, tableRows: configuration.model.recordTableRows)
    }

    /// Throws when the held-out part of the data has no samples.
    public static func requireHeldOut(_ count: Int, of configuration: TrainingConfiguration) throws {
        guard count == 0 else { return }
        let d = configuration.data
        if !d.evalPath.isEmpty {
            throw DataError("\(d.evalPath.joined(separator: ", ")): the held-out set is empty (no good lines in data.eval_path)")
        }
        let asked = d.evalCount.map { "data.eval_count \($0)" } ?? "data.eval_fraction \(d.evalFraction) of the lines"
        throw DataError("\(d.path.joined(separator: ", ")): the held-out set is empty (\(asked), bad lines skipped): "
                        + "raise \(d.evalCount == nil ? "data.eval_fraction" : "data.eval_count") or fix the data")
    }

    private static func loadWithoutChecks(_ configuration: TrainingConfiguration, progress: ProgressOutput) throws -> DataSplits {
        let d = configuration.data, mapping = d.resolvedValueMapping
        switch d.source {
        case .synthetic:
            let generator = syntheticGenerator(configuration)
            let s = d.synthetic
            return DataSplits(train: generator.generate(count: s.trainSamples, stream: 0),
                              evaluation: generator.generate(count: s.evalSamples, stream: 1),
                              summary: "synthetic planted click model", valueMapping: mapping)
        case .criteoTSV:
            let bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
            let rows = configuration.model.recordTableRows
            let train = RecordBuffer(denseCount: CriteoLineParser.denseCount, bagSizes: bags, tableRows: rows, valueMapping: mapping)
            let eval = RecordBuffer(denseCount: CriteoLineParser.denseCount, bagSizes: bags, tableRows: rows, valueMapping: mapping)
            let statistics = try CriteoPreprocessing.run(paths: d.path, settings: criteoSettings(configuration),
                                                         train: train, eval: eval, progress: progress)
            var summary = "Criteo TSV \(d.path.joined(separator: ", ")): \(statistics.lines) lines"
            if statistics.badLines > 0 { summary += ", \(statistics.badLines) bad lines skipped" }
            summary += "; split \(statistics.split)"
            return DataSplits(train: train.build(name: "training part of \(d.path[0])"),
                              evaluation: eval.build(name: "held-out part of \(d.path[0])"), summary: summary, valueMapping: mapping)
        case .delimited:
            let schema = try delimitedSchema(configuration)
            let (train, eval, result) = try readDelimited(configuration, schema: schema, paths: d.path,
                                                          split: criteoSettings(configuration).split, progress: progress)
            var summary = "\(d.path.joined(separator: ", ")): \(result.lines) lines"
            if result.badLines > 0 { summary += ", \(result.badLines) bad lines skipped" }
            if result.blankLines > 0 { summary += ", \(result.blankLines) blank lines ignored" }
            summary += emptyValuesSummary(result.emptyValues, schema: schema)
            return DataSplits(train: train.build(name: "training part of \(d.path[0])"),
                              evaluation: eval.build(name: "held-out part of \(d.path[0])"), summary: summary, valueMapping: mapping)
        case .records:
            let folder = d.path[0]
            let indexPath = "\(folder)/\(ShardedPreprocessing.indexName)"
            if FileManager.default.fileExists(atPath: indexPath) {
                let decoder = JSONDecoder()
                decoder.keyDecodingStrategy = .convertFromSnakeCase
                guard let index = try? decoder.decode(ShardedPreprocessing.Index.self, from: Data(contentsOf: URL(fileURLWithPath: indexPath))) else {
                    throw DataError("\(indexPath): not an index of record shards")
                }
                guard !index.pieces.isEmpty else { throw DataError("\(indexPath): lists no pieces") }
                // Each shard is a file of this folder holding the records the index counts for it.
                func shards(_ names: [String], counts: [Int]) throws -> RecordShards {
                    try RecordShards(try zip(names, counts).map { name, count in
                        guard !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
                            throw DataError("\(indexPath): shard name '\(name)' is not a file name of this folder")
                        }
                        let shard = try records("\(folder)/\(name)", for: configuration)
                        guard shard.count == count else {
                            throw DataError("\(folder)/\(name): \(shard.count) records, the index lists \(count) "
                                            + "(a shard of another output?): preprocess again")
                        }
                        return shard
                    })
                }
                let train = try shards(index.trainShards, counts: index.pieces.map(\.trainRecords))
                let evaluation = try shards(index.evalShards, counts: index.pieces.map(\.evalRecords))
                return DataSplits(train: train, evaluation: evaluation, summary: "records in \(folder) (\(index.pieces.count) shards)",
                                  valueMapping: try sameValueMapping(train.shards + evaluation.shards, folder: folder))
            }
            let train = try records("\(folder)/train.rsd", for: configuration)
            let evaluation = try records("\(folder)/eval.rsd", for: configuration)
            return DataSplits(train: train, evaluation: evaluation, summary: "records in \(folder)",
                              valueMapping: try sameValueMapping([train, evaluation], folder: folder))
        }
    }

    /// The held-out data of a config, or the whole of the file `path` (what `evaluate --data`
    /// scores), in the format `format(of:)` finds.
    public static func loadEvaluation(_ configuration: TrainingConfiguration, path: String?) throws -> SampleSource {
        guard let path else { return try load(configuration).evaluation }
        return try multiHot(try loadFile(configuration, path: path), configuration)
    }

    private static func loadFile(_ configuration: TrainingConfiguration, path: String) throws -> SampleSource {
        switch try format(of: path, configuration) {
        case .synthetic:
            throw ConfigurationError("--data \(path): the model was trained on synthetic data; name data.source to read a file")
        case .records:
            return try records(path, for: configuration)
        case .criteoTSV:
            var settings = criteoSettings(configuration)
            settings.split = .all
            let bags = Array(repeating: 1, count: CriteoLineParser.categoricalCount)
            let unused = RecordBuffer(denseCount: CriteoLineParser.denseCount, bagSizes: bags, tableRows: configuration.model.recordTableRows)
            let eval = RecordBuffer(denseCount: CriteoLineParser.denseCount, bagSizes: bags, tableRows: configuration.model.recordTableRows)
            _ = try CriteoPreprocessing.run(paths: [path], settings: settings, train: unused, eval: eval)
            return eval.build(name: path)
        case .delimited:
            let schema = try delimitedSchema(configuration, headerFile: path)
            return try readDelimited(configuration, schema: schema, paths: [path], split: .all).eval.build(name: path)
        }
    }

    /// The format of a file to score: a record file by its magic bytes; text in the config's
    /// raw format, or, for a model trained on records, delimited when the config has a schema
    /// (the one its records were made with) and Criteo TSV otherwise.
    static func format(of path: String, _ configuration: TrainingConfiguration) throws -> DataSection.Source {
        try RegularFile.check(path)
        let handle = FileHandle(forReadingAtPath: path)
        let start = (try? handle?.read(upToCount: RecordFormat.magic.count)) ?? nil
        try? handle?.close()
        if let start, [UInt8](start) == RecordFormat.magic { return .records }
        switch configuration.data.source {
        case .criteoTSV, .delimited, .synthetic: return configuration.data.source
        case .records: return configuration.data.delimited == nil ? .criteoTSV : .delimited
        }
    }

    /// The value mapping every one of `files` (of one folder) was made with.
    static func sameValueMapping(_ files: [RecordDataset], folder: String) throws -> Int {
        let mapping = files[0].valueMapping
        if let other = files.first(where: { $0.valueMapping != mapping }) {
            throw DataError("\(folder): \(files[0].path) has value mapping \(mapping), \(other.path) \(other.valueMapping) "
                            + "(records of two preprocessing runs): preprocess again")
        }
        return mapping
    }

    /// The record file at `path`, refused unless it was made for the config's model: the same
    /// dense features, tasks, tables and table rows (ids beyond a table's rows would read memory
    /// outside it), and, when the config names one, the same value mapping.
    static func records(_ path: String, for configuration: TrainingConfiguration) throws -> RecordDataset {
        let dataset = try RecordDataset(path: path), model = configuration.model
        if let mapping = configuration.data.valueMapping, mapping != dataset.valueMapping {
            throw DataError("\(path): records made with value mapping \(dataset.valueMapping), the model's data used mapping \(mapping) "
                            + "(data.value_mapping): the same value would be a different row; preprocess again with this config")
        }
        guard dataset.denseFeatureCount == configuration.data.denseFeatures, dataset.tableCount == model.tableCount else {
            throw DataError("\(path): records have \(dataset.denseFeatureCount) dense features and \(dataset.tableCount) tables; "
                            + "the config has \(configuration.data.denseFeatures) (data.dense_features) and \(model.tableCount) (model.table_count)")
        }
        guard dataset.tasks == configuration.data.tasks else {
            func names(_ tasks: [PredictionTask]) -> String { tasks.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", ") }
            throw DataError("\(path): records hold the labels of \(names(dataset.tasks)); the config's are \(names(configuration.data.tasks)) "
                            + "(data.delimited.labels; preprocess again with this config)")
        }
        guard dataset.tableRows == model.recordTableRows else {
            let table = zip(dataset.tableRows, model.recordTableRows).enumerated().first { $0.element.0 != $0.element.1 }!.offset
            func rows(_ count: Int) -> String { count == 0 ? "dynamic" : "\(count)" }
            throw DataError("\(path): records were made for \(rows(dataset.tableRows[table])) rows in table \(table), the config's "
                            + "model.table_rows gives \(rows(model.recordTableRows[table])) (preprocess again with this config, or set model.table_rows "
                            + "to the records' sizes)")
        }
        return dataset
    }

    /// The preprocessing a config asks for (table sizes, frequency threshold, split, bad lines).
    public static func criteoSettings(_ configuration: TrainingConfiguration) -> CriteoPreprocessing.Settings {
        let d = configuration.data
        var settings = CriteoPreprocessing.Settings(tableRows: configuration.model.recordTableRows)
        settings.frequencyThreshold = d.frequencyThreshold
        settings.valueMapping = d.resolvedValueMapping
        settings.skipBadLines = d.skipBadLines
        let amount: HeldOutSplit.Amount = d.evalCount.map { .count($0) } ?? .fraction(d.evalFraction)
        if !d.evalPath.isEmpty {
            settings.split = .files(d.evalPath)
        } else {
            switch d.split {
            case .position: settings.split = .position(amount)
            case .random: settings.split = .random(amount, seed: UInt64(d.splitSeed))
            case .lastPerUser: settings.split = .lastPerUser
            }
        }
        return settings
    }

    /// The schema of `data.delimited`, with its join names and column names resolved (names
    /// from the header line of `headerFile`, by default the first data file).
    public static func delimitedSchema(_ configuration: TrainingConfiguration, headerFile: String? = nil) throws -> DelimitedSchema {
        guard let section = configuration.data.delimited else {
            throw ConfigurationError("key 'data.delimited': required when data.source is delimited")
        }
        let joins = section.joins ?? []
        let separator = try delimiter(section.delimiter, "data.delimited.delimiter")
        var header: [String]?
        /// The 0-based number of a column of the main file (`join` nil) or a joined file.
        func columnNumber(_ column: ColumnReference, join: Int?, _ key: String) throws -> Int {
            switch column {
            case .index(let number):
                guard number >= 0 else { throw ConfigurationError("key '\(key)': a column number is 0 or more, got \(number)") }
                return number
            case .name(let name):
                guard join == nil, section.header == true, let path = headerFile ?? configuration.data.path.first else {
                    throw ConfigurationError("key '\(key)': columns are named only in a main file with a header line "
                                             + "(data.delimited.header: true); give its 0-based number")
                }
                if header == nil { header = try DelimitedPreprocessing.headerNames(path: path, delimiter: separator) }
                guard let number = header!.firstIndex(of: name) else {
                    throw ConfigurationError("key '\(key)': no column '\(name)' in the header of \(path) "
                                             + "(columns: \(header!.joined(separator: ", ")))")
                }
                let numbers = header!.indices.filter { header![$0] == name }
                guard numbers.count == 1 else {
                    throw ConfigurationError("key '\(key)': the header of \(path) names columns \(numbers.map(String.init).joined(separator: " and ")) "
                                             + "'\(name)'; give the column's 0-based number")
                }
                return number
            }
        }
        func joinIndex(_ name: String?, _ key: String) throws -> Int? {
            guard let name else { return nil }
            guard let index = joins.firstIndex(where: { $0.name == name }) else {
                throw ConfigurationError("key '\(key).join': no join named '\(name)' in data.delimited.joins")
            }
            return index
        }
        let tasks = section.tasks
        var labels: [(label: DelimitedSchema.Label, key: String)] = []
        for (k, (key, label)) in section.taskLabels.enumerated() {
            var rule: DelimitedSchema.LabelRule?
            if let text = label.positiveIf {
                guard let parsed = DelimitedSchema.LabelRule(text) else {
                    throw ConfigurationError("key '\(key).positive_if': expected a comparison such as '>= 4', got '\(text)'")
                }
                rule = parsed
            }
            let join = try joinIndex(label.join, key)
            let column = DelimitedSchema.Column(join: join, index: try columnNumber(label.column, join: join, "\(key).column"))
            labels.append((DelimitedSchema.Label(task: tasks[k], column: column, rule: rule), key))
        }
        // A retriever learns from interactions: without a label every line is one.
        if labels.isEmpty && configuration.model.definition.retrieval != nil {
            labels = [(DelimitedSchema.Label(task: tasks[0], column: nil, rule: nil), "data.delimited.label")]
        }
        let dense = try section.dense.map { columns in
            try columns.enumerated().map { number, column -> (column: DelimitedSchema.Column, transform: DelimitedSchema.DenseTransform) in
                let key = "data.delimited.dense[\(number)]", join = try joinIndex(column.join, key)
                return (column: DelimitedSchema.Column(join: join, index: try columnNumber(column.column, join: join, "\(key).column")),
                        transform: column.transform ?? .none)
            }
        } ?? []
        let categorical = try section.categorical.enumerated().map { index, feature -> DelimitedSchema.Categorical in
            let key = "data.delimited.categorical[\(index)]"
            let join = try joinIndex(feature.join, key)
            if let flags = feature.flags {
                guard flags.count == 2, flags[0] >= 0, flags[0] <= flags[1], feature.column == nil else {
                    throw ConfigurationError("key '\(key).flags': expected [first, last] column numbers (and no column), got \(flags)")
                }
                return .flags(join: join, columns: flags[0]...flags[1])
            }
            guard let column = feature.column else { throw ConfigurationError("key '\(key)': needs a column (or flags)") }
            let source = DelimitedSchema.Column(join: join, index: try columnNumber(column, join: join, "\(key).column"))
            if let group = feature.historyOf {
                guard join == nil, feature.transform == nil, feature.buckets == nil else {
                    throw ConfigurationError("key '\(key).history_of': a history reads a main-file column as it is "
                                             + "(no join, transform or buckets)")
                }
                let maxLength = feature.maxLength ?? DelimitedSection.Categorical.defaultMaxLength
                guard maxLength >= 1 && maxLength <= 1024 else {
                    throw ConfigurationError("key '\(key).max_length': must be in 1...1024, got \(maxLength)")
                }
                return .history(item: source, group: DelimitedSchema.Column(index: try columnNumber(group, join: nil, "\(key).history_of")),
                                 maxLength: maxLength, positivesOnly: feature.positivesOnly ?? false,
                                 includesCandidate: feature.includesCandidate ?? true)
            }
            guard feature.maxLength == nil, feature.positivesOnly == nil, feature.includesCandidate == nil else {
                throw ConfigurationError("key '\(key)': max_length, positives_only and includes_candidate go with history_of")
            }
            if let prefix = feature.prefix {
                guard prefix >= 1 else { throw ConfigurationError("key '\(key).prefix': at least 1 character, got \(prefix)") }
                guard feature.transform == nil, feature.buckets == nil else {
                    throw ConfigurationError("key '\(key).prefix': a prefix is hashed as a value is (no transform or buckets)")
                }
            }
            let format = feature.timestampFormat ?? .unix
            switch (feature.transform, feature.buckets) {
            case (nil, nil): return .hashed(source, prefix: feature.prefix)
            case (.hourOfDay, nil): return .derived(source, .hourOfDay(format))
            case (.dayOfWeek, nil): return .derived(source, .dayOfWeek(format))
            case (.integer, nil): return .derived(source, .integer)
            case (nil, let boundaries?):
                guard !boundaries.isEmpty, zip(boundaries, boundaries.dropFirst()).allSatisfy({ $0 < $1 }) else {
                    throw ConfigurationError("key '\(key).buckets': expected ascending boundaries, got \(boundaries)")
                }
                return .derived(source, .buckets(boundaries))
            case (_?, _?): throw ConfigurationError("key '\(key)': a transform or buckets, not both")
            }
        }
        for (t, feature) in categorical.enumerated() where configuration.model.recordTableRows.indices.contains(t)
            && configuration.model.recordTableRows[t] == 0 {
            guard case .hashed = feature else {
                throw ConfigurationError("key 'data.delimited.categorical[\(t)]': a dynamic table reads a plain categorical column "
                                         + "(hashed to a 64-bit id), not flags, buckets or a history")
            }
        }
        if section.header == true, header == nil, let path = headerFile ?? configuration.data.path.first {
            header = try DelimitedPreprocessing.headerNames(path: path, delimiter: separator)
        }
        try checkColumnUses(section: section, labels: labels.compactMap { label in label.label.column.map { ($0, label.key) } }, dense: dense.map(\.column),
                            categorical: categorical, header: header, joinNames: joins.map(\.name))
        var schema = DelimitedSchema(delimiter: separator, hasHeader: section.header ?? false, labels: labels.map(\.label),
                               dense: dense, categorical: categorical,
                               joins: try joins.enumerated().map { index, join in
                                   DelimitedSchema.Join(path: join.path, delimiter: try delimiter(join.delimiter, "data.delimited.joins[\(index)].delimiter"),
                                                        keyColumn: join.keyColumn,
                                                        mainColumn: try columnNumber(join.onColumn, join: nil, "data.delimited.joins[\(index)].on_column"))
                               },
                               orderBy: try section.orderBy.map { DelimitedSchema.Column(index: try columnNumber($0, join: nil, "data.delimited.order_by")) })
        schema.userColumn = try section.userColumn.map { try columnNumber($0, join: nil, "data.delimited.user_column") }
        return schema
    }

    /// Refuses a feature that reads the label's column (it would train to a perfect, meaningless
    /// AUC), a history grouped by the label, and a column read by two features unless one of
    /// them says `reuse: true`, naming the key and the column.
    static func checkColumnUses(section: DelimitedSection, labels: [(column: DelimitedSchema.Column, key: String)],
                                dense: [DelimitedSchema.Column], categorical: [DelimitedSchema.Categorical], header: [String]?,
                                joinNames: [String]) throws {
        func describe(_ column: DelimitedSchema.Column) -> String {
            if let join = column.join { return "column \(column.index) of join '\(joinNames[join])'" }
            if let header, header.indices.contains(column.index) { return "column \(column.index) ('\(header[column.index])')" }
            return "column \(column.index)"
        }
        var reads: [(column: DelimitedSchema.Column, key: String, reuse: Bool)] = []
        for (i, column) in dense.enumerated() {
            reads.append((column, "data.delimited.dense[\(i)].column", section.dense?[i].reuse ?? false))
        }
        for (t, feature) in categorical.enumerated() {
            let key = "data.delimited.categorical[\(t)]", reuse = section.categorical[t].reuse ?? false
            switch feature {
            case .hashed(let column, _), .derived(let column, _):
                reads.append((column, "\(key).column", reuse))
            case .flags(let join, let columns):
                reads += columns.map { (DelimitedSchema.Column(join: join, index: $0), "\(key).flags", reuse) }
            case .history(let item, let group, _, _, _):
                reads.append((item, "\(key).column", reuse))
                if let label = labels.first(where: { $0.column == group }) {
                    throw ConfigurationError("key '\(key).history_of': \(describe(group)) is the label (\(label.key)): "
                                             + "histories grouped by the label reveal it")
                }
            }
        }
        // With a header, a main-file column past its last is the key's mistake, not the data's.
        if let header {
            for read in reads + labels.map({ ($0.column, "\($0.key).column", false) })
            where read.column.join == nil && read.column.index >= header.count {
                throw ConfigurationError("key '\(read.key)': column \(read.column.index) is past the last column of the data "
                                         + "(its header has \(header.count): \(header.joined(separator: ", ")))")
            }
        }
        for (r, read) in reads.enumerated() {
            if let label = labels.first(where: { $0.column == read.column }) {
                throw ConfigurationError("key '\(read.key)': \(describe(read.column)) is the label (\(label.key)); "
                                         + "a label used as a feature trains to a perfect, meaningless AUC")
            }
            if let earlier = reads[..<r].first(where: { $0.column == read.column }), !read.reuse && !earlier.reuse {
                throw ConfigurationError("key '\(read.key)': \(describe(read.column)) is already read by \(earlier.key); "
                                         + "set reuse: true on this feature if both are meant")
            }
        }
    }

    /// The features of a delimited schema by key (`dense[0]`, `categorical[3]`), in the order of
    /// `DelimitedPreprocessing.Result.emptyValues`.
    public static func featureKeys(_ schema: DelimitedSchema) -> [String] {
        schema.dense.indices.map { "dense[\($0)]" } + schema.categorical.indices.map { "categorical[\($0)]" }
    }

    /// "; empty values: dense[0] 12, categorical[3] 40" for the features that had any, else "".
    static func emptyValuesSummary(_ counts: [Int], schema: DelimitedSchema) -> String {
        let empty = zip(featureKeys(schema), counts).filter { $0.1 > 0 }
        guard !empty.isEmpty else { return "" }
        return "; empty values: " + empty.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
    }

    /// "distinct values per table (rows → rows that would do): site 13 (50 → 32), ..." by the
    /// config's feature names; a table sized for ten times its values or more is marked.
    public static func tableSizeAdvice(distinct: [Int], configuration: TrainingConfiguration) -> String {
        let names = FeatureNames(configuration).tables, rows = configuration.model.recordTableRows
        let tables = distinct.indices.map { t -> String in
            let suggested = DelimitedPreprocessing.Result.suggestedRows(distinct: distinct[t])
            let name = names.indices.contains(t) ? names[t] : "table\(t)"
            guard rows.indices.contains(t), rows[t] > 0 else { return "\(name) \(distinct[t]) (dynamic)" }
            return "\(name) \(distinct[t]) (\(rows[t]) → \(suggested)\(rows[t] >= 10 * suggested ? ", oversized" : ""))"
        }
        return "distinct values per table (model.table_rows → rows that would do): " + tables.joined(separator: ", ")
    }

    /// Distinct values per categorical feature of a delimited config's data (every file read
    /// once, as training reads it); nil for other sources.
    public static func distinctValues(_ configuration: TrainingConfiguration) throws -> [Int]? {
        guard configuration.data.source == .delimited else { return nil }
        return try readDelimited(configuration, schema: try delimitedSchema(configuration), paths: configuration.data.path,
                                 split: criteoSettings(configuration).split).result.distinctValues
    }

    /// `paths` read by `schema` into in-memory records, split as `split` says, with the config's
    /// table sizes, bad-line rule and frequency threshold.
    private static func readDelimited(_ configuration: TrainingConfiguration, schema: DelimitedSchema, paths: [String],
                                      split: HeldOutSplit, progress: ProgressOutput = .silent)
        throws -> (train: RecordBuffer, eval: RecordBuffer, result: DelimitedPreprocessing.Result) {
        let d = configuration.data, rows = configuration.model.recordTableRows, mapping = d.resolvedValueMapping
        let train = RecordBuffer(tasks: schema.tasks, denseCount: schema.dense.count, bagSizes: schema.bagSizes, tableRows: rows,
                                 valueMapping: mapping)
        let eval = RecordBuffer(tasks: schema.tasks, denseCount: schema.dense.count, bagSizes: schema.bagSizes, tableRows: rows,
                                valueMapping: mapping)
        let result = try DelimitedPreprocessing.run(paths: paths, schema: schema, tableRows: rows, split: split, skipBadLines: d.skipBadLines,
                                                    frequencyThreshold: d.frequencyThreshold, valueMapping: mapping,
                                                    train: train, eval: eval, progress: progress)
        return (train, eval, result)
    }

    /// A retriever's catalogue file (`data.catalogue`) as samples, one per line: each line's item
    /// id put in the item column of the interactions' first data line, read by the config's
    /// schema, so the joins on the item column give the item's features (the user's fields, from
    /// that first line, are not read by the item tower). Nil without a catalogue file.
    public static func loadCatalogue(_ configuration: TrainingConfiguration) throws -> SampleSource? {
        guard let catalogue = configuration.data.catalogue, let retrieval = configuration.model.definition.retrieval else { return nil }
        guard configuration.data.source == .delimited, let path = configuration.data.path.first else {
            throw ConfigurationError("key 'data.catalogue': a catalogue file is read with the interactions' delimited schema "
                                     + "(data.source: delimited)")
        }
        let schema = try delimitedSchema(configuration)
        // The interactions' item column, and item features that a catalogue line can give.
        let itemColumn: Int
        switch schema.categorical[retrieval.itemKeyTable] {
        case .hashed(let column, _) where column.join == nil, .derived(let column, _) where column.join == nil: itemColumn = column.index
        default:
            throw ConfigurationError("key 'data.catalogue': the item table (data.delimited.categorical[\(retrieval.itemKeyTable)]) "
                                     + "must read the item's id from a main-file column")
        }
        for t in retrieval.itemTables {
            let readsItemColumn: Bool
            switch schema.categorical[t] {
            case .hashed(let column, _), .derived(let column, _):
                readsItemColumn = column.join.map { schema.joins[$0].mainColumn == itemColumn } ?? (column.index == itemColumn)
            case .flags(let join, _): readsItemColumn = join.map { schema.joins[$0].mainColumn == itemColumn } ?? false
            case .history: readsItemColumn = false
            }
            guard readsItemColumn else {
                throw ConfigurationError("key 'data.catalogue': item table \(t) (data.delimited.categorical[\(t)]) reads another column "
                                         + "of the interactions; a catalogue line gives the item's id alone: join the item's features on it")
            }
        }
        let separator = try delimiter(catalogue.delimiter, "data.catalogue.delimiter")
        let mainSeparator = try delimiter(configuration.data.delimited!.delimiter, "data.delimited.delimiter")
        // The interactions' header and first data line (the template of every catalogue line).
        var header: [UInt8]?, template: [[UInt8]]?
        try LineReader(path: path).forEachLine { line, number in
            guard template == nil, !line.isEmpty else { return }
            if schema.hasHeader && header == nil { header = Array(line); return }
            template = line.split(separator: mainSeparator, omittingEmptySubsequences: false).map(Array.init)
        }
        guard var fields = template, itemColumn < fields.count else {
            throw DataError("\(path): no data line to make the catalogue's lines from (its item column \(itemColumn))")
        }
        var lines: [UInt8] = header.map { $0 + [10] } ?? [], items = 0
        try LineReader(path: catalogue.path).forEachLine { line, number in
            if (catalogue.header == true && number == 1) || line.isEmpty { return }
            let cells = line.split(separator: separator, omittingEmptySubsequences: false)
            guard catalogue.itemColumn < cells.count, !cells[catalogue.itemColumn].isEmpty else {
                throw DataError("\(catalogue.path):\(number): no item id in column \(catalogue.itemColumn) (data.catalogue.item_column)")
            }
            fields[itemColumn] = Array(cells[catalogue.itemColumn])
            lines += Array(fields.joined(separator: [mainSeparator])) + [10]
            items += 1
        }
        guard items > 0 else { throw DataError("\(catalogue.path): no items") }
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-catalogue-\(UUID().uuidString).txt").path
        guard FileManager.default.createFile(atPath: temporary, contents: Data(lines)) else { throw DataError("\(temporary): cannot write") }
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        do {
            return try readDelimited(configuration, schema: schema, paths: [temporary], split: .all).eval.build(name: catalogue.path)
        } catch let error as DataError {
            throw DataError(error.message.replacingOccurrences(of: temporary, with: "\(catalogue.path) (an item as an interaction)"))
        }
    }

    /// The byte of a one-character delimiter setting.
    static func delimiter(_ text: String, _ key: String) throws -> UInt8 {
        let bytes = Array(text.utf8)
        guard bytes.count == 1 else { throw ConfigurationError("key '\(key)': must be one character, got '\(text)'") }
        return bytes[0]
    }

    static func syntheticGenerator(_ configuration: TrainingConfiguration) -> SyntheticClickModel {
        let s = configuration.data.synthetic
        var settings = SyntheticClickModel.Settings()
        settings.denseFeatureCount = configuration.data.denseFeatures
        let m = configuration.model
        settings.tableRowCounts = m.tableRows.indices.map { m.recordTableRows[$0] == 0 ? s.dynamicIDs ?? m.tableRows[$0] : m.tableRows[$0] }
        settings.keyedTables = m.recordTableRows.map { $0 == 0 }
        settings.idsPerSample = configuration.data.idsPerSample
        settings.tasks = configuration.data.tasks
        settings.zipfExponent = s.zipfExponent
        settings.plantedIDsPerTable = s.plantedIDsPerTable
        settings.idEffectScale = s.idEffectScale
        settings.denseEffectScale = s.denseEffectScale
        settings.crosses = s.plantedCrosses(tableCount: configuration.model.tableCount)
        settings.crossScale = s.crossScale
        settings.seed = UInt64(s.seed)
        return SyntheticClickModel(settings)
    }
}
