import Foundation
import Testing
import TestSupport

/// A two-tower retriever through the command line on interactions with a planted preference
/// (each user favours one category of items; the items and their categories in a catalogue file,
/// cold items included; uniform negatives): `train` with leave-last-out, `evaluate` of the
/// checkpoint, `export` served without recsys-dist (launch/retrieve-onnx.py: onnxruntime over
/// the user tower, the items' vectors from HDF5) giving `evaluate`'s Recall@10 and NDCG@20, and
/// `index`, `evaluate --index` and `retrieve` over FAISS indexes giving the same lists.
@Suite(.serialized) struct RetrievalCommandTests {
    static let root = TestPaths.packageRoot
    let scratch = ScratchFolder("recsys-retrieval")
    var folder: String { scratch.path }

    /// user, item, timestamp: 60 users with 12 interactions each, 9 of them (the last among them)
    /// in the category `user % 6` (items 0...89), 3 any item; and the items' file, item and
    /// category (`item % 6`), with 10 more items (90...99) nobody interacted with. Returns each
    /// user's items in time order.
    func writeInteractions(_ path: String, items itemsPath: String) throws -> [Int: [Int]] {
        var state: UInt64 = 12345
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        var lines: [String] = [], items: [Int: [Int]] = [:], time = 1000
        for step in 0..<12 {
            for user in 1...60 {
                var item: Int
                repeat {
                    item = step % 4 == 1 ? next(90) : 6 * next(15) + user % 6
                } while items[user, default: []].contains(item)
                items[user, default: []].append(item)
                time += 1 + next(3)
                lines.append("\(user)\t\(item)\t\(time)")
            }
        }
        try lines.shuffled().joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        try (0..<100).map { "\($0)\t\($0 % 6)" }.joined(separator: "\n").write(toFile: itemsPath, atomically: true, encoding: .utf8)
        return items
    }

    func config(data: String, items: String) -> String {
        """
        model: {architecture: two_tower, embedding_dimension: 8, table_rows: [62, 101, 7], item_tables: [1, 2], tower_mlp: [16, 8],
                temperature: 0.1, uniform_negatives: 16}
        data: {source: delimited, path: \(data), split: last_per_user, dense_features: 0,
               catalogue: {path: \(items), delimiter: "\\t", item_column: 0},
               delimited: {delimiter: "\\t", order_by: 2, user_column: 0,
                           categorical: [{column: 0, transform: integer}, {column: 1, transform: integer},
                                         {join: items, column: 1, transform: integer}],
                           joins: [{name: items, path: \(items), delimiter: "\\t", key_column: 0, on_column: 1}]}}
        training: {batch_size: 64, epochs: 25, log_every: 0, optimizer: {algorithm: adam, learning_rate: 0.01}}
        evaluation: {top_k: [10, 20]}
        checkpoint: {directory: \(folder)/runs, run_name: planted}
        run: {record: false}
        """
    }

    func json(_ output: BinaryRunner.Output) throws -> [String: Any] {
        try #require(output.status == 0, "\(output.standardError)")
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func trainEvaluateAndServeTheExportAgree() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let interactions = try writeInteractions("\(folder)/interactions.tsv", items: "\(folder)/items.tsv")
        try config(data: "\(folder)/interactions.tsv", items: "\(folder)/items.tsv").write(toFile: "\(folder)/c.yaml", atomically: true, encoding: .utf8)
        let trained = try json(try BinaryRunner.run(["train", "--config", "\(folder)/c.yaml", "--format", "json"]))
        #expect(trained["eval_samples"] as? Int == 60, "one held-out interaction per user")
        let recall = try #require(trained["recall@10"] as? Double), floor = try #require(trained["popularity_recall@10"] as? Double)
        #expect(recall > floor + 0.2, "the planted preference is learned: Recall@10 \(recall), popularity \(floor)")

        let checkpoint = "\(folder)/runs/planted/latest"
        let evaluated = try json(try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint, "--format", "json"]))
        #expect(evaluated["recall@10"] as? Double == recall && evaluated["ndcg@20"] as? Double == trained["ndcg@20"] as? Double)

        let exported = try BinaryRunner.run(["export", "--checkpoint", checkpoint, "--output", "\(folder)/model.onnx"])
        try #require(exported.status == 0, "\(exported.standardError)")
        #expect(exported.standardOutput.contains("model.onnx.items.h5 (the vectors of 100 items"),
                "the catalogue file's 100, cold ones included: \(exported.standardOutput)")

        // Serve the held-out users (each user's last item by time) from the export alone.
        let users = Array(1...60)
        // Ids and items are named by their rows: integer id v is row 1 + v (row 0: missing).
        try users.map { "\($0 + 1)\t-1\t-1" }.joined(separator: "\n").write(toFile: "\(folder)/users.tsv", atomically: true, encoding: .utf8)
        try users.enumerated().flatMap { line, user in interactions[user]!.dropLast().map { "\(line) \($0 + 1)" } }
            .joined(separator: "\n").write(toFile: "\(folder)/seen.tsv", atomically: true, encoding: .utf8)
        let served = try BinaryRunner.run(executable: Self.root + "/.venv-test/bin/python",
                                          [Self.root + "/launch/retrieve-onnx.py", "\(folder)/model.onnx", "\(folder)/model.onnx.items.h5",
                                           "\(folder)/users.tsv", "--k", "20", "--exclude", "\(folder)/seen.tsv"])
        try #require(served.status == 0, "\(served.standardError)")
        var hits = 0.0, gain = 0.0, servedLists: [Int: [Int]] = [:], servedScores: [Int: [Double]] = [:]
        for line in served.standardOutput.split(separator: "\n") {
            let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let user = users[result["user"] as! Int], ranked = result["items"] as! [Int]
            servedLists[user] = ranked
            servedScores[user] = result["scores"] as? [Double]
            #expect(ranked.count == 20 && Set(ranked).isDisjoint(with: interactions[user]!.dropLast().map { $0 + 1 }), "user \(user): seen items left out")
            if let position = ranked.firstIndex(of: interactions[user]!.last! + 1) {
                if position < 10 { hits += 1 }
                gain += 1 / log2(Double(position) + 2)
            }
        }
        #expect(abs(hits / 60 - recall) < 1e-9, "served Recall@10 \(hits / 60), evaluate's \(recall)")
        #expect(abs(gain / 60 - (evaluated["ndcg@20"] as! Double)) < 1e-5, "served NDCG@20 \(gain / 60)")

        // A vector index over the items: an exact one finds the exact top K (and the same metrics),
        // an IVF one probing every list too; `retrieve` gives the served lists.
        for (type, arguments) in [("flat", [String]()), ("ivf_flat", ["--lists", "4"])] {
            let index = "\(folder)/items-\(type).faiss"
            let indexed = try BinaryRunner.run(["index", "--checkpoint", checkpoint, "--output", index, "--type", type] + arguments)
            try #require(indexed.status == 0, "\(indexed.standardError)")
            let measured = try json(try BinaryRunner.run(["evaluate", "--checkpoint", checkpoint, "--index", index, "--format", "json"]
                                                         + (type == "flat" ? [] : ["--search", "4"])))
            let comparison = try #require(measured["index"] as? [String: Any])
            #expect(comparison["recall_of_exact"] as? Double == 1, "\(type): \(comparison)")
            #expect((comparison["metrics"] as? [String: Double])?["recall@10"] == recall, "\(type): \(comparison)")
        }
        let lastLines = users.map { user in "\(user)\t\(interactions[user]!.last!)\t0" }
        try lastLines.joined(separator: "\n").write(toFile: "\(folder)/held-out.tsv", atomically: true, encoding: .utf8)
        let retrieved = try BinaryRunner.run(["retrieve", "--checkpoint", checkpoint, "--index", "\(folder)/items-flat.faiss",
                                              "--users", "\(folder)/held-out.tsv", "--k", "20", "--output", "\(folder)/top.tsv"])
        try #require(retrieved.status == 0, "\(retrieved.standardError)")
        let rows = try String(contentsOfFile: "\(folder)/top.tsv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 60)
        for row in rows {
            let fields = row.split(separator: "\t", omittingEmptySubsequences: false)
            let user = Int(fields[1])! - 1, items = fields[2].split(separator: ",").map { Int($0)! }
            // The same lists, but for items whose scores tie to 1e-5 (onnxruntime's user vectors
            // and recsys-dist's differ in the last bits), which may trade places.
            let served = servedLists[user] ?? [], scores = servedScores[user] ?? []
            let agree = items.count == served.count && scores.count == served.count && items.indices.allSatisfy { i in
                items[i] == served[i] || items.indices.contains { j in items[i] == served[j] && abs(scores[i] - scores[j]) < 1e-5 }
            }
            #expect(agree, "user \(user): retrieve \(items), served \(served) (scores \(scores))")
        }
    }
}
