import Compute
import DataPipeline

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

    /// `{column: N}`: the value, hashed (`{column: N, prefix: P}`: its first P characters,
    /// hashed); `{column: N, transform: integer}`: the value as a
    /// non-negative integer, modulo the table's rows (ids numbered already: one row each, no
    /// hashing collisions); `{flags: [first, last]}`: a multi-hot bag of the
    /// indices of the 0/1 columns first...last that hold 1; `{column: N, transform:
    /// hour_of_day | day_of_week, timestamp_format: unix | iso8601 | yymmddhh}`: the hour (0-23)
    /// or weekday (0-6, Monday first) of a timestamp; `{column: N, buckets: [b1, b2, ...]}`: the
    /// bucket (0...n) of a number by ascending boundaries; `{column: N, history_of: G,
    /// max_length: L}`: a behaviour sequence, the column's values in the earlier lines of the
    /// same column-G value (a user's earlier items, in file order or `order_by` order; with
    /// `positives_only: true` those of lines labelled 1 alone), then this line's own (not with
    /// `includes_candidate: false`), at most L.
    public struct Categorical: Codable, Sendable, Equatable {
        public enum Transform: String, Codable, Sendable, CaseIterable {
            case hourOfDay = "hour_of_day"
            case dayOfWeek = "day_of_week"
            case integer
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
        /// Whether a history ends with the line's own item (the candidate; default true); false
        /// for a retriever's user history, whose own item is the target.
        public var includesCandidate: Bool?
        /// Hash only the value's first this many characters (a zip code's region).
        public var prefix: Int?
        /// True when another feature reads this column too, on purpose (refused otherwise).
        public var reuse: Bool?
        public static let defaultMaxLength = 20
        enum CodingKeys: String, CodingKey, CaseIterable {
            case column, join, flags, transform, buckets, prefix, reuse
            case timestampFormat = "timestamp_format"
            case historyOf = "history_of"
            case maxLength = "max_length"
            case positivesOnly = "positives_only"
            case includesCandidate = "includes_candidate"
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
    /// The main-file column naming each line's user, for `data.split: last_per_user`.
    public var userColumn: ColumnReference?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case delimiter, header, label, labels, dense, categorical, joins
        case orderBy = "order_by"
        case userColumn = "user_column"
    }

    /// Every label with its key (`data.delimited.label`, `data.delimited.labels[1]`), in task order.
    public var taskLabels: [(key: String, label: Label)] {
        if let labels { return labels.enumerated().map { ("data.delimited.labels[\($0)]", $1) } }
        return label.map { [("data.delimited.label", $0)] } ?? []
    }

    /// The tasks the labels make.
    public var tasks: [PredictionTask] {
        let labels = taskLabels
        return labels.isEmpty ? [.interaction] : labels.map { $0.label.task(defaultName: labels.count == 1 ? "click" : "") }
    }

    /// The feature that is a behaviour sequence (`history_of`), if any.
    public var historyFeature: (index: Int, maxLength: Int)? {
        categorical.firstIndex { $0.historyOf != nil }.map { ($0, categorical[$0].maxLength ?? Categorical.defaultMaxLength) }
    }
}
