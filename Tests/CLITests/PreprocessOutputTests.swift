import Foundation
import Testing
import TestSupport

/// `preprocess` never loses or mixes data (issue 29, items 19 and 20): a failure leaves the
/// output folder as it was, a folder holding other files is refused, and a new output replaces
/// a previous one whole (no stale `index.json` beside new records).
@Suite(.serialized) struct PreprocessOutputTests {
    let scratch = ScratchFolder("recsys-output")
    var folder: String { scratch.path }

    /// A DLRM config over 2,000 generated Criteo lines.
    func write() throws -> String {
        let generated = try BinaryRunner.run(["generate", "--output", "\(folder)/logs", "--lines", "2000", "--cardinalities", "kaggle"])
        try #require(generated.status == 0, "\(generated.standardError)")
        let path = "\(folder)/c.yaml"
        try """
            include: \(TestPaths.packageRoot)/configs/models/dlrm-small.yaml
            model: {table_rows: 500, bottom_mlp: [16, 16], top_mlp: [16, 1]}
            data: {source: criteo_tsv, path: \(folder)/logs/part-0-of-1.tsv, eval_fraction: 0.25}
            training: {batch_size: 256, log_every: 0}
            checkpoint: {save_final: false}
            run: {record: false}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func contents(_ name: String) throws -> [String: Data] {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(name)")
        return try Dictionary(uniqueKeysWithValues: names.map { ($0, try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)/\($0)"))) })
    }

    /// A failed run (no held-out lines) in pieces or as one file leaves a previous output and an
    /// empty folder as they were; a folder with a file preprocess did not write is refused.
    @Test func aFailureLeavesTheFolderAsItWas() throws {
        let config = try write()
        let first = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records", "--shards", "--piece-mb", "0.05"])
        try #require(first.status == 0, "\(first.standardError)")
        let before = try contents("records")
        #expect(before["index.json"] != nil && before.count > 5)
        for mode in [["--shards"], []] {
            let failed = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records",
                                               "--set", "data.eval_fraction=0.0001"] + mode)
            #expect(failed.status != 0 && failed.standardError.contains("the held-out set is empty"), "\(failed.standardError)")
            #expect(try contents("records") == before, "the previous output is untouched (\(mode))")
        }
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: folder).contains { $0.hasSuffix(".partial") }), "no staging left")

        try FileManager.default.createDirectory(atPath: "\(folder)/mine", withIntermediateDirectories: true)
        try "keep me".write(toFile: "\(folder)/mine/notes.txt", atomically: true, encoding: .utf8)
        for mode in [["--shards"], []] {
            let refused = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/mine"] + mode)
            #expect(refused.status != 0)
            #expect(refused.standardError.contains("\(folder)/mine: holds 'notes.txt', which preprocess did not write"), "\(refused.standardError)")
            #expect(try contents("mine") == ["notes.txt": Data("keep me".utf8)])
        }
    }

    /// A shard of another size dropped into the folder, a shard name leading out of it, and an
    /// index listing no pieces are refused by name (issue 29, item 30).
    @Test func aDamagedShardFolderIsRefused() throws {
        let config = try write()
        let pieces = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records", "--shards", "--piece-mb", "0.05"])
        try #require(pieces.status == 0, "\(pieces.standardError)")
        let records = "\(folder)/records", index = "\(records)/index.json"
        func train() throws -> BinaryRunner.Output {
            try BinaryRunner.run(["train", "--config", config, "--set", "data.source=records", "--set", "data.path=\(records)"])
        }
        let original = try String(contentsOfFile: index, encoding: .utf8)
        try FileManager.default.removeItem(atPath: "\(records)/train-00001.rsd")
        try FileManager.default.copyItem(atPath: "\(records)/eval-00000.rsd", toPath: "\(records)/train-00001.rsd")
        let swapped = try train()
        #expect(swapped.status != 0 && swapped.standardError.contains("\(records)/train-00001.rsd:")
                && swapped.standardError.contains("records, the index lists"), "\(swapped.standardError)")
        try original.replacingOccurrences(of: "\"train-00001.rsd\"", with: "\"../outside.rsd\"").write(toFile: index, atomically: true, encoding: .utf8)
        let outside = try train()
        #expect(outside.status != 0 && outside.standardError.contains("\(index): shard name '../outside.rsd' is not a file name"),
                "\(outside.standardError)")
        try "{\"format\": \"recsys-dist record shards\", \"version\": 1, \"pieces\": []}".write(toFile: index, atomically: true, encoding: .utf8)
        let empty = try train()
        #expect(empty.status != 0 && empty.standardError.contains("\(index): lists no pieces"), "\(empty.standardError)")
    }

    /// Pieces, then one file into the same folder: the folder holds the new output alone, and
    /// training on it reads the new records (the single-file layout), and the reverse.
    @Test func aNewOutputReplacesTheOldOneWhole() throws {
        let config = try write()
        let pieces = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records", "--shards", "--piece-mb", "0.05"])
        try #require(pieces.status == 0, "\(pieces.standardError)")
        let single = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records",
                                           "--set", "data.eval_fraction=0.5"])
        try #require(single.status == 0, "\(single.standardError)")
        #expect(Set(try contents("records").keys) == ["train.rsd", "eval.rsd", "stats.json", "held_out_lines.tsv"])
        let trained = try BinaryRunner.run(["train", "--config", config, "--set", "data.source=records", "--set", "data.path=\(folder)/records"])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect((trained.standardOutput + trained.standardError).contains("1000 train / 1000 held-out samples"),
                "the new split is read: \(trained.standardOutput)")

        let again = try BinaryRunner.run(["preprocess", "--config", config, "--output", "\(folder)/records", "--shards", "--piece-mb", "0.05"])
        try #require(again.status == 0, "\(again.standardError)")
        let names = Set(try contents("records").keys)
        #expect(names.contains("index.json") && !names.contains("train.rsd"), "\(names)")
    }
}
