@testable import Checkpointing

/// Writes deliberately wrong checkpoint files, for tests of the errors they must give.
enum CheckpointTestFiles {
    /// A `dense.h5` with the format attribute and the given format version, nothing else.
    static func writeHeaderOnly(path: String, formatVersion: Int) throws {
        let file = try HDF5File.create(path)
        try file.writeAttribute("format", string: TrainingCheckpoint.formatName)
        try file.writeAttribute("format_version", integer: formatVersion)
        try file.closeAndSync()
    }
}
