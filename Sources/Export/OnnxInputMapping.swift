import Configuration
import DataPipeline
import Foundation

/// How each input of an exported model is made from raw values, written beside the model as
/// `<model>.inputs.json` so that serving needs no recsys-dist: the ONNX inputs are row ids, and
/// this says, table by table, which column (or joined column) a row comes from and by which rule.
/// `launch/onnx_inputs.py` is the reference implementation of every rule (and is tested to give
/// the ids recsys-dist gives). Rules:
///
/// Each rule gives a value `v`; an empty value is row 0. Under value mapping 2 a table reserves
/// `reserved_rows` (1, or 2 with a frequency threshold, row 1 holding the rare values; mapping
/// 1, older models: 0): a hashed value (`hash`, `hex`) is row `v mod rows` unless that is
/// reserved, then `reserved_rows + (v div rows) mod (rows - reserved_rows)`; a computed one (the
/// other rules) is row `reserved_rows + v mod (rows - reserved_rows)` (`CategoricalRows`):
///
/// - `hash`: 64-bit FNV-1a of the value's UTF-8 bytes (of its first `prefix` characters when
///   the table has one);
/// - `hex` (Criteo): the value as a hexadecimal number;
/// - `hour_of_day`, `day_of_week` (Monday 0): of a timestamp in `timestamp_format`, UTC;
/// - `buckets`: how many `boundaries` are at or below the number;
/// - `integer`: the value as a non-negative integer;
/// - `flags`: the bag of the indices (from 0) of columns `first`...`last` holding "1";
/// - `history`: the values of a user's earlier lines, which a stateless function cannot give
///   (the caller keeps them);
/// - `id`: the value is the row (synthetic data).
///
/// With `frequency_threshold` K, values seen fewer than K times in the training files took the
/// rare row in training: the set of frequent values is not shipped, so such values differ.
enum OnnxInputMapping {
    static func json(_ configuration: TrainingConfiguration) throws -> Data {
        let d = configuration.data, rows = configuration.model.tableRows, valueMapping = d.resolvedValueMapping
        var mapping: [String: Any] = ["format": "recsys-dist onnx inputs", "version": 2, "source": d.source.rawValue,
                                      "frequency_threshold": d.frequencyThreshold, "multi_hot_sizes": d.multiHotSizes,
                                      "value_mapping": valueMapping]
        /// The rows a table keeps before its values' first.
        func reserved(derived: Bool) -> Int { CategoricalRows(mapping: valueMapping, hasRareRow: !derived && d.frequencyThreshold > 0).reserved }
        func column(_ reference: ColumnReference?) -> Any {
            switch reference {
            case .index(let index)?: return index
            case .name(let name)?: return name
            case nil: return NSNull()
            }
        }
        if let section = d.delimited, d.source == .delimited || d.source == .records {
            mapping["source"] = "delimited"
            mapping["delimiter"] = section.delimiter
            mapping["header"] = section.header ?? false
            mapping["joins"] = (section.joins ?? []).map {
                ["name": $0.name, "path": $0.path, "delimiter": $0.delimiter, "key_column": $0.keyColumn, "on_column": column($0.onColumn)]
            }
            mapping["dense"] = (section.dense ?? []).map {
                ["column": column($0.column), "join": $0.join ?? NSNull(), "transform": ($0.transform ?? .none).rawValue] as [String: Any]
            }
            mapping["tables"] = section.categorical.enumerated().map { t, feature -> [String: Any] in
                var table: [String: Any] = ["rows": rows[t], "column": column(feature.column), "join": feature.join ?? NSNull()]
                if let flags = feature.flags {
                    table["rule"] = "flags"
                    table["first"] = flags[0]
                    table["last"] = flags[1]
                } else if feature.historyOf != nil {
                    table["rule"] = "history"
                    table["group"] = column(feature.historyOf)
                } else if let transform = feature.transform {
                    table["rule"] = transform.rawValue
                    table["reserved_rows"] = reserved(derived: true)
                    if transform != .integer { table["timestamp_format"] = (feature.timestampFormat ?? .unix).rawValue }
                } else if let boundaries = feature.buckets {
                    table["rule"] = "buckets"
                    table["reserved_rows"] = reserved(derived: true)
                    table["boundaries"] = boundaries
                } else {
                    table["rule"] = "hash"
                    table["reserved_rows"] = reserved(derived: false)
                    if let prefix = feature.prefix { table["prefix"] = prefix }
                }
                return table
            }
        } else if d.source == .criteoTSV || d.source == .records {
            mapping["source"] = "criteo_tsv"
            mapping["dense"] = (0..<13).map { ["column": 1 + $0, "join": NSNull(), "transform": "log1p"] as [String: Any] }
            mapping["tables"] = rows.indices.map {
                ["rows": rows[$0], "column": 14 + $0, "join": NSNull(), "rule": "hex", "reserved_rows": reserved(derived: false)] as [String: Any]
            }
        } else {
            mapping["dense"] = (0..<d.denseFeatures).map { ["column": $0, "join": NSNull(), "transform": "none"] as [String: Any] }
            mapping["tables"] = rows.indices.map { ["rows": rows[$0], "column": NSNull(), "join": NSNull(), "rule": "id"] as [String: Any] }
        }
        return try JSONSerialization.data(withJSONObject: mapping, options: [.prettyPrinted, .sortedKeys])
    }
}
