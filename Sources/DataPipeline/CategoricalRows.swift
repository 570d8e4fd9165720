/// How a categorical value becomes a row of its table, by the value mapping that a config
/// (`data.value_mapping`), a record file and a checkpoint's config record:
///
/// - **2** (the current mapping): row 0 is the missing (empty) values' own row and, in a table
///   with a frequency threshold, row 1 the rare values'. A hashed value `h` (FNV-1a of a string,
///   a Criteo hex number) keeps row `h mod rows` unless that row is reserved, when it moves to
///   `reserved + (h div rows) mod (rows - reserved)`: every other value keeps the row it had
///   under mapping 1. A computed value `v` (an hour, a weekday, a bucket, an integer id) is row
///   `reserved + v mod (rows - reserved)`, each of the first `rows - reserved` values a row of
///   its own.
/// - **1** (records and checkpoints made before mapping 2): missing and rare values row 0, a
///   value `v mod rows`: an empty value shared row 0 with the values landing there (hour 0, the
///   first bucket, a hash).
///
/// A record file or a checkpoint keeps the mapping it was made with: raw data scored or trained
/// further against it is read by the same one.
public struct CategoricalRows: Sendable, Equatable {
    /// The mapping new data is read with.
    public static let currentMapping = 2
    /// The mappings this build reads.
    public static let mappings: ClosedRange<Int> = 1...2
    /// The row of a missing value (in every mapping).
    public static let missingRow: Int32 = 0

    public let mapping: Int
    /// The rows before the values' first: the missing row, and the rare row when there is one
    /// (none in mapping 1).
    public let reserved: Int

    /// The rows of a table whose rare values (under a frequency threshold) share a row when
    /// `hasRareRow`.
    public init(mapping: Int, hasRareRow: Bool = false) {
        precondition(Self.mappings.contains(mapping), "CategoricalRows: mapping \(mapping)")
        self.mapping = mapping
        reserved = mapping == 1 ? 0 : (hasRareRow ? 2 : 1)
    }

    /// The row of the values rarer than the frequency threshold.
    public var rareRow: Int32 { mapping == 1 ? 0 : 1 }

    /// The row of a hashed value in a table of `rows` rows (more than `reserved`): its row
    /// modulo the rows, moved by the hash's higher digits when that row is reserved.
    @inline(__always)
    public func row(ofHash hash: UInt64, rows: Int) -> Int32 {
        let row = hash % UInt64(rows)
        guard row < UInt64(reserved) else { return Int32(truncatingIfNeeded: row) }
        return Int32(truncatingIfNeeded: UInt64(reserved) + (hash / UInt64(rows)) % UInt64(rows - reserved))
    }

    /// The row of a computed value (an hour, a bucket, an integer id) in a table of `rows` rows
    /// (more than `reserved`): past the reserved rows.
    @inline(__always)
    public func row(ofValue value: UInt64, rows: Int) -> Int32 {
        Int32(truncatingIfNeeded: UInt64(reserved) + value % UInt64(rows - reserved))
    }

    /// Throws unless fixed table `table` of `rows` rows (0: a dynamic table) keeps a row for
    /// values after the reserved ones.
    public func requireRoom(inTable table: Int, rows: Int) throws {
        guard rows != 0 && rows <= reserved else { return }
        throw DataError("table \(table) has \(rows) rows: value mapping \(mapping) reserves \(reserved) "
                        + "(missing\(reserved > 1 ? " and rare" : "") values) and needs one more for the values")
    }

    /// The fewest rows a table needs to give `values` distinct values rows of their own (besides
    /// the reserved rows).
    public func rowsNeeded(forValues values: Int) -> Int { reserved + values }
}
