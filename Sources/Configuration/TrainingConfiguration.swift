import Compute
import DataPipeline
import Distributed
import Foundation
import Models
import NeuralNetwork

/// Any key of a section, for listing the keys it holds.
struct AnyKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// The whole run, as written in a YAML config. Keys are snake_case; every section and key is
/// listed in its `CodingKeys`, which is also what unknown keys are checked against.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    public var model: ModelSection
    public var data: DataSection
    public var training: TrainingSection
    public var evaluation: EvaluationSection
    public var checkpoint: CheckpointSection
    public var distributed: DistributedSection
    public var run: RunSection

    enum CodingKeys: String, CodingKey, CaseIterable { case model, data, training, evaluation, checkpoint, distributed, run }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(ModelSection.self, forKey: .model)
        data = try container.decodeIfPresent(DataSection.self, forKey: .data) ?? DataSection()
        training = try container.decodeIfPresent(TrainingSection.self, forKey: .training) ?? TrainingSection()
        evaluation = try container.decodeIfPresent(EvaluationSection.self, forKey: .evaluation) ?? EvaluationSection()
        checkpoint = try container.decodeIfPresent(CheckpointSection.self, forKey: .checkpoint) ?? CheckpointSection()
        distributed = try container.decodeIfPresent(DistributedSection.self, forKey: .distributed) ?? DistributedSection()
        run = try container.decodeIfPresent(RunSection.self, forKey: .run) ?? RunSection()
        // A delimited schema (of the data, or of the records made from it) lists the categorical
        // features: without model.table_count, the model has one table per feature (table_rows
        // given as one number applies to each).
        let modelKeys = try container.nestedContainer(keyedBy: ModelSection.CodingKeys.self, forKey: .model)
        if data.source == .delimited || data.source == .records, let schema = data.delimited, !modelKeys.contains(.tableCount) {
            model.tableCount = schema.categorical.count
            if let single = try? modelKeys.decode(Int.self, forKey: .tableRows) {
                model.tableRows = Array(repeating: single, count: model.tableCount)
            } else if (try? modelKeys.decode(TableRowsEntry.self, forKey: .tableRows))?.isDynamic == true {
                model.tableRows = Array(repeating: model.dynamic.rule.capacity, count: model.tableCount)
                model.dynamicTables = Array(repeating: true, count: model.tableCount)
            } else if !modelKeys.contains(.tableRows) {
                model.tableRows = Array(repeating: ModelSection.defaultTableRows, count: model.tableCount)
            }
        }
        // Defaults that depend on the tables or on a schema's behaviour sequence (BST's).
        let given = Set(try container.nestedContainer(keyedBy: AnyKey.self, forKey: .model).allKeys.map(\.stringValue))
        let sequence = data.delimited?.historyFeature.map { (table: $0.index, length: $0.maxLength) }
        model.definition.complete(for: model.shape(denseFeatureCount: data.denseFeatures, taskCount: data.tasks.count),
                                  sequence: sequence, given: given)
    }
}

/// Which model, and its sizes: the keys every model shares, and the architecture's own keys
/// (`definition`, decoded by the architecture `model.architecture` names in `ModelRegistry`).
public struct ModelSection: Codable, Sendable, Equatable {
    /// The architecture and its own keys (`bottom_mlp`, `deep_mlp`, `cross_rank`, ...).
    public var definition: any ModelDefinition
    public var embeddingDimension: Int
    /// Number of embedding tables (one per categorical feature).
    public var tableCount: Int
    /// Rows of every table: one number for all, or a list with one entry per table; a dynamic
    /// table's entry is its capacity (`dynamic.capacity`, in whole buckets).
    public var tableRows: [Int]
    /// Per table, whether it is dynamic (`table_rows: dynamic`, or `dynamic` in the list): rows
    /// found by the raw id, admitted and evicted by `dynamic`'s rule.
    public var dynamicTables: [Bool]
    /// The rule of the dynamic tables.
    public var dynamic: DynamicTablesSection
    /// How a table's bag of ids is pooled: `sum` (DLRM's) or `mean`.
    public var pooling: Pooling
    static let defaultTableRows = 100_000

    /// The keys every architecture has.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case architecture
        case embeddingDimension = "embedding_dimension"
        case tableCount = "table_count"
        case tableRows = "table_rows"
        case dynamic = "dynamic_tables"
        case pooling
    }

    /// `model.architecture`'s value.
    public var architecture: String { type(of: definition).name }

    /// The shape the model is built to, with the data section's dense features and tasks.
    public func shape(denseFeatureCount: Int, taskCount: Int) -> ModelShape {
        ModelShape(denseFeatureCount: denseFeatureCount, tableRowCounts: tableRows, embeddingDimension: embeddingDimension,
                   pooling: pooling, hasDynamicTables: !dynamicTables.isEmpty, taskCount: taskCount)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .architecture)
        guard let architecture = ModelRegistry.definition(named: name) else {
            throw DecodingError.dataCorruptedError(forKey: .architecture, in: c, debugDescription:
                "'\(name)' is not one of \(ModelRegistry.names.joined(separator: ", "))")
        }
        definition = try architecture.init(from: decoder)
        embeddingDimension = try c.decodeIfPresent(Int.self, forKey: .embeddingDimension) ?? 16
        tableCount = try c.decodeIfPresent(Int.self, forKey: .tableCount) ?? 26
        dynamic = try c.decodeIfPresent(DynamicTablesSection.self, forKey: .dynamic) ?? DynamicTablesSection()
        let capacity = dynamic.rule.capacity
        if let single = try? c.decode(TableRowsEntry.self, forKey: .tableRows) {
            let count = max(tableCount, 0)
            tableRows = Array(repeating: single.rows(capacity: capacity), count: count)
            dynamicTables = Array(repeating: single.isDynamic, count: count)
        } else if let list = try c.decodeIfPresent([TableRowsEntry].self, forKey: .tableRows) {
            tableRows = list.map { $0.rows(capacity: capacity) }
            dynamicTables = list.map(\.isDynamic)
        } else {
            tableRows = Array(repeating: Self.defaultTableRows, count: max(tableCount, 0))
            dynamicTables = Array(repeating: false, count: tableRows.count)
        }
        if !dynamicTables.contains(true) { dynamicTables = [] }
        pooling = try c.decodeIfPresent(Pooling.self, forKey: .pooling) ?? .sum
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(embeddingDimension, forKey: .embeddingDimension)
        try c.encode(tableCount, forKey: .tableCount)
        if dynamicTables.isEmpty {
            try c.encode(tableRows, forKey: .tableRows)
        } else {
            try c.encode(tableRows.indices.map { TableRowsEntry(fixedRows: dynamicTables[$0] ? nil : tableRows[$0]) }, forKey: .tableRows)
            try c.encode(dynamic, forKey: .dynamic)
        }
        try c.encode(pooling, forKey: .pooling)
        try definition.encode(to: encoder)
    }

    public static func == (a: ModelSection, b: ModelSection) -> Bool {
        a.definition.isSame(as: b.definition) && a.embeddingDimension == b.embeddingDimension && a.tableCount == b.tableCount
            && a.tableRows == b.tableRows && a.dynamicTables == b.dynamicTables && a.dynamic == b.dynamic && a.pooling == b.pooling
    }
}

/// One entry of `model.table_rows`: a number of rows, or `dynamic`.
struct TableRowsEntry: Codable {
    let fixedRows: Int?

    init(fixedRows: Int?) { self.fixedRows = fixedRows }

    func encode(to encoder: Encoder) throws {
        var value = encoder.singleValueContainer()
        if let fixedRows { try value.encode(fixedRows) } else { try value.encode("dynamic") }
    }

    init(from decoder: Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let rows = try? value.decode(Int.self) {
            fixedRows = rows
        } else if try value.decode(String.self) == "dynamic" {
            fixedRows = nil
        } else {
            throw DecodingError.dataCorruptedError(in: value, debugDescription: "a number of rows or `dynamic`")
        }
    }

    var isDynamic: Bool { fixedRows == nil }
    func rows(capacity: Int) -> Int { fixedRows ?? capacity }
}

/// The rule of dynamic tables (`model.dynamic_tables`): how many rows each holds and how ids
/// get and lose them.
public struct DynamicTablesSection: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Rows of each dynamic table (all ranks together), rounded up to whole buckets.
    public var capacity = 1 << 20
    /// Rows per bucket: an id's row is looked for among its bucket's rows only.
    public var bucketRows = 64
    /// Steps an id must appear in before it gets a row of its own.
    public var minCount = 1
    /// Which row a full bucket gives up: `lru` or `lfu`.
    public var eviction: DynamicTableRule.Eviction = .lru

    enum CodingKeys: String, CodingKey, CaseIterable {
        case capacity
        case bucketRows = "bucket_rows"
        case minCount = "min_count"
        case eviction
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        capacity = try c.decodeIfPresent(Int.self, forKey: .capacity) ?? capacity
        bucketRows = try c.decodeIfPresent(Int.self, forKey: .bucketRows) ?? bucketRows
        minCount = try c.decodeIfPresent(Int.self, forKey: .minCount) ?? minCount
        eviction = try c.decodeIfPresent(DynamicTableRule.Eviction.self, forKey: .eviction) ?? eviction
    }

    /// The rule, with the capacity rounded up to whole buckets (valid once validated).
    public var rule: DynamicTableRule {
        Self.rule(capacity: capacity, bucketRows: bucketRows, minCount: minCount, eviction: eviction)
    }

    /// A rule of `capacity` rows rounded up to whole buckets.
    public static func rule(capacity: Int, bucketRows: Int = 64, minCount: Int = 1,
                            eviction: DynamicTableRule.Eviction = .lru) -> DynamicTableRule {
        let width = max(bucketRows, 2), rows = max(capacity, 1)
        return DynamicTableRule(capacity: (rows + width - 1) / width * width, bucketRows: width, minCount: minCount,
                                eviction: eviction)
    }

    public var description: String {
        "{capacity: \(capacity), bucket_rows: \(bucketRows), min_count: \(minCount), eviction: \(eviction.rawValue)}"
    }
}

extension ModelSection {
    /// The table rows records are made for: a dynamic table's 0 (its records hold raw ids).
    public var recordTableRows: [Int] {
        tableRows.indices.map { t in t < dynamicTables.count && dynamicTables[t] ? 0 : tableRows[t] }
    }

    /// Per table, the dynamic rule of a dynamic table (empty when every table is fixed).
    public var dynamicRules: [DynamicTableRule?] {
        dynamicTables.isEmpty ? [] : dynamicTables.map { $0 ? dynamic.rule : nil }
    }
}

extension DataSection {
    /// What each sample is labelled with: the synthetic model's tasks, a delimited schema's
    /// labels (that of the records made from it too), else one click.
    public var tasks: [PredictionTask] {
        switch source {
        case .synthetic: synthetic.tasks.map { PredictionTask(name: $0) }
        case .delimited, .records: delimited?.tasks ?? [.click]
        case .criteoTSV: [.click]
        }
    }
}

extension TrainingConfiguration {
    /// The shape the model is built to: the model section's tables and width, the data's dense
    /// features and tasks.
    public var modelShape: ModelShape {
        model.shape(denseFeatureCount: data.denseFeatures, taskCount: data.tasks.count)
    }
}

extension DataSection {
    /// Makes the data files' paths absolute (relative ones are relative to `folder`, the working
    /// folder at start), so the config a checkpoint stores finds them from any folder.
    mutating func makePathsAbsolute(from folder: String) {
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: folder, isDirectory: true))
                .standardizedFileURL.path
        }
        path = path.map(absolute)
        evalPath = evalPath.map(absolute)
        if let joins = delimited?.joins {
            delimited?.joins = joins.map { var join = $0; join.path = absolute(join.path); return join }
        }
    }
}

extension ModelSection {
    /// What differs from `other` ("model.table_rows: [..] here, [..] there"), key by key: the
    /// shared keys, then the architecture's own.
    public func differences(from other: ModelSection, here: String = "in the checkpoint", there: String = "in the config") -> [String] {
        func entry<T: Equatable>(_ key: String, _ mine: T, _ theirs: T) -> String? {
            mine == theirs ? nil : "model.\(key): \(mine) \(here), \(theirs) \(there)"
        }
        let shared = [entry("embedding_dimension", embeddingDimension, other.embeddingDimension),
                      entry("table_count", tableCount, other.tableCount), entry("table_rows", tableRows, other.tableRows),
                      entry("table_rows (dynamic)", dynamicTables, other.dynamicTables),
                      entry("dynamic_tables", dynamic, other.dynamic), entry("pooling", pooling.rawValue, other.pooling.rawValue)]
        let own = definition.differences(from: other.definition, here: here, there: there)
        // A different architecture is named first.
        return architecture != other.architecture ? own + shared.compactMap { $0 } : shared.compactMap { $0 } + own
    }
}

/// Where the samples come from.
public struct DataSection: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable, CaseIterable {
        /// Generated by the planted click model (`data.synthetic`).
        case synthetic
        /// Raw Criteo click logs (TSV, optionally .gz) at `path`, parsed at start-up.
        case criteoTSV = "criteo_tsv"
        /// Record files written by `recsys-dist preprocess` in the folder `path`.
        case records
        /// Any delimited text file(s) at `path`, read by the schema in `data.delimited`.
        case delimited
    }

    /// How the held-out part of a single data file is chosen.
    public enum SplitRule: String, Codable, Sendable, CaseIterable {
        /// The last `eval_fraction` of the lines (Criteo is time-ordered).
        case position
        /// A seeded random `eval_fraction` of the lines.
        case random
    }

    public var source: Source = .synthetic
    public var denseFeatures = 13
    /// Ids per sample in every table (1 = one-hot; more = multi-hot bags, sum-pooled).
    public var idsPerSample = 1
    /// Per table, the bag each one-hot id becomes (MLPerf DLRMv2's multi-hot Criteo); empty: as read.
    public var multiHotSizes: [Int] = []
    public var synthetic = SyntheticSection()
    /// The data file(s) (`criteo_tsv`: a file, or a list of files) or the record folder (`records`).
    public var path: [String] = []
    /// Held-out file(s); without them the held-out part is split off `path`.
    public var evalPath: [String] = []
    public var evalFraction = 0.2
    /// Held-out lines as a count; given, it replaces `evalFraction`.
    public var evalCount: Int?
    public var split: SplitRule = .position
    public var splitSeed = 1
    /// Categorical values seen fewer times than this share row 0 (0: off).
    public var frequencyThreshold = 0
    /// Skip and count malformed lines instead of stopping at the first.
    public var skipBadLines = false
    /// The schema of a `delimited` source.
    public var delimited: DelimitedSection?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, delimited
        case denseFeatures = "dense_features"
        case idsPerSample = "ids_per_sample"
        case multiHotSizes = "multi_hot_sizes"
        case synthetic, path
        case evalPath = "eval_path"
        case evalFraction = "eval_fraction"
        case evalCount = "eval_count"
        case split
        case splitSeed = "split_seed"
        case frequencyThreshold = "frequency_threshold"
        case skipBadLines = "skip_bad_lines"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DataSection()
        source = try c.decodeIfPresent(Source.self, forKey: .source) ?? d.source
        denseFeatures = try c.decodeIfPresent(Int.self, forKey: .denseFeatures) ?? d.denseFeatures
        idsPerSample = try c.decodeIfPresent(Int.self, forKey: .idsPerSample) ?? d.idsPerSample
        multiHotSizes = try c.decodeIfPresent([Int].self, forKey: .multiHotSizes) ?? d.multiHotSizes
        synthetic = try c.decodeIfPresent(SyntheticSection.self, forKey: .synthetic) ?? d.synthetic
        func paths(_ key: CodingKeys) throws -> [String] {
            if let one = try? c.decode(String.self, forKey: key) { return [one] }
            return try c.decodeIfPresent([String].self, forKey: key) ?? []
        }
        path = try paths(.path)
        evalPath = try paths(.evalPath)
        evalFraction = try c.decodeIfPresent(Double.self, forKey: .evalFraction) ?? d.evalFraction
        evalCount = try c.decodeIfPresent(Int.self, forKey: .evalCount)
        split = try c.decodeIfPresent(SplitRule.self, forKey: .split) ?? d.split
        splitSeed = try c.decodeIfPresent(Int.self, forKey: .splitSeed) ?? d.splitSeed
        frequencyThreshold = try c.decodeIfPresent(Int.self, forKey: .frequencyThreshold) ?? d.frequencyThreshold
        skipBadLines = try c.decodeIfPresent(Bool.self, forKey: .skipBadLines) ?? d.skipBadLines
        delimited = try c.decodeIfPresent(DelimitedSection.self, forKey: .delimited)
        // A delimited schema (of the data, or of the records made from it) lists the dense
        // columns: data.dense_features follows it unless given.
        if source == .delimited || source == .records, let delimited, !c.contains(.denseFeatures) {
            denseFeatures = delimited.dense?.count ?? 0
        }
    }
}

/// A column of a delimited file: its 0-based number, or (in a file with a header line) its name
/// in the header.
public enum ColumnReference: Codable, Sendable, Equatable, CustomStringConvertible {
    case index(Int)
    case name(String)

    public init(from decoder: Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let index = try? value.decode(Int.self) {
            self = .index(index)
        } else {
            self = .name(try value.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var value = encoder.singleValueContainer()
        switch self {
        case .index(let index): try value.encode(index)
        case .name(let name): try value.encode(name)
        }
    }

    public var description: String {
        switch self {
        case .index(let index): return "\(index)"
        case .name(let name): return "'\(name)'"
        }
    }
}

/// How to read a delimited file: its delimiter and header, the label column (with a rule that
/// makes it 0/1), the dense columns, one categorical feature per embedding table, and the files
/// joined in by key. A column is `{column: N}` (0-based, or the column's name in the header) in
/// the main file or `{join: NAME, column: N}` in a joined file. No feature reads the label's
/// column, and a column read by two features needs `reuse: true` on all but the first.
public struct DelimitedSection: Codable, Sendable, Equatable {
    /// A task's label: its column, and a rule that makes it 0/1 or `regression: true` (the
    /// number as it is). In `labels:` each names its task; `label:` is the one-task form.
    public struct Label: Codable, Sendable, Equatable {
        public var column: ColumnReference
        public var join: String?
        /// A rule such as ">= 4" (the label is 1 where it holds); without it the column is 0/1.
        public var positiveIf: String?
        /// The task's name (in results: `auc_like`); `label:` defaults to `click`.
        public var name: String?
        /// A regression task: the column's number is the label (learned by squared error).
        public var regression: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case column, join, positiveIf = "positive_if", name, regression }

        /// The task this label makes, `name` given when the config names none.
        public func task(defaultName: String) -> PredictionTask {
            PredictionTask(name: name ?? defaultName, kind: regression == true ? .regression : .binary)
        }
    }

    public struct Dense: Codable, Sendable, Equatable {
        public var column: ColumnReference
        public var join: String?
        public var transform: DelimitedSchema.DenseTransform?
        /// True when another feature reads this column too, on purpose (refused otherwise).
        public var reuse: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case column, join, transform, reuse }
    }

    /// `{column: N}`: the value, hashed; `{flags: [first, last]}`: a multi-hot bag of the
    /// indices of the 0/1 columns first...last that hold 1; `{column: N, transform:
    /// hour_of_day | day_of_week, timestamp_format: unix | iso8601 | yymmddhh}`: the hour (0-23)
    /// or weekday (0-6, Monday first) of a timestamp; `{column: N, buckets: [b1, b2, ...]}`: the
    /// bucket (0...n) of a number by ascending boundaries; `{column: N, history_of: G,
    /// max_length: L}`: a behaviour sequence, the column's values in the earlier lines of the
    /// same column-G value (a user's earlier items, in file order or `order_by` order; with
    /// `positives_only: true` those of lines labelled 1 alone), then this line's own, at most L.
    public struct Categorical: Codable, Sendable, Equatable {
        public enum Transform: String, Codable, Sendable, CaseIterable {
            case hourOfDay = "hour_of_day"
            case dayOfWeek = "day_of_week"
        }
        public var column: ColumnReference?
        public var join: String?
        public var flags: [Int]?
        public var transform: Transform?
        public var timestampFormat: DerivedFeature.TimestampFormat?
        public var buckets: [Double]?
        public var historyOf: ColumnReference?
        public var maxLength: Int?
        public var positivesOnly: Bool?
        /// True when another feature reads this column too, on purpose (refused otherwise).
        public var reuse: Bool?
        public static let defaultMaxLength = 20
        enum CodingKeys: String, CodingKey, CaseIterable {
            case column, join, flags, transform, buckets, reuse
            case timestampFormat = "timestamp_format"
            case historyOf = "history_of"
            case maxLength = "max_length"
            case positivesOnly = "positives_only"
        }
    }

    public struct Join: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        public var delimiter: String
        /// The column of the joined file that holds the key.
        public var keyColumn: Int
        /// The column of the main file whose value is looked up.
        public var onColumn: ColumnReference
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, path, delimiter
            case keyColumn = "key_column"
            case onColumn = "on_column"
        }
    }

    public var delimiter: String
    public var header: Bool?
    /// The one label of a one-task schema; `labels` lists one per task instead.
    public var label: Label?
    public var labels: [Label]?
    public var dense: [Dense]?
    public var categorical: [Categorical]
    public var joins: [Join]?
    /// A main-file column of numbers (a timestamp) that orders the lines before they are read.
    public var orderBy: ColumnReference?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case delimiter, header, label, labels, dense, categorical, joins
        case orderBy = "order_by"
    }

    /// Every label with its key (`data.delimited.label`, `data.delimited.labels[1]`), in task order.
    public var taskLabels: [(key: String, label: Label)] {
        if let labels { return labels.enumerated().map { ("data.delimited.labels[\($0)]", $1) } }
        return label.map { [("data.delimited.label", $0)] } ?? []
    }

    /// The tasks the labels make.
    public var tasks: [PredictionTask] {
        let labels = taskLabels
        return labels.isEmpty ? [.click] : labels.map { $0.label.task(defaultName: labels.count == 1 ? "click" : "") }
    }

    /// The feature that is a behaviour sequence (`history_of`), if any.
    public var historyFeature: (index: Int, maxLength: Int)? {
        categorical.firstIndex { $0.historyOf != nil }.map { ($0, categorical[$0].maxLength ?? Categorical.defaultMaxLength) }
    }
}

/// The planted click model (see `SyntheticClickModel`).
public struct SyntheticSection: Codable, Sendable, Equatable {
    /// The binary tasks each sample is labelled with: the first is the click, each other one a
    /// correlated task planted with effects of its own.
    public var tasks = ["click"]
    public var trainSamples = 200_000
    public var evalSamples = 50_000
    public var seed = 7
    public var zipfExponent = 1.05
    public var plantedIDsPerTable = 8
    public var idEffectScale = 0.8
    public var denseEffectScale = 0.6
    /// Pairs of tables whose ids interact; by default (0, 1) and (2, 3), those that exist.
    public var crosses: [[Int]]?
    public var crossScale = 1.0
    /// Distinct ids each dynamic table draws from (default: its capacity); more than the
    /// capacity makes the table evict.
    public var dynamicIDs: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case tasks
        case trainSamples = "train_samples"
        case evalSamples = "eval_samples"
        case seed
        case zipfExponent = "zipf_exponent"
        case plantedIDsPerTable = "planted_ids_per_table"
        case idEffectScale = "id_effect_scale"
        case denseEffectScale = "dense_effect_scale"
        case crosses
        case crossScale = "cross_scale"
        case dynamicIDs = "dynamic_ids"
    }

    public init() {}

    /// The crosses to plant for `tableCount` tables.
    public func plantedCrosses(tableCount: Int) -> [[Int]] {
        crosses ?? [[0, 1], [2, 3]].filter { $0.allSatisfy { $0 < tableCount } }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SyntheticSection()
        trainSamples = try c.decodeIfPresent(Int.self, forKey: .trainSamples) ?? defaults.trainSamples
        evalSamples = try c.decodeIfPresent(Int.self, forKey: .evalSamples) ?? defaults.evalSamples
        seed = try c.decodeIfPresent(Int.self, forKey: .seed) ?? defaults.seed
        zipfExponent = try c.decodeIfPresent(Double.self, forKey: .zipfExponent) ?? defaults.zipfExponent
        plantedIDsPerTable = try c.decodeIfPresent(Int.self, forKey: .plantedIDsPerTable) ?? defaults.plantedIDsPerTable
        idEffectScale = try c.decodeIfPresent(Double.self, forKey: .idEffectScale) ?? defaults.idEffectScale
        denseEffectScale = try c.decodeIfPresent(Double.self, forKey: .denseEffectScale) ?? defaults.denseEffectScale
        dynamicIDs = try c.decodeIfPresent(Int.self, forKey: .dynamicIDs)
        crosses = try c.decodeIfPresent([[Int]].self, forKey: .crosses)
        crossScale = try c.decodeIfPresent(Double.self, forKey: .crossScale) ?? defaults.crossScale
        tasks = try c.decodeIfPresent([String].self, forKey: .tasks) ?? defaults.tasks
    }
}

/// How to train.
public struct TrainingSection: Codable, Sendable, Equatable {
    /// The global batch: with N ranks each takes batch_size / N samples.
    public var batchSize = 2048
    public var epochs = 1
    /// Stop after this many steps (0: run all epochs).
    public var maxSteps = 0
    public var seed = 1
    /// Shuffle the training samples every epoch (seeded).
    public var shuffle = true
    /// Samples shuffled among themselves at a time, in blocks of consecutive samples (0: the
    /// whole dataset): for records larger than the memory that caches them.
    public var shuffleWindow = 0
    /// Threads per rank: the row-parallel kernels, the fp32 products split over them (OpenBLAS
    /// itself stays on one thread) and oneDNN's bf16 products.
    public var threads = 1
    /// Print progress every this many steps (0: never).
    public var logEvery = 100
    /// Where parameters live and the arithmetic runs: a name in `BackendRegistry`.
    public var backend = "cpu"
    /// The precision of the matrix products (fp32, or bf16 operands with fp32 accumulation).
    public var precision: MatmulPrecision = .fp32
    public var optimizer = OptimizerSection()
    public var schedule = ScheduleSection()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size"
        case epochs
        case maxSteps = "max_steps"
        case seed, shuffle, threads
        case shuffleWindow = "shuffle_window"
        case logEvery = "log_every"
        case backend, precision, optimizer, schedule
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingSection()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        maxSteps = try c.decodeIfPresent(Int.self, forKey: .maxSteps) ?? d.maxSteps
        seed = try c.decodeIfPresent(Int.self, forKey: .seed) ?? d.seed
        shuffle = try c.decodeIfPresent(Bool.self, forKey: .shuffle) ?? d.shuffle
        shuffleWindow = try c.decodeIfPresent(Int.self, forKey: .shuffleWindow) ?? d.shuffleWindow
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? d.threads
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? d.logEvery
        backend = try c.decodeIfPresent(String.self, forKey: .backend) ?? d.backend
        precision = try c.decodeIfPresent(MatmulPrecision.self, forKey: .precision) ?? d.precision
        optimizer = try c.decodeIfPresent(OptimizerSection.self, forKey: .optimizer) ?? d.optimizer
        schedule = try c.decodeIfPresent(ScheduleSection.self, forKey: .schedule) ?? d.schedule
    }
}

public struct OptimizerSection: Codable, Sendable, Equatable {
    public var algorithm: OptimizerAlgorithm = .adagrad
    public var learningRate = 0.01
    /// Defaults: 1e-10 for SGD/Adagrad, 1e-8 for Adam.
    public var epsilon: Double?
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var initialAccumulator = 0.0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case algorithm
        case learningRate = "learning_rate"
        case epsilon, beta1, beta2
        case initialAccumulator = "initial_accumulator"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = OptimizerSection()
        algorithm = try c.decodeIfPresent(OptimizerAlgorithm.self, forKey: .algorithm) ?? d.algorithm
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        epsilon = try c.decodeIfPresent(Double.self, forKey: .epsilon)
        beta1 = try c.decodeIfPresent(Double.self, forKey: .beta1) ?? d.beta1
        beta2 = try c.decodeIfPresent(Double.self, forKey: .beta2) ?? d.beta2
        initialAccumulator = try c.decodeIfPresent(Double.self, forKey: .initialAccumulator) ?? d.initialAccumulator
    }
}

public struct ScheduleSection: Codable, Sendable, Equatable {
    public var warmupSteps = 0
    public var decay: LearningRateSchedule.Decay = .none
    public var decayStartStep = 0
    public var decaySteps = 0
    /// The rate at the end of the decay, as a fraction of the base rate.
    public var finalScale = 0.0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case warmupSteps = "warmup_steps"
        case decay
        case decayStartStep = "decay_start_step"
        case decaySteps = "decay_steps"
        case finalScale = "final_scale"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ScheduleSection()
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? d.warmupSteps
        decay = try c.decodeIfPresent(LearningRateSchedule.Decay.self, forKey: .decay) ?? d.decay
        decayStartStep = try c.decodeIfPresent(Int.self, forKey: .decayStartStep) ?? d.decayStartStep
        decaySteps = try c.decodeIfPresent(Int.self, forKey: .decaySteps) ?? d.decaySteps
        finalScale = try c.decodeIfPresent(Double.self, forKey: .finalScale) ?? d.finalScale
    }
}

/// Held-out evaluation: at the end, and optionally during training.
public struct EvaluationSection: Codable, Sendable, Equatable {
    public var batchSize = 8192
    /// Evaluate on the held-out split every this many steps (0: only at the end).
    public var everySteps = 0
    /// Stop training once the held-out AUC reaches this (0: never), as MLPerf does.
    public var earlyStopAUC = 0.0
    /// The binary task whose held-out AUC early stopping and `checkpoint.keep_best` follow
    /// (default: the first).
    public var task: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size"
        case everySteps = "every_steps"
        case earlyStopAUC = "early_stop_auc"
        case task
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 8192
        everySteps = try c.decodeIfPresent(Int.self, forKey: .everySteps) ?? 0
        earlyStopAUC = try c.decodeIfPresent(Double.self, forKey: .earlyStopAUC) ?? 0
        task = try c.decodeIfPresent(String.self, forKey: .task)
    }
}

/// The run's name and its record: `<directory>/<name>-<timestamp>/` with the resolved config,
/// metrics.jsonl and TensorBoard event files.
public struct RunSection: Codable, Sendable, Equatable {
    /// Defaults to the config file's name without its extension.
    public var name: String?
    public var directory = "runs"
    /// Write the run directory (rank 0).
    public var record = true

    enum CodingKeys: String, CodingKey, CaseIterable { case name, directory, record }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? "runs"
        record = try c.decodeIfPresent(Bool.self, forKey: .record) ?? true
    }
}

/// When and where checkpoints are written.
public struct CheckpointSection: Codable, Sendable, Equatable {
    /// Runs are saved under `<directory>/<run_name>/step-<N>/`.
    public var directory = "checkpoints"
    /// Defaults to the config file's name without its extension.
    public var runName: String?
    /// Save every this many steps (0: never).
    public var everySteps = 0
    /// Save when this many seconds have passed since the last save (0: never).
    public var everySeconds = 0.0
    /// Save at the end of every epoch.
    public var atEpochEnd = false
    /// Save when training ends.
    public var saveFinal = true
    /// Keep the newest this many checkpoints (0: all).
    public var keepLast = 3
    /// Save a checkpoint whenever a held-out evaluation reaches a new best AUC, and point
    /// `<run>/best` at it (it is never removed by `keep_last`).
    public var keepBest = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case directory
        case runName = "run_name"
        case everySteps = "every_steps"
        case everySeconds = "every_seconds"
        case atEpochEnd = "at_epoch_end"
        case saveFinal = "save_final"
        case keepLast = "keep_last"
        case keepBest = "keep_best"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CheckpointSection()
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? d.directory
        runName = try c.decodeIfPresent(String.self, forKey: .runName)
        everySteps = try c.decodeIfPresent(Int.self, forKey: .everySteps) ?? d.everySteps
        everySeconds = try c.decodeIfPresent(Double.self, forKey: .everySeconds) ?? d.everySeconds
        atEpochEnd = try c.decodeIfPresent(Bool.self, forKey: .atEpochEnd) ?? d.atEpochEnd
        saveFinal = try c.decodeIfPresent(Bool.self, forKey: .saveFinal) ?? d.saveFinal
        keepLast = try c.decodeIfPresent(Int.self, forKey: .keepLast) ?? d.keepLast
        keepBest = try c.decodeIfPresent(Bool.self, forKey: .keepBest) ?? d.keepBest
    }

    /// The folder of this run's checkpoints.
    public var runDirectory: String { "\(directory)/\(runName ?? "run")" }

    /// Whether a run may write checkpoints (then it locks `runDirectory` while it trains).
    public var writesCheckpoints: Bool { saveFinal || everySteps > 0 || everySeconds > 0 || atEpochEnd || keepBest }
}

/// How embedding tables are placed when several ranks train (`mpirun -np N`).
public struct DistributedSection: Codable, Sendable, Equatable {
    public var sharding: ShardingPlan.Strategy = .auto
    /// With `auto`: tables of at most this many rows are replicated on every rank.
    public var replicateMaxRows = 1000
    /// With `auto`: tables of at least this many rows are split by rows over all ranks.
    public var rowWiseMinRows = 1_000_000
    /// The precision rows and row gradients cross the all-to-all in.
    public var exchangePrecision: ExchangePrecision = .fp32
    /// Whether the next batch's embedding requests are exchanged while a step computes.
    public var pipeline = true

    /// fp32, or a 16-bit format (rows and gradients rounded to it for the trip, fp32 again on arrival).
    public enum ExchangePrecision: String, Codable, Sendable, CaseIterable {
        case fp32, bf16, fp16

        public var format: HalfFormat? {
            switch self {
            case .fp32: nil
            case .bf16: .bf16
            case .fp16: .fp16
            }
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sharding
        case replicateMaxRows = "replicate_max_rows"
        case rowWiseMinRows = "row_wise_min_rows"
        case exchangePrecision = "exchange_precision"
        case pipeline
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DistributedSection()
        sharding = try c.decodeIfPresent(ShardingPlan.Strategy.self, forKey: .sharding) ?? d.sharding
        replicateMaxRows = try c.decodeIfPresent(Int.self, forKey: .replicateMaxRows) ?? d.replicateMaxRows
        rowWiseMinRows = try c.decodeIfPresent(Int.self, forKey: .rowWiseMinRows) ?? d.rowWiseMinRows
        exchangePrecision = try c.decodeIfPresent(ExchangePrecision.self, forKey: .exchangePrecision) ?? d.exchangePrecision
        pipeline = try c.decodeIfPresent(Bool.self, forKey: .pipeline) ?? d.pipeline
    }
}
