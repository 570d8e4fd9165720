import Checkpointing
import Compute
import Distributed
import Foundation
import NeuralNetwork
import Testing
import TestSupport

@Suite struct TrainingCheckpointTests {
    static func makeModel(seed: UInt64, deepWidths: [Int] = [7, 1], rows: [Int] = [5, 9],
                          backend: any ComputeBackend = SeparateMemoryBackend()) -> WideDeep {
        try! WideDeep(WideDeepArchitecture(denseFeatureCount: 4, tableRowCounts: rows, embeddingDimension: 3,
                                           deepWidths: deepWidths), batchCapacity: 4, seed: seed, backend: backend)
    }

    static func temporaryDirectory() -> String {
        let path = ScratchFolder.path("recsys-ckpt")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func state(step: Int) -> TrainingCheckpoint.State {
        TrainingCheckpoint.State(step: step, epoch: 2, positionInEpoch: 96, samplesSeen: 480, worldSize: 1, denseOptimizerSteps: step,
                                 sparseOptimizerSteps: step, optimizer: "adam", configuration: "model:\n  architecture: wide_deep\n",
                                 lineage: "test-lineage")
    }

    /// A model with optimizer state, after a few random updates (on the separate-memory backend
    /// unless told otherwise: a checkpoint does not depend on the backend that wrote it).
    static func trained(seed: UInt64, backend: any ComputeBackend = SeparateMemoryBackend()) -> (WideDeep, DenseOptimizer, SparseOptimizer) {
        let model = makeModel(seed: seed, backend: backend)
        let settings = OptimizerSettings(algorithm: .adam)
        let dense = DenseOptimizer(settings: settings, backend: backend, parameterCount: model.arena.count)
        let sparse = SparseOptimizer(settings: settings, tables: model.embeddingTables)
        var random = TestRandom(seed: seed)
        for table in model.embeddingTables { random.fill(table.weights.whole, scale: 0.3) }
        random.fill(model.arena.gradients.whole)
        dense.step(values: model.arena.values.whole, gradients: model.arena.gradients.whole, learningRate: 0.1)
        for state in sparse.firstStates + sparse.secondStates { random.fill(state.floats.whole) }
        return (model, dense, sparse)
    }

    func save(_ parts: (WideDeep, DenseOptimizer, SparseOptimizer), step: Int, to run: String, keepLast: Int = 3) throws -> String {
        try TrainingCheckpoint.save(model: parts.0, denseOptimizer: parts.1, sparseOptimizer: parts.2, state: Self.state(step: step),
                                    runDirectory: run, keepLast: keepLast, communicator: LocalCommunicator())
    }

    @Test func roundTripRestoresWeightsOptimizerStateAndRunState() throws {
        let saved = Self.trained(seed: 1)
        let run = Self.temporaryDirectory()
        let path = try save(saved, step: 12, to: run)
        #expect(path == "\(run)/step-12")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(run)/latest") == "step-12")

        let loaded = Self.trained(seed: 99, backend: CPUBackend())
        let state = try TrainingCheckpoint.load(into: loaded.0, denseOptimizer: loaded.1, sparseOptimizer: loaded.2, from: "\(run)/latest")
        #expect(state == Self.state(step: 12))
        for entry in saved.0.arena.entries {  // the parameters (not the alignment padding between them)
            #expect(loaded.0.arena.value(at: entry.offset, count: entry.count).toArray()
                    == saved.0.arena.value(at: entry.offset, count: entry.count).toArray(), "\(entry.name)")
        }
        #expect(loaded.1.firstState.toArray() == saved.1.firstState.toArray() && loaded.1.secondState.toArray() == saved.1.secondState.toArray())
        #expect(loaded.1.stepCount == 12 && loaded.2.stepCount == 12)
        for (a, b) in zip(loaded.0.embeddingTables, saved.0.embeddingTables) { #expect(a.weights.toArray() == b.weights.toArray()) }
        for (a, b) in zip(loaded.2.firstStates + loaded.2.secondStates, saved.2.firstStates + saved.2.secondStates) {
            #expect(a.floats.toArray() == b.floats.toArray())
        }
    }

    @Test func newerSavesRepointLatestAndKeepTheLastK() throws {
        let run = Self.temporaryDirectory()
        for step in [10, 20, 30] { _ = try save(Self.trained(seed: 1), step: step, to: run, keepLast: 2) }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(run)/latest") == "step-30")
        let entries = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
        #expect(entries == ["latest", "step-20", "step-30"], "the oldest is removed, nothing partial is left")
    }

    /// A new run into a folder holding an older run's higher steps prunes only its own lineage
    /// (issue 10, item 6): the older run's checkpoints, `latest` and `best` all survive.
    @Test func keepLastPrunesOnlyThisRunsLineage() throws {
        let run = Self.temporaryDirectory()
        func save(step: Int, lineage: String, keepLast: Int) throws {
            var state = Self.state(step: step)
            state.lineage = lineage
            let parts = Self.trained(seed: 1)
            try TrainingCheckpoint.save(model: parts.0, denseOptimizer: parts.1, sparseOptimizer: parts.2, state: state,
                                        runDirectory: run, keepLast: keepLast, communicator: LocalCommunicator())
        }
        for step in [100, 200, 300] { try save(step: step, lineage: "older", keepLast: 3) }
        try save(step: 10, lineage: "newer", keepLast: 2)
        try TrainingCheckpoint.markBest(runDirectory: run, step: 10)
        for step in [20, 30, 40] { try save(step: step, lineage: "newer", keepLast: 2) }
        let entries = try FileManager.default.contentsOfDirectory(atPath: run).filter { !$0.hasPrefix(".") }.sorted()
        #expect(entries == ["best", "latest", "step-10", "step-100", "step-200", "step-30", "step-300", "step-40"], "\(entries)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(run)/latest") == "step-40")
        #expect(try TrainingCheckpoint.state(in: "\(run)/latest").step == 40)
    }

    /// One run at a time writes a checkpoint folder (issue 10, item 7): the second is refused
    /// naming the holder's host and pid; the lock goes with its holder. (A process another test
    /// starts in the meantime holds a copy of the lock's descriptor from its fork to its exec,
    /// which closes it: the lock is taken again within a second.)
    @Test func aSecondWriterIsRefusedNamingTheHolder() throws {
        let folder = Self.temporaryDirectory() + "/run"
        var first: CheckpointFolderLock? = try CheckpointFolderLock(folder: folder)
        let holder = "host \(ProcessInfo.processInfo.hostName), pid \(getpid())"
        #expect(throws: CheckpointError.folderInUse(path: folder, holder: holder)) { try CheckpointFolderLock(folder: folder) }
        withExtendedLifetime(first) {}
        first = nil
        var second: CheckpointFolderLock?
        for _ in 0..<50 where second == nil {
            second = try? CheckpointFolderLock(folder: folder)
            if second == nil { usleep(20_000) }
        }
        #expect(second != nil, "the lock went with its holder")
    }

    /// A folder that cannot be made is one line with the path and the system's reason.
    @Test func anUnusableFolderIsOneLineWithTheReason() throws {
        let file = Self.temporaryDirectory() + "/plain-file"
        try #require(FileManager.default.createFile(atPath: file, contents: Data()))
        #expect(throws: FileSystemError(path: "\(file)/run", reason: "Not a directory")) {
            try CheckpointFolderLock(folder: "\(file)/run")
        }
    }

    @Test func anotherModelIsRejectedNamingTheDataset() throws {
        let run = Self.temporaryDirectory()
        let path = try save(Self.trained(seed: 1), step: 1, to: run)
        #expect(throws: CheckpointError.shapeMismatch(path: "\(path)/dense.h5", object: "dense/deep_mlp/layer0/weight",
                                                      found: [7, 10], expected: [5, 10])) {
            try TrainingCheckpoint.load(into: Self.makeModel(seed: 1, deepWidths: [5, 1]), denseOptimizer: nil, sparseOptimizer: nil, from: path)
        }
        #expect(throws: CheckpointError.shapeMismatch(path: "\(path)/dense.h5", object: "embeddings/table1/weights",
                                                      found: [9, 3], expected: [8, 3])) {
            try TrainingCheckpoint.load(into: Self.makeModel(seed: 1, rows: [5, 8]), denseOptimizer: nil, sparseOptimizer: nil, from: path)
        }
        let sgd = SparseOptimizer(settings: OptimizerSettings(algorithm: .sgd), tables: Self.makeModel(seed: 1).embeddingTables)
        #expect(throws: CheckpointError.modelMismatch(path: "\(path)/dense.h5", detail: "optimizer adam in the checkpoint, sgd in the config")) {
            try TrainingCheckpoint.load(into: Self.makeModel(seed: 1), denseOptimizer: nil, sparseOptimizer: sgd, from: path)
        }
    }

    /// A missing file and a file that is not HDF5 never reach H5Fopen (HDF5 1.10 leaks state on
    /// failed opens; a truncated file is checked through the command line).
    @Test func foreignFilesAndOtherVersionsAreClearErrors() throws {
        let run = Self.temporaryDirectory()
        let path = try save(Self.trained(seed: 1), step: 3, to: run)
        #expect(throws: CheckpointError.noSuchFolder(path: "\(run)/step-99")) { try TrainingCheckpoint.state(in: "\(run)/step-99") }
        let dense = "\(path)/dense.h5"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dense))
        #expect(throws: CheckpointError.notHDF5(path: dense)) { try TrainingCheckpoint.state(in: path) }
        let old = try TrainingCheckpointTests.writeFileWithVersion(1, at: dense)
        #expect(throws: CheckpointError.versionMismatch(path: old, found: 1, expected: TrainingCheckpoint.formatVersion)) {
            try TrainingCheckpoint.state(in: path)
        }
    }

    /// The whole tables are readable by a standard tool through the virtual datasets.
    @Test func h5dumpReadsWholeTables() throws {
        let parts = Self.trained(seed: 3)
        let run = Self.temporaryDirectory()
        let path = try save(parts, step: 5, to: run)
        for table in parts.0.embeddingTables {
            let dump = try runTool("h5dump", ["-d", "/\(table.name)/weights", "-p", "-m", "%.9g", "\(path)/dense.h5"])
            #expect(dump.contains("DATASPACE  SIMPLE { ( \(table.rowCount), \(table.dimension) ) /"), "\(dump)")
            #expect(dump.contains("VIRTUAL"), "a virtual dataset over the rank files")
            // The values after the DATA marker, in row order, as h5dump prints them ("(row,col): v, v, ...").
            let data = dump.components(separatedBy: "DATA {").last ?? ""
            let printed = data.split(separator: "\n").flatMap { line -> [Float] in
                guard let colon = line.firstIndex(of: ":") else { return [] }
                return line[line.index(after: colon)...].split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            }
            #expect(printed == table.weights.toArray(), "\(table.name) read back whole by h5dump")
        }
        let step = try runTool("h5dump", ["-a", "/step", "\(path)/dense.h5"])
        #expect(step.contains("(0): 5"))
    }

    /// The model of `makeModel` with its tables stored in `precision`, their rows set from
    /// `seed` (so that both precisions can hold the same values).
    static func model(precision: TablePrecision, seed: UInt64, backend: any ComputeBackend = SeparateMemoryBackend()) throws -> WideDeep {
        let model = try WideDeep(WideDeepArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 9], embeddingDimension: 3,
                                                      deepWidths: [7, 1]), batchCapacity: 4, seed: seed, backend: backend) {
            var specification = $0
            specification.precision = precision
            return LocalEmbeddings.make(specification, backend: $1, batchCapacity: $2, sameFeaturesAs: $3)
        }
        var random = TestRandom(seed: seed)
        for table in model.embeddingTables {
            let values = (0..<table.valueCount).map { _ in Float(random.generator.nextNormal() * 0.3) }
            values.withUnsafeBufferPointer { table.writeRows($0, from: 0) }
        }
        return model
    }

    /// bf16 tables are written as fp32 values (exactly their widened bits: h5dump prints them),
    /// their shard files say `table_precision: bf16`, and they load back bit for bit; a
    /// checkpoint loads into either precision: bf16 rows into fp32 tables widened, fp32 rows into
    /// bf16 tables rounded to nearest.
    @Test func bfloat16TablesLoadIntoEitherPrecision() throws {
        let settings = OptimizerSettings(algorithm: .adam)
        func parts(_ model: WideDeep) -> (WideDeep, DenseOptimizer, SparseOptimizer) {
            (model, DenseOptimizer(settings: settings, backend: model.backend, parameterCount: model.arena.count),
             SparseOptimizer(settings: settings, tables: model.embeddingTables))
        }
        func load(_ model: WideDeep, from path: String) throws {
            let p = parts(model)
            _ = try TrainingCheckpoint.load(into: p.0, denseOptimizer: p.1, sparseOptimizer: p.2, from: path)
        }
        let half = try Self.model(precision: .bf16, seed: 4)
        #expect(half.embeddingTables.allSatisfy { $0.precision == .bf16 } && !half.tablesAreFP32)
        let halfPath = try save(parts(half), step: 3, to: Self.temporaryDirectory())
        let attribute = try runTool("h5dump", ["-a", "/table_precision", "\(halfPath)/embeddings-rank0.h5"])
        #expect(attribute.contains("\"bf16\""), "\(attribute)")
        let dump = try runTool("h5dump", ["-d", "/\(half.embeddingTables[0].name)/weights", "-m", "%.9g", "\(halfPath)/dense.h5"])
        let printed = (dump.components(separatedBy: "DATA {").last ?? "").split(separator: "\n").flatMap { line -> [Float] in
            guard let colon = line.firstIndex(of: ":") else { return [] }
            return line[line.index(after: colon)...].split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        }
        let table = half.embeddingTables[0]
        #expect(printed == table.readRows(0..<table.rowCount), "h5dump reads the widened bf16 rows")

        let halfAgain = try Self.model(precision: .bf16, seed: 9, backend: CPUBackend())
        try load(halfAgain, from: halfPath)
        let wide = try Self.model(precision: .fp32, seed: 9)
        try load(wide, from: halfPath)
        for (t, saved) in half.embeddingTables.enumerated() {
            let values = saved.readRows(0..<saved.rowCount)
            #expect(halfAgain.embeddingTables[t].readRows(0..<saved.rowCount) == values, "\(saved.name): bf16 -> bf16 exact")
            #expect(wide.embeddingTables[t].readRows(0..<saved.rowCount) == values, "\(saved.name): bf16 -> fp32 widened")
        }

        let fullPath = try save(parts(try Self.model(precision: .fp32, seed: 6)), step: 3, to: Self.temporaryDirectory())
        let fromFull = try Self.model(precision: .bf16, seed: 9)
        try load(fromFull, from: fullPath)
        let original = try Self.model(precision: .fp32, seed: 6)
        for (t, table) in original.embeddingTables.enumerated() {
            let nearest = table.readRows(0..<table.rowCount).map { BFloat16.widen(BFloat16.nearest(to: $0)) }
            #expect(fromFull.embeddingTables[t].readRows(0..<table.rowCount) == nearest, "\(table.name): fp32 -> bf16 rounded to nearest")
            #expect(nearest != table.readRows(0..<table.rowCount), "the fp32 rows are not bf16 values already")
        }
    }

    static func writeFileWithVersion(_ version: Int, at path: String) throws -> String {
        try? FileManager.default.removeItem(atPath: path)
        try CheckpointTestFiles.writeHeaderOnly(path: path, formatVersion: version)
        return path
    }

    func runTool(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(tool) \(arguments) failed (is hdf5-tools installed?)")
        return String(decoding: data, as: UTF8.self)
    }
}
