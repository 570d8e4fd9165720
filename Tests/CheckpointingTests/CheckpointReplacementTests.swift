@testable import Checkpointing
import Compute
import Distributed
import Foundation
import NeuralNetwork
import Testing

/// How a checkpoint folder is replaced (issue 29, items 22 and 23).
@Suite struct CheckpointReplacementTests {
    /// A folder put in place of another is swapped in one step (the kernel's exchange, so a
    /// link to it never dangles) and the old one removed; a missing destination is a rename.
    @Test func aFolderIsSwappedInWhole() throws {
        let root = TrainingCheckpointTests.temporaryDirectory()
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            try name.write(toFile: "\(root)/\(name)/w", atomically: true, encoding: .utf8)
        }
        func contents(_ name: String) throws -> String { try String(contentsOfFile: "\(root)/\(name)/w", encoding: .utf8) }
        #expect(try FileSystem.exchange("\(root)/a", "\(root)/b"), "renameat2's exchange works on this file system")
        #expect(try contents("a") == "b" && (try contents("b")) == "a")
        try FileSystem.replaceDirectory("\(root)/b", with: "\(root)/a")
        #expect(try contents("b") == "b" && !FileManager.default.fileExists(atPath: "\(root)/a"))
        try FileSystem.replaceDirectory("\(root)/fresh", with: "\(root)/b")
        #expect(try contents("fresh") == "b")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["fresh"])
    }

    /// A checkpoint of another lineage at the same step is never written over (nor is the
    /// `best` that names it); the same lineage's is replaced and `latest` names the new one.
    @Test func anotherLineagesCheckpointIsNeverOverwritten() throws {
        let run = TrainingCheckpointTests.temporaryDirectory()
        let first = TrainingCheckpointTests.trained(seed: 1), second = TrainingCheckpointTests.trained(seed: 2)
        func save(_ parts: (WideDeep, DenseOptimizer, SparseOptimizer), lineage: String) throws {
            var state = TrainingCheckpointTests.state(step: 8)
            state.lineage = lineage
            _ = try TrainingCheckpoint.save(model: parts.0, denseOptimizer: parts.1, sparseOptimizer: parts.2, state: state,
                                            runDirectory: run, keepLast: 3, communicator: LocalCommunicator())
        }
        try save(first, lineage: "first")
        try TrainingCheckpoint.markBest(runDirectory: run, step: 8)
        let kept = try Data(contentsOf: URL(fileURLWithPath: "\(run)/step-8/dense.h5"))
        #expect(throws: CheckpointError.otherLineage(path: "\(run)/step-8", lineage: "first")) { try save(second, lineage: "second") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/best/dense.h5")) == kept)
        #expect(try FileManager.default.contentsOfDirectory(atPath: run).sorted() == ["best", "latest", "step-8"], "no partial left")

        try save(second, lineage: "first")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(run)/latest/dense.h5")) != kept, "the own lineage's step 8 is replaced")
        #expect(try TrainingCheckpoint.state(in: "\(run)/latest").lineage == "first")
    }
}

/// `keep_last` never prunes a checkpoint a reader holds (issue 29, item 36): `evaluate` on
/// `latest` while a run saves with `keep_last: 1` used to fail half the time.
@Suite struct CheckpointReadHoldTests {
    @Test func aHeldCheckpointOutlivesPruningUntilReleased() throws {
        let run = TrainingCheckpointTests.temporaryDirectory()
        let parts = TrainingCheckpointTests.trained(seed: 1)
        func save(_ step: Int) throws {
            _ = try TrainingCheckpoint.save(model: parts.0, denseOptimizer: parts.1, sparseOptimizer: parts.2,
                                            state: TrainingCheckpointTests.state(step: step), runDirectory: run, keepLast: 1,
                                            communicator: LocalCommunicator())
        }
        func steps() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix("step-") }.sorted() }
        try save(1)
        var hold: CheckpointReadHold? = try CheckpointReadHold(try TrainingCheckpoint.resolve("\(run)/latest"))
        try save(2)
        try save(3)
        #expect(try steps() == ["step-1", "step-3"], "the held step 1 stays; step 2 is pruned")
        let loaded = TrainingCheckpointTests.trained(seed: 5)
        _ = try TrainingCheckpoint.load(into: loaded.0, denseOptimizer: nil, sparseOptimizer: nil, from: "\(run)/step-1")
        withExtendedLifetime(hold) {}
        hold = nil
        try save(4)
        #expect(try steps() == ["step-4"], "released, it goes at the next save")
        #expect(throws: CheckpointError.noSuchFolder(path: "\(run)/step-1")) { try CheckpointReadHold("\(run)/step-1") }
    }
}

/// A crafted shard list is refused before anything is read (issue 29, item 28).
@Suite struct ShardListTests {
    @Test func rowsPastTheTableForeignTablesAndPathsAreRefused() throws {
        let tables = [(name: "embeddings/table0", rows: 1000, dimension: 8, isDynamic: false)]
        let good = [TrainingCheckpoint.Shard(file: "embeddings-rank0.h5", table: "embeddings/table0", rows: 0..<1000)]
        try TrainingCheckpoint.checkShardList(good, tables: tables, path: "d.h5")
        let huge = [TrainingCheckpoint.Shard(file: "embeddings-rank0.h5", table: "embeddings/table0", rows: 0..<1_000_000_000_000)]
        #expect(throws: CheckpointError.missing(path: "d.h5", object: "rows 0..<1000000000000 of embeddings/table0, which has 1000 rows "
                                                + "(the shard list is wrong)")) {
            try TrainingCheckpoint.checkShardList(huge, tables: tables, path: "d.h5")
        }
        let outside = [TrainingCheckpoint.Shard(file: "../other/embeddings-rank0.h5", table: "embeddings/table0", rows: 0..<10)]
        #expect(throws: CheckpointError.self) { try TrainingCheckpoint.checkShardList(outside, tables: tables, path: "d.h5") }
        let foreign = [TrainingCheckpoint.Shard(file: "embeddings-rank0.h5", table: "embeddings/table9", rows: 0..<10)]
        #expect(throws: CheckpointError.self) { try TrainingCheckpoint.checkShardList(foreign, tables: tables, path: "d.h5") }
    }
}
