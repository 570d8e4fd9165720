import Configuration
import DataPipeline

/// What a config's inputs are called in files people read (the predictions file's header,
/// `inspect`, `plan`): a delimited column's header name (or its number), Criteo's I1...I13 and
/// C1...C26, and dense<i> / table<i> for synthetic data.
public struct FeatureNames: Sendable, Equatable {
    public var dense: [String]
    public var tables: [String]

    public init(_ configuration: TrainingConfiguration) {
        let m = configuration.model, d = configuration.data
        if let section = d.delimited, d.source == .delimited || d.source == .records {
            func name(_ column: ColumnReference?, join: String?) -> String {
                let own: String
                switch column {
                case .name(let name)?: own = name
                case .index(let index)?: own = "column\(index)"
                case nil: own = "?"
                }
                return join.map { "\($0).\(own)" } ?? own
            }
            dense = (section.dense ?? []).map { name($0.column, join: $0.join) }
            tables = section.categorical.map { feature in
                if let flags = feature.flags { return "flags\(flags.map(String.init).joined(separator: "-"))" }
                let column = name(feature.column, join: feature.join)
                if feature.historyOf != nil { return "history.\(column)" }
                if let prefix = feature.prefix { return "\(column).prefix\(prefix)" }
                return feature.transform.map { "\(column).\($0.rawValue)" } ?? (feature.buckets != nil ? "\(column).buckets" : column)
            }
        } else if d.source == .criteoTSV || d.source == .records {
            dense = (1...CriteoLineParser.denseCount).map { "I\($0)" }
            tables = (1...CriteoLineParser.categoricalCount).map { "C\($0)" }
        } else {
            dense = (0..<d.denseFeatures).map { "dense\($0)" }
            tables = (0..<m.tableCount).map { "table\($0)" }
        }
        // Sizes the schema left to the model (or a mismatch) fall back to plain numbering.
        if dense.count != d.denseFeatures { dense = (0..<d.denseFeatures).map { "dense\($0)" } }
        if tables.count != m.tableCount { tables = (0..<m.tableCount).map { "table\($0)" } }
    }
}
