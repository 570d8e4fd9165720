import Checkpointing
import DataPipeline
import Foundation

/// The output folder of `preprocess`, written whole or not at all: the files go to a staging
/// folder beside it (`.<name>.partial`), which replaces the output folder in one step once
/// everything is written, or is removed on a failure. So a failed run leaves the folder as it
/// was, and a new output never mixes with an old one (an old `index.json` beside new records).
/// The output folder must be new, empty, or a previous output of preprocess: a folder holding
/// anything else is refused, never overwritten.
struct PreprocessOutput {
    /// Where the run writes its files.
    let staging: String
    /// The folder the files end up in.
    let destination: String

    /// The names preprocess writes (single file, or pieces with their index).
    static func isPreprocessFile(_ name: String) -> Bool {
        if ["train.rsd", "eval.rsd", "stats.json", "held_out_lines.tsv", ShardedPreprocessing.indexName].contains(name) { return true }
        // A piece's files: train-00012.rsd, eval-00012.rsd, held_out_lines-00012.tsv.
        for (prefix, suffix) in [("train-", ".rsd"), ("eval-", ".rsd"), ("held_out_lines-", ".tsv")]
        where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            let number = name.dropFirst(prefix.count).dropLast(suffix.count)
            if number.count >= 5 && number.allSatisfy(\.isASCII) && number.allSatisfy(\.isNumber) { return true }
        }
        return false
    }

    /// Checks `output` (every rank may, reading only) and names the staging folder beside it.
    init(output: String) throws {
        let url = URL(fileURLWithPath: output).standardizedFileURL
        destination = url.path
        staging = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial").path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: destination, isDirectory: &isFolder) else { return }
        guard isFolder.boolValue else { throw DataError("\(output): not a folder (preprocess writes a folder of records)") }
        let names = try FileManager.default.contentsOfDirectory(atPath: destination)
        if let foreign = names.sorted().first(where: { !Self.isPreprocessFile($0) }) {
            throw DataError("\(output): holds '\(foreign)', which preprocess did not write; give a new or empty folder "
                            + "(preprocess replaces a folder only when it holds a previous output)")
        }
    }

    /// Makes an empty staging folder (one process: rank 0), removing what a crashed run left.
    func create() throws {
        FileSystem.remove(staging)
        try FileSystem.makeDirectory(staging)
    }

    /// Puts the staged files in place of the output folder (rank 0, once every rank is done).
    func commit() throws {
        try FileSystem.replaceDirectory(destination, with: staging)
    }

    /// Removes the staged files after a failure; the output folder is untouched.
    func discard() {
        FileSystem.remove(staging)
    }
}
