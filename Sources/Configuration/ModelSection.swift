import Compute
import Models
import NeuralNetwork

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
    /// How every table stores its rows: `fp32`, or `bf16` (half the bytes; updates written back
    /// by stochastic rounding).
    public var tablePrecision: TablePrecision
    static let defaultTableRows = 100_000

    /// The keys every architecture has.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case architecture
        case embeddingDimension = "embedding_dimension"
        case tableCount = "table_count"
        case tableRows = "table_rows"
        case dynamic = "dynamic_tables"
        case pooling
        case tablePrecision = "table_precision"
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
        tablePrecision = try c.decodeIfPresent(TablePrecision.self, forKey: .tablePrecision) ?? .fp32
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
        if tablePrecision != .fp32 { try c.encode(tablePrecision, forKey: .tablePrecision) }
        try definition.encode(to: encoder)
    }

    public static func == (a: ModelSection, b: ModelSection) -> Bool {
        a.definition.isSame(as: b.definition) && a.embeddingDimension == b.embeddingDimension && a.tableCount == b.tableCount
            && a.tableRows == b.tableRows && a.dynamicTables == b.dynamicTables && a.dynamic == b.dynamic && a.pooling == b.pooling
            && a.tablePrecision == b.tablePrecision
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
