import Compute
import Configuration
import DataPipeline
import Datasets
import Distributed
import Foundation
import Models
import NeuralNetwork
import Planning
import Testing
import TestSupport
@testable import Training
import VectorSearch

/// The two-tower retriever's objective and evaluation: the in-batch softmax's loss against a
/// direct computation and its gradients against finite differences; N ranks against one; exact
/// top-K against a brute-force ranking.
@Suite struct RetrievalTests {
    /// 6 samples; the item key table (0) holds item 0 three times (accidental hits), a
    /// multi-hot user table, an item table of repeats, 4 dense features (the user's).
    static func makeBatch() -> Batch {
        let rows = 6
        let batch = Batch(capacity: rows, denseFeatureCount: 4, tableCount: 3, idsPerSample: 3)
        var random = TestRandom(seed: 5)
        random.fill(batch.dense.view)
        let bags: [[[Int32]]] = [
            [[0], [0], [4], [2], [0], [1]],
            [[1, 1], [3], [1, 2, 3], [], [4, 4, 4], [0]],
            [[2], [2], [2], [2], [3], [2]],
        ]
        batch.setBags(bags)
        return batch
    }

    static let settings = RetrievalObjective(temperature: 0.5, logQCorrection: true, userKeyTable: 1, itemKeyTable: 0)
    static let itemCounts = [5, 1, 2, 3, 1]

    static func makeModel(backend: any ComputeBackend = CPUBackend()) throws -> TwoTower {
        try TwoTower(TwoTowerArchitecture(denseFeatureCount: 4, tableRowCounts: [5, 5, 5], embeddingDimension: 3, itemTables: [0, 2],
                                          towerWidths: [6, 4]), batchCapacity: 6, seed: 11, backend: backend)
    }

    /// The loss as written: each of the first `users` rows' softmax over the columns (every
    /// row's item) of u·v/τ less the column's log expected count (with negatives: an
    /// interaction's log(users Q), a negative's log(negatives / catalogue); else log Q), the row's
    /// own item the target, the other columns of its item left out.
    static func directLoss(outputs: [Float], keys: [Int32], rows: Int, users: Int, width: Int, catalogue: Int = 5) -> Double {
        let total = Double(itemCounts.reduce(0, +)), negatives = rows - users
        var loss = 0.0
        for r in 0..<users {
            var logits: [Double] = []
            let kept = (0..<rows).filter { $0 == r || keys[$0] != keys[r] }
            for c in kept {
                var dot = 0.0
                for k in 0..<width { dot += Double(outputs[r * width + k]) * Double(outputs[(rows + c) * width + k]) }
                let q = Double(itemCounts[Int(keys[c])]) / total
                let correction = negatives == 0 ? Foundation.log(q)
                    : c < users ? Foundation.log(Double(users) * q) : Foundation.log(Double(negatives) / Double(catalogue))
                logits.append(dot / Double(settings.temperature) - correction)
            }
            let own = logits[kept.firstIndex(of: r)!], largest = logits.max()!
            loss += Foundation.log(logits.reduce(0) { $0 + Foundation.exp($1 - largest) }) + largest - own
        }
        return loss / Double(users)
    }

    /// The loss against the direct computation and the gradients of every parameter against
    /// finite differences: in-batch alone, and with the last 2 of the 6 rows uniform negatives
    /// (scored by every user, no user of their own).
    @Test(arguments: TestBackends.names, [0, 2])
    func inBatchSoftmaxLossAndGradients(backendName: String, negatives: Int) throws {
        let backend = TestBackends.make(backendName)
        let model = try Self.makeModel(backend: backend), batch = Self.makeBatch(), users = 6 - negatives
        let objective = InBatchSoftmax(settings: Self.settings, vectorWidth: 4, batchCapacity: 6, globalBatchCapacity: 6,
                                       itemCounts: Self.itemCounts, negativesPerRank: negatives > 0 ? [negatives] : [],
                                       catalogueSize: 5, backend: backend, communicator: LocalCommunicator())
        func loss() -> Double {
            let outputs = try! model.forward(batch)
            return try! objective.lossAndGradient(outputs: outputs, batch: batch, labels: model.inputs.labelSlice,
                                                  gradient: model.logitGradient, globalBatchSize: users)
        }
        let computed = loss()
        let direct = Self.directLoss(outputs: try model.forward(batch).toArray(), keys: [0, 0, 4, 2, 0, 1], rows: 6, users: users, width: 4)
        #expect(abs(computed - direct) < 1e-5, "\(computed) vs \(direct)")

        _ = loss()  // leaves dL/d(output) in the model
        model.arena.zeroGradients()
        try model.backward()
        let dense = model.arena.gradients.toArray().map(Double.init)
        let tables = model.embeddingTables.map { $0.gradient.rows() }
        let indices = model.arena.entries.flatMap { entry in
            FiniteDifference.sampleIndices(count: entry.count, limit: 30, seed: UInt64(entry.offset)).map { entry.offset + $0 }
        }
        let numeric = FiniteDifference.gradient(of: loss, parameters: model.arena.values.whole, indices: indices, step: 1e-3)
        let bad = FiniteDifference.mismatches(analytic: indices.map { dense[$0] }, numeric: numeric, absolute: 5e-4)
        #expect(bad.isEmpty, "dense: \(bad.prefix(5))")
        #expect(dense.contains { $0 != 0 })
        for (t, table) in model.embeddingTables.enumerated() {
            let numeric = FiniteDifference.gradient(of: loss, parameters: table.weights.whole, indices: Array(0..<table.weights.count),
                                                    step: 3e-3)
            var analytic = [Double](repeating: 0, count: table.weights.count)
            for row in tables[t] {
                for k in 0..<table.dimension { analytic[row.id * table.dimension + k] = Double(row.gradient[k]) }
            }
            let bad = FiniteDifference.mismatches(analytic: analytic, numeric: numeric, absolute: 5e-4)
            #expect(bad.isEmpty, "\(table.name): \(bad.prefix(5))")
        }
    }

    /// Two ranks, each holding 3 rows: their loss and dL/d(output) are one process's over the 6
    /// (the items gathered, their gradients summed over the ranks). With negatives, each rank
    /// holds 2 users then 1 negative (columns in rank order: users 0, 1, negative 4, users 2, 3,
    /// negative 5), one process 4 users then 2 negatives.
    @Test(arguments: [0, 1])
    func twoRanksComputeOneRanksLossAndGradient(negativesPerRank: Int) throws {
        let rowsOfRank = negativesPerRank == 0 ? [[0, 1, 2], [3, 4, 5]] : [[0, 1, 4], [2, 3, 5]]
        @Sendable func run(_ batch: Batch, negatives: [Int], communicator: Communicator) throws -> (loss: Double, gradient: [Float]) {
            let model = try Self.makeModel()
            let objective = InBatchSoftmax(settings: Self.settings, vectorWidth: 4, batchCapacity: 6, globalBatchCapacity: 6,
                                           itemCounts: Self.itemCounts, negativesPerRank: negatives, catalogueSize: 5,
                                           backend: model.backend, communicator: communicator)
            let loss = try objective.lossAndGradient(outputs: try model.forward(batch), batch: batch, labels: model.inputs.labelSlice,
                                                     gradient: model.logitGradient, globalBatchSize: 6 - 2 * negativesPerRank)
            return (loss, model.logitGradient.toArray())
        }
        let whole = try run(Self.makeBatch(), negatives: negativesPerRank == 0 ? [] : [2], communicator: LocalCommunicator())
        let halves = try ThreadCommunicator.run(ranks: 2) { communicator -> (loss: Double, gradient: [Float]) in
            try run(Self.slice(Self.makeBatch(), rows: rowsOfRank[communicator.rank]),
                    negatives: negativesPerRank == 0 ? [] : [1, 1], communicator: communicator)
        }
        #expect(abs((halves[0].loss + halves[1].loss) / 2 - whole.loss) < 1e-6)
        // Whole: 6 user vectors then 6 item vectors; a half: its 3 of each, rows as listed.
        for rank in 0..<2 {
            for (i, row) in rowsOfRank[rank].enumerated() {
                for k in 0..<4 {
                    #expect(abs(halves[rank].gradient[i * 4 + k] - whole.gradient[row * 4 + k]) < 1e-6, "rank \(rank), user row \(row)")
                    #expect(abs(halves[rank].gradient[12 + i * 4 + k] - whole.gradient[24 + row * 4 + k]) < 1e-6, "rank \(rank), item row \(row)")
                }
            }
        }
    }

    /// Samples `rows` of `batch` as a batch of their own.
    static func slice(_ batch: Batch, rows: [Int]) -> Batch {
        let part = Batch(capacity: 6, denseFeatureCount: 4, tableCount: 3, idsPerSample: 3)
        for (i, r) in rows.enumerated() {
            for k in 0..<4 { part.dense[i * 4 + k] = batch.dense[r * 4 + k] }
        }
        part.setBags((0..<3).map { t in
            rows.map { r in (Int(batch.sparse[t].offsets[r])..<Int(batch.sparse[t].offsets[r + 1])).map { batch.sparse[t].ids[$0] } }
        })
        return part
    }

    static func configuration() throws -> TrainingConfiguration {
        try ConfigurationLoader.parse("""
            model: {architecture: two_tower, embedding_dimension: 4, table_count: 4, table_rows: [30, 20, 200, 10],
                    item_tables: [2, 3], tower_mlp: [8, 5]}
            data: {dense_features: 2, synthetic: {train_samples: 600, eval_samples: 70}}
            training: {batch_size: 50}
            evaluation: {top_k: [1, 5, 20], batch_size: 32}
            """, source: "two-tower.yaml")
    }

    /// Exact top-K against a brute force: every held-out user's vector scored against the
    /// vector of every catalogue item (its first training sample, else held-out sample), its
    /// training items excluded, the held-out item's position the count scoring above it. The
    /// same metrics on 1 and 2 ranks (the catalogue split over them, the lists merged).
    @Test func exactTopKMatchesABruteForceRanking() throws {
        let configuration = try Self.configuration()
        let splits = try DataSplits.load(configuration)
        let settings = try #require(configuration.model.definition.retrieval)
        let model = try ModelFactory.makeModel(configuration, batchCapacity: 700)
        let evaluation = try RetrievalEvaluation(train: splits.train, heldOut: splits.evaluation, settings: settings, cutoffs: [1, 5, 20])
        let metrics = try evaluation.evaluate(model, on: splits.evaluation, batchSize: 32, communicator: LocalCommunicator())

        // The brute force, from the model's vectors of every sample.
        func vectors(_ source: SampleSource) throws -> (users: [[Float]], items: [[Float]], keys: [[Int32]]) {
            let loader = BatchLoader(dataset: source, batchSize: source.count, shuffleSeed: nil, dropLast: false)
            _ = try loader.next()
            let out = try model.forward(loader.batch).toArray(), n = source.count
            return ((0..<n).map { Array(out[($0 * 5)..<($0 * 5 + 5)]) }, (0..<n).map { Array(out[((n + $0) * 5)..<((n + $0) * 5 + 5)]) },
                    try source.firstIDs(ofTables: [0, 2]))
        }
        let train = try vectors(splits.train), heldOut = try vectors(splits.evaluation)
        var catalogue: [Int32: [Float]] = [:], seen: [Int32: Set<Int32>] = [:], counts: [Int32: Int] = [:]
        for i in 0..<splits.train.count {
            let (user, item) = (train.keys[0][i], train.keys[1][i])
            if catalogue[item] == nil { catalogue[item] = train.items[i] }
            seen[user, default: []].insert(item)
            counts[item, default: 0] += 1
        }
        for i in 0..<splits.evaluation.count where catalogue[heldOut.keys[1][i]] == nil { catalogue[heldOut.keys[1][i]] = heldOut.items[i] }
        func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        var recall = [0.0, 0.0, 0.0], ndcg = [0.0, 0.0, 0.0], popular = [0.0, 0.0, 0.0]
        let cutoffs = [1, 5, 20]
        for i in 0..<splits.evaluation.count {
            let (user, target) = (heldOut.keys[0][i], heldOut.keys[1][i]), excluded = seen[user] ?? []
            let candidates = catalogue.keys.filter { !excluded.contains($0) }
            guard candidates.contains(target) else { continue }
            let score = dot(heldOut.users[i], catalogue[target]!)
            let position = candidates.filter { dot(heldOut.users[i], catalogue[$0]!) > score }.count
            let popularPosition = candidates.filter { counts[$0, default: 0] > counts[target, default: 0] }.count
            for (k, cutoff) in cutoffs.enumerated() {
                if position < cutoff { recall[k] += 1; ndcg[k] += 1 / log2(Double(position) + 2) }
                if popularPosition < cutoff { popular[k] += 1 }
            }
        }
        let n = Double(splits.evaluation.count)
        let expected = recall.map { $0 / n } + ndcg.map { $0 / n } + popular.map { $0 / n }
        let values = metrics.tasks[0].values
        #expect(values.map(\.name) == ["recall@1", "recall@5", "recall@20", "ndcg@1", "ndcg@5", "ndcg@20",
                                       "popularity_recall@1", "popularity_recall@5", "popularity_recall@20"])
        for (value, wanted) in zip(values, expected) { #expect(abs(value.value - wanted) < 1e-9, "\(value.name): \(value.value) vs \(wanted)") }
        #expect(expected[2] > 0 && expected[2] < 1, "a ranking with hits and misses: \(expected)")
        #expect(metrics.count == splits.evaluation.count)

        // Two ranks: each encodes half the catalogue; rank 0 merges the lists.
        let shared = try ThreadCommunicator.run(ranks: 2) { communicator -> [Double] in
            let model = try ModelFactory.makeModel(configuration, batchCapacity: 350, communicator: communicator)
            return try evaluation.evaluate(model, on: splits.evaluation, batchSize: 32, communicator: communicator).tasks[0].values.map(\.value)
        }
        for rank in 0..<2 {
            for (value, wanted) in zip(shared[rank], values.map(\.value)) { #expect(abs(value - wanted) < 1e-9, "rank \(rank)") }
        }
    }

    /// What a retriever cannot use is refused at load, naming the key.
    @Test func configurationRefusesWhatARetrieverCannotUse() throws {
        func message(_ overrides: [String], _ yaml: String? = nil) -> String {
            do {
                _ = try ConfigurationLoader.parse(yaml ?? """
                    model: {architecture: two_tower, embedding_dimension: 4, table_count: 3, table_rows: [30, 20, 200], item_tables: [2]}
                    data: {dense_features: 0}
                    """, source: "r.yaml", overrides: overrides)
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(message(["model.item_tables=[3]"]).contains("key 'model.item_tables[0]': must be a table in 0..<3, got 3"))
        #expect(message(["model.item_tables=[0, 1, 2]"]).contains("key 'model.item_tables': leaves no table for the user tower"))
        #expect(message(["model.temperature=0"]).contains("key 'model.temperature': must be in (0, 100], got 0.0"))
        #expect(message(["checkpoint.keep_best=true"]).contains("key 'checkpoint.keep_best': follows an AUC, which a retriever has not"))
        #expect(message(["model.table_rows=[30, 20, dynamic]"]).contains("key 'model.table_rows[2]': table 2 names the item"))
        #expect(message(["data.split=last_per_user"]).contains("key 'data.split': last_per_user reads a delimited file"))
        #expect(message(["data.catalogue={path: items.tsv, delimiter: \"|\", item_column: 0}"])
            .contains("key 'data.catalogue': is read with the interactions' delimited schema"))
        let delimited = """
            model: {architecture: two_tower, embedding_dimension: 4, table_rows: [30, 20], item_tables: [1]}
            data: {source: delimited, path: r.tsv, split: last_per_user, dense_features: 0,
                   delimited: {delimiter: "\\t", categorical: [{column: 0}, {column: 1}]}}
            """
        #expect(message([], delimited).contains("key 'data.delimited.user_column': required by data.split last_per_user"))
        #expect(message(["data.delimited.user_column=0"], delimited) == "accepted")
        #expect(message(["data.delimited.user_column=0", "data.frequency_threshold=2",
                         "data.catalogue={path: items.tsv, delimiter: \"|\", item_column: 0}"], delimited)
            .contains("key 'data.frequency_threshold': rare values are counted in the interactions"))
        let history = ["data.delimited.user_column=0", "model.table_rows=[30, 20, 20]", "model.item_tables=[1]",
                       "data.delimited.categorical=[{column: 0}, {column: 1}, {column: 1, history_of: 0, reuse: true}]"]
        #expect(message(history, delimited).contains("key 'data.delimited.categorical[2].includes_candidate': a user-tower history"))
        #expect(message(history.dropLast() + ["data.delimited.categorical=[{column: 0}, {column: 1}, "
                                              + "{column: 1, history_of: 0, reuse: true, includes_candidate: false}]"], delimited) == "accepted")
        #expect(message(["data.delimited.user_column=0", "data.delimited.label={column: 2}"], delimited)
            .contains("key 'data.delimited.label': a retriever learns from interactions"))
    }

    /// The heap keeps the k best by score, ties to the smaller id, best first.
    @Test func topKKeepsTheBest() {
        var random = TestRandom(seed: 3)
        let scores = (0..<500).map { _ in Float(Int(random.generator.nextUniform() * 50)) }  // many ties
        var best = TopK(k: 20)
        for (item, score) in scores.enumerated() { best.offer(score, Int32(item)) }
        let expected = scores.enumerated().sorted { ($0.element, -$0.offset) > ($1.element, -$1.offset) }.prefix(20)
        #expect(best.sorted().map(\.item) == expected.map { Int32($0.offset) })
    }

    /// The popularity floor: the items with more training pairs, less the user's seen ones.
    @Test func popularityPositionCountsUnseenItemsAbove() {
        let ranking = PopularityRanking(counts: [0, 9, 5, 5, 2, 7], catalogue: [1, 2, 3, 4, 5])
        #expect(ranking.position(of: 4, excluding: []) == 4)
        #expect(ranking.position(of: 4, excluding: [1, 3]) == 2)
        #expect(ranking.position(of: 2, excluding: []) == 2, "item 3 ties: not above")
        #expect(ranking.position(of: 1, excluding: [4]) == 0)
        #expect(ranking.position(of: 5, excluding: [5]) == .max, "a seen target is excluded")
    }
}
