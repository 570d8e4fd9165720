import Foundation
import Testing
import TestSupport

/// Mistakes found at start, each one line naming the file, key or figures (issue 10, item 24).
@Suite(.serialized) struct StartupErrorTests {
    let scratch = ScratchFolder("recsys-startup")
    var folder: String { scratch.path }

    func write(_ text: String, _ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try text.write(toFile: "\(folder)/\(name)", atomically: true, encoding: .utf8)
        return "\(folder)/\(name)"
    }

    @Test func anErrorInAnIncludedFileNamesThatFileAndLine() throws {
        _ = try write("model:\n  architecture: dlrm\n  embeding_dimension: 4\n", "base.yaml")
        let config = try write("include: base.yaml\ntraining:\n  batch_size: 100\n", "top.yaml")
        let output = try BinaryRunner.run(["train", "--config", config])
        #expect(output.status != 0)
        #expect(output.standardError.contains("\(folder)/base.yaml:3: unknown key 'model.embeding_dimension'"), "\(output.standardError)")
    }

    @Test func resumeProblemsAreNamedBeforeTheDataIsLoaded() throws {
        let config = try write(CommandLineTests.smallConfig.replacingOccurrences(of: "save_final: false",
                                                                                 with: "directory: \(folder)/checkpoints\n  run_name: r")
                               + "\nrun:\n  record: false\n", "c.yaml")
        let nothing = try BinaryRunner.run(["train", "--config", config, "--resume", "latest"])
        #expect(nothing.status != 0)
        #expect(nothing.standardError.contains("\(folder)/checkpoints/r: no checkpoint to resume"), "\(nothing.standardError)")
        #expect(try BinaryRunner.run(["train", "--config", config, "--set", "training.max_steps=2"]).status == 0)
        let other = try BinaryRunner.run(["train", "--config", config, "--set", "model.table_rows=[20, 21, 20]", "--resume", "latest"])
        #expect(other.status != 0)
        #expect(other.standardError.contains("checkpoint is from another model: model.table_rows: [20, 20, 20] in the checkpoint, "
                                             + "[20, 21, 20] in the config"), "\(other.standardError)")
        #expect(!other.standardOutput.contains("data: "), "found before the data is loaded")
    }

    @Test func aFolderGivenAsADataFileIsNamedSo() throws {
        try FileManager.default.createDirectory(atPath: "\(folder)/day.tsv", withIntermediateDirectories: true)
        let config = try write("""
            model: {architecture: dlrm, embedding_dimension: 4, table_count: 26, table_rows: 100, bottom_mlp: [8, 4], top_mlp: [8, 1]}
            data: {source: criteo_tsv, path: \(folder)/day.tsv}
            checkpoint: {save_final: false}
            """, "c.yaml")
        let output = try BinaryRunner.run(["train", "--config", config])
        #expect(output.status != 0 && output.standardError.contains("\(folder)/day.tsv: a folder, not a data file"), "\(output.standardError)")
    }

    @Test func tablesThatDoNotFitInMemoryAreRefusedWithTheFigures() throws {
        let config = try write(CommandLineTests.smallConfig, "c.yaml")
        let output = try BinaryRunner.run(["train", "--config", config, "--set", "model.table_rows=2000000000",
                                           "--set", "model.embedding_dimension=64", "--set", "model.bottom_mlp=[8, 64]"])
        #expect(output.status != 0)
        #expect(output.standardError.range(of: "rank 0: the model needs [0-9]+ MB on this rank .* but [0-9]+ MB are available",
                                           options: .regularExpression) != nil, "\(output.standardError)")
    }

    /// Ranks on one host share its memory: a model that fits one process is refused when the
    /// launcher says 100,000 ranks run on this host (MPICH's MPI_LOCALNRANKS, read as OpenMPI's).
    @Test func ranksOnOneHostShareItsMemory() throws {
        let config = try write(CommandLineTests.smallConfig, "c.yaml")
        let shared = ["--set", "model.table_rows=200000", "--set", "training.max_steps=1"]
        let alone = try BinaryRunner.run(["train", "--config", config] + shared)
        #expect(alone.status == 0, "\(alone.standardError)")
        let crowded = try BinaryRunner.run(["train", "--config", config] + shared, environment: ["MPI_LOCALNRANKS": "100000"])
        #expect(crowded.status != 0)
        #expect(crowded.standardError.contains("shared by its 100000 ranks"), "\(crowded.standardError)")
    }
}
