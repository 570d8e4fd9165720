import Foundation
import Testing
import TestSupport

/// `preprocess` in pieces: on 1 (`--shards`), 2 and 3 ranks the record shards, index and
/// held-out list are the same bytes; the shards hold the records one process writes to a single
/// file, in order, and train to the same losses.
@Suite(.serialized) struct ShardedPreprocessingTests {
    let scratch = ScratchFolder("recsys-shards")
    var folder: String { scratch.path }

    /// A DLRM config reading `paths`; written to its own file each time.
    func write(_ paths: [String]) throws -> String {
        let path = "\(folder)/c\(paths.count)-\(paths[0].hasSuffix(".gz") ? "gz" : "tsv").yaml"
        try """
            include: \(TestPaths.packageRoot)/configs/models/dlrm-small.yaml
            model: {table_rows: 500, bottom_mlp: [16, 16], top_mlp: [16, 1]}
            data: {source: criteo_tsv, path: [\(paths.joined(separator: ", "))], eval_fraction: 0.25}
            training: {batch_size: 256, log_every: 1, optimizer: {algorithm: adagrad, learning_rate: 0.02}}
            checkpoint: {save_final: false}
            run: {record: false}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func run(ranks: Int, _ arguments: [String]) throws -> BinaryRunner.Output {
        let output = ranks == 1 ? try BinaryRunner.run(arguments) : try MPIRunner.run(ranks: ranks, arguments)
        #expect(output.status == 0, "\(arguments): \(output.standardError)")
        return output
    }

    func files(_ name: String) throws -> [String: Data] {
        let names = try FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(name)")
        return try Dictionary(uniqueKeysWithValues: names.map { ($0, try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)/\($0)"))) })
    }

    func losses(_ config: String, records: String, _ extra: [String] = []) throws -> [Double] {
        let output = try run(ranks: 1, ["train", "--config", config, "--set", "data.source=records",
                                        "--set", "data.path=\(folder)/\(records)", "--format", "json"] + extra)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.standardOutput.split(separator: "\n").last!.utf8)) as? [String: Any])
        return try #require(json["losses"] as? [Double])
    }

    @Test func piecesGiveTheSameBytesOnAnyNumberOfRanks() throws {
        _ = try run(ranks: 1, ["generate", "--output", "\(folder)/logs", "--lines", "4000", "--cardinalities", "kaggle"])
        let config = try write(["\(folder)/logs/part-0-of-1.tsv"])
        let pieces = ["--piece-mb", "0.1"]
        _ = try run(ranks: 1, ["preprocess", "--config", config, "--output", "\(folder)/one", "--shards"] + pieces)
        for ranks in [2, 3] {
            _ = try run(ranks: ranks, ["preprocess", "--config", config, "--output", "\(folder)/ranks\(ranks)"] + pieces)
            #expect(try files("ranks\(ranks)") == (try files("one")), "\(ranks) ranks write the bytes 1 rank writes")
        }
        let index = try #require(try JSONSerialization.jsonObject(with: try files("one")["index.json"]!) as? [String: Any])
        let listed = try #require(index["pieces"] as? [[String: Any]])
        #expect(listed.count >= 8 && listed.reduce(0) { $0 + ($1["lines"] as! Int) } == 4000, "\(listed.count) pieces")

        // The single-file layout of one process: the same held-out lines, records and losses.
        _ = try run(ranks: 1, ["preprocess", "--config", config, "--output", "\(folder)/single"])
        #expect(try files("single")["held_out_lines.tsv"] == (try files("one")["held_out_lines.tsv"]))
        let fromShards = try losses(config, records: "one"), fromFile = try losses(config, records: "single")
        #expect(fromShards.count >= 10 && fromShards == fromFile, "\(fromShards.count) steps")

        // Gzip files are pieces of their own.
        _ = try run(ranks: 2, ["generate", "--output", "\(folder)/gz", "--lines", "4000", "--cardinalities", "kaggle", "--gzip"])
        let gzipped = try write(["\(folder)/gz/part-0-of-2.tsv.gz", "\(folder)/gz/part-1-of-2.tsv.gz"])
        _ = try run(ranks: 2, ["preprocess", "--config", gzipped, "--output", "\(folder)/gzshards"])
        #expect(try losses(gzipped, records: "gzshards") == fromFile, "the same lines, gzip-compressed in two files")

        let delimited = try BinaryRunner.run(["preprocess", "--config", config, "--set", "data.source=delimited",
                                              "--output", "\(folder)/refused", "--shards"])
        #expect(delimited.status != 0 && delimited.standardError.contains("reads criteo_tsv data"), "\(delimited.standardError)")
    }

    /// With a frequency threshold each rank counts its pieces' values and the counts are merged
    /// at owners: the values every rank treats as rare are those one process finds, so the shards
    /// are the same bytes on 1 and 3 ranks and train as the single file does.
    @Test func frequencyThresholdCountsOverAllPieces() throws {
        _ = try run(ranks: 1, ["generate", "--output", "\(folder)/logs", "--lines", "4000", "--cardinalities", "kaggle"])
        let config = try write(["\(folder)/logs/part-0-of-1.tsv"])
        let threshold = ["--set", "data.frequency_threshold=3"], pieces = ["--piece-mb", "0.1"]
        _ = try run(ranks: 1, ["preprocess", "--config", config, "--output", "\(folder)/one", "--shards"] + pieces + threshold)
        let three = try run(ranks: 3, ["preprocess", "--config", config, "--output", "\(folder)/three"] + pieces + threshold)
        #expect(try files("three") == (try files("one")), "3 ranks write the bytes 1 rank writes")
        // Rank 0 closes each pass with the lines of all three ranks (posted to it as they went).
        for pass in ["counting lines and categorical values", "writing records"] {
            #expect(three.standardOutput.contains("\(pass) (3 ranks): 1 MB, 4,000 lines in "), "\(three.standardOutput)")
        }
        _ = try run(ranks: 1, ["preprocess", "--config", config, "--output", "\(folder)/single"] + threshold)
        func statistics(_ name: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: try files(name)["stats.json"]!) as? [String: Any])
        }
        let (sharded, single) = (try statistics("three"), try statistics("single"))
        let rare = try #require(single["rareValues"] as? [Int]), distinct = try #require(single["distinctValues"] as? [Int])
        #expect(rare.reduce(0, +) > 1000 && rare.reduce(0, +) < distinct.reduce(0, +), "\(rare) of \(distinct)")
        #expect(sharded["rareValues"] as? [Int] == rare && sharded["distinctValues"] as? [Int] == distinct,
                "\(sharded) against \(single)")
        let fromShards = try losses(config, records: "three", threshold), fromFile = try losses(config, records: "single", threshold)
        #expect(fromShards.count >= 10 && fromShards == fromFile, "\(fromShards.count) steps")
    }
}
