import Checkpointing
import Compute
import Foundation
import NeuralNetwork
import Testing
import TestSupport

@Suite struct ModelCheckpointTests {
    static func makeModel(seed: UInt64, deepWidths: [Int] = [7, 1]) -> WideDeep {
        try! WideDeep(WideDeepArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 9], embeddingDimension: 3,
                                      deepWidths: deepWidths), batchCapacity: 4, seed: seed)
    }

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-ckpt-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let metadata = ModelCheckpoint.Metadata(step: 12, samplesSeen: 480, configuration: "model:\n  architecture: wide_deep\n")

    @Test func roundTripRestoresEveryWeight() throws {
        let saved = Self.makeModel(seed: 1)
        var random = TestRandom(seed: 2)
        for table in saved.wide.embeddings.localTables { random.fill(table.weights.view) }
        let run = Self.temporaryDirectory()
        let path = try ModelCheckpoint.save(saved, metadata: Self.metadata, runDirectory: run)
        #expect(path == "\(run)/step-12")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(run)/latest") == "step-12")

        let loaded = Self.makeModel(seed: 99)
        #expect(loaded.arena.values.toArray() != saved.arena.values.toArray())
        try ModelCheckpoint.load(into: loaded, from: "\(run)/latest")
        #expect(loaded.arena.values.toArray() == saved.arena.values.toArray())
        for (a, b) in zip(loaded.embeddingTables, saved.embeddingTables) { #expect(a.weights.toArray() == b.weights.toArray()) }
        #expect(try ModelCheckpoint.metadata(in: path) == Self.metadata)
    }

    @Test func aNewerSaveRepointsLatestAndKeepsTheOlderOne() throws {
        let run = Self.temporaryDirectory()
        try ModelCheckpoint.save(Self.makeModel(seed: 1), metadata: Self.metadata, runDirectory: run)
        var later = Self.metadata
        later.step = 20
        try ModelCheckpoint.save(Self.makeModel(seed: 1), metadata: later, runDirectory: run)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(run)/latest") == "step-20")
        #expect(FileManager.default.fileExists(atPath: "\(run)/step-12/dense.h5"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "no partial folders or links left: \(leftovers)")
    }

    @Test func anotherModelIsRejectedNamingTheDataset() throws {
        let run = Self.temporaryDirectory()
        let path = try ModelCheckpoint.save(Self.makeModel(seed: 1), metadata: Self.metadata, runDirectory: run)
        let other = Self.makeModel(seed: 1, deepWidths: [5, 1])
        #expect(throws: CheckpointError.shapeMismatch(path: "\(path)/dense.h5", object: "dense/deep_mlp/layer0/weight",
                                                      found: [7, 10], expected: [5, 10])) {
            try ModelCheckpoint.load(into: other, from: path)
        }
    }

    /// (A truncated file is checked through the command line: HDF5 1.10 leaks internal state
    /// when it fails to open one, and reports that at exit from whichever thread exits.)
    /// A missing file and a file that is not HDF5 never reach H5Fopen.
    @Test func foreignFilesAreClearErrors() throws {
        let run = Self.temporaryDirectory()
        let path = try ModelCheckpoint.save(Self.makeModel(seed: 1), metadata: Self.metadata, runDirectory: run)
        let dense = "\(path)/dense.h5"
        #expect(throws: CheckpointError.cannotOpen(path: "\(run)/step-99/dense.h5")) {
            try ModelCheckpoint.metadata(in: "\(run)/step-99")
        }
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dense))
        #expect(throws: CheckpointError.notHDF5(path: dense)) { try ModelCheckpoint.load(into: Self.makeModel(seed: 1), from: path) }
    }

    /// The files are plain HDF5: `h5dump` (Debian's hdf5-tools) reads the weights and attributes.
    @Test func standardToolsReadTheFiles() throws {
        let model = Self.makeModel(seed: 3)
        let run = Self.temporaryDirectory()
        let path = try ModelCheckpoint.save(model, metadata: Self.metadata, runDirectory: run)
        let weights = try runTool("h5dump", ["-d", "/embeddings/table1/weights", "-p", "\(path)/embeddings-rank0.h5"])
        #expect(weights.contains("DATASPACE  SIMPLE { ( 9, 3 ) / ( 9, 3 ) }"), "\(weights)")
        let first = model.embeddings.localTables[1].weights[0]
        #expect(weights.contains(String(format: "%.6g", first).prefix(6)), "first weight \(first) in \(weights)")
        let attributes = try runTool("h5dump", ["-a", "/format_version", "\(path)/dense.h5"])
        #expect(attributes.contains("(0): 1"), "\(attributes)")
        let step = try runTool("h5dump", ["-a", "/step", "\(path)/dense.h5"])
        #expect(step.contains("(0): 12"))
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
