import Foundation
import NeuralNetwork

/// A saved model: a directory `<run>/step-<N>/` holding `dense.h5` (every dense parameter at its
/// arena path under `/dense`, plus the step, the samples seen, the config text and the format
/// version as root attributes) and `embeddings-rank<r>.h5` (each table's rows at
/// `/<table name>/weights`, shape (rows, dimension)). The directory is written under a temporary
/// name and renamed when complete, then `<run>/latest` is pointed at it, so a crash mid-write
/// leaves the previous checkpoint intact.
public enum ModelCheckpoint {
    public static let formatName = "recsys-dist checkpoint"
    public static let formatVersion = 1

    /// What a checkpoint records besides the weights.
    public struct Metadata: Sendable, Equatable {
        public var step: Int
        public var samplesSeen: Int
        /// The run's config, as YAML text.
        public var configuration: String

        public init(step: Int, samplesSeen: Int, configuration: String) {
            self.step = step
            self.samplesSeen = samplesSeen
            self.configuration = configuration
        }
    }

    /// Writes `model` to `<runDirectory>/step-<step>/`; returns that directory.
    @discardableResult
    public static func save(_ model: RecommendationModel, metadata: Metadata, runDirectory: String) throws -> String {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let final = "\(runDirectory)/step-\(metadata.step)"
        let temporary = "\(runDirectory)/.step-\(metadata.step).partial-\(getpid())"
        try? fileManager.removeItem(atPath: temporary)
        try fileManager.createDirectory(atPath: temporary, withIntermediateDirectories: false)

        do {
            let dense = try HDF5File.create("\(temporary)/dense.h5")
            try dense.writeAttribute("format", string: formatName)
            try dense.writeAttribute("format_version", integer: formatVersion)
            try dense.writeAttribute("step", integer: metadata.step)
            try dense.writeAttribute("samples_seen", integer: metadata.samplesSeen)
            try dense.writeAttribute("config", string: metadata.configuration)
            for entry in model.arena.entries {
                try dense.writeFloats("dense/\(entry.name)", shape: entry.shape,
                                      from: model.arena.values.base + entry.offset)
            }
            let embeddings = try HDF5File.create("\(temporary)/embeddings-rank0.h5")
            try embeddings.writeAttribute("format", string: formatName)
            try embeddings.writeAttribute("format_version", integer: formatVersion)
            for table in model.embeddingTables {
                try embeddings.writeFloats("\(table.name)/weights", shape: [table.rowCount, table.dimension],
                                           from: table.weights.base)
            }
        } catch {
            try? fileManager.removeItem(atPath: temporary)
            throw error
        }
        try? fileManager.removeItem(atPath: final)
        try fileManager.moveItem(atPath: temporary, toPath: final)

        // Repoint `latest` atomically: make the new link aside, then rename it over the old one.
        let latest = "\(runDirectory)/latest", newLink = "\(runDirectory)/.latest-\(getpid())"
        try? fileManager.removeItem(atPath: newLink)
        try fileManager.createSymbolicLink(atPath: newLink, withDestinationPath: "step-\(metadata.step)")
        guard rename(newLink, latest) == 0 else { throw CheckpointError.cannotCreate(path: latest) }
        return final
    }

    /// Reads the metadata of the checkpoint in `directory` (a `step-<N>` folder or `latest`).
    public static func metadata(in directory: String) throws -> Metadata {
        let dense = try openChecked("\(directory)/dense.h5")
        return Metadata(step: try dense.readIntegerAttribute("step"),
                        samplesSeen: try dense.readIntegerAttribute("samples_seen"),
                        configuration: try dense.readStringAttribute("config"))
    }

    /// Loads the weights of the checkpoint in `directory` into `model`, which must have been
    /// built with the same architecture (every shape is checked).
    public static func load(into model: RecommendationModel, from directory: String) throws {
        let dense = try openChecked("\(directory)/dense.h5")
        for entry in model.arena.entries {
            try dense.readFloats("dense/\(entry.name)", shape: entry.shape, into: model.arena.values.base + entry.offset)
        }
        let embeddings = try openChecked("\(directory)/embeddings-rank0.h5")
        for table in model.embeddingTables {
            try embeddings.readFloats("\(table.name)/weights", shape: [table.rowCount, table.dimension],
                                      into: table.weights.base)
        }
    }

    private static func openChecked(_ path: String) throws -> HDF5File {
        let file = try HDF5File.open(path)
        guard let format = try? file.readStringAttribute("format"), format == formatName else {
            throw CheckpointError.notACheckpoint(path: path)
        }
        let version = try file.readIntegerAttribute("format_version")
        guard version == formatVersion else {
            throw CheckpointError.versionMismatch(path: path, found: version, expected: formatVersion)
        }
        return file
    }
}
