/// How a categorical value becomes a row of its table, by the value mapping that a config
/// (`data.value_mapping`), a record file and a checkpoint's config record:
///
/// - **2** (the current mapping): row 0 is the missing (empty) values' own row and, in a table
///   with a frequency threshold, row 1 the rare values'; any other value `v` (a hash, a
///   hexadecimal number, an hour, a bucket) is row `reserved + v mod (rows - reserved)`, so no
///   value shares the missing row;
/// - **1** (records and checkpoints made before mapping 2): missing and rare values row 0, a
///   value `v` row `v mod rows`: an empty value shared its row with the values landing on 0
///   (an hour of 0, the first bucket).
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

    /// The row of a present value in a table of `rows` rows (more than `reserved`).
    @inline(__always)
    public func row(of value: UInt64, rows: Int) -> Int32 {
        Int32(truncatingIfNeeded: UInt64(reserved) + value % UInt64(rows - reserved))
    }

    /// The fewest rows a table needs to give `values` distinct values rows of their own (besides
    /// the reserved rows).
    public func rowsNeeded(forValues values: Int) -> Int { reserved + values }
}
