import Compute
import DataPipeline
import Dispatch
import Distributed
import Foundation
import Models
import NeuralNetwork
import VectorSearch

/// Scores a retriever by exact top-K over its whole item catalogue: every held-out interaction's
/// user against every item, the user's training items excluded; Recall@K (the held-out item
/// among the first K) and NDCG@K (1 / log2(2 + its position) when among them) for each cutoff,
/// next to the popularity floor (items ranked by their training pairs, seen items excluded).
///
/// The catalogue is one sample per item id (its line of the catalogue file when there is one,
/// else its first in the training part, else in the held-out part): the item tower reads its
/// item features. With N ranks each computes the
/// vectors of its share of the catalogue and keeps them; every rank gets every user's vector,
/// scores its items for a block of users with one GEMM, keeps each user's best K, and rank 0
/// merges the ranks' lists.
public final class RetrievalEvaluation: Sendable {
    public let settings: RetrievalObjective
    /// The K of Recall@K and NDCG@K, ascending.
    public let cutoffs: [Int]
    /// Training pairs per item id.
    public let itemCounts: [Int]
    /// One sample per item: the catalogue's parts (a source and its samples) and their item ids.
    private let catalogue: [(source: SampleSource, indices: [Int])]
    private let catalogueItems: [Int32]
    /// The items known when training, one sample each (what uniform negatives are drawn from):
    /// the catalogue file's, else the training part's.
    public let trainingCatalogue: SampleSource
    /// Each user's training items, sorted.
    private let seen: [Int32: [Int32]]

    /// `train`: the training part (its pairs, the excluded items, the popularity);
    /// `heldOut`: the interactions scored; `catalogueFile`: the catalogue's own samples (one per
    /// item; the items of the interactions missing from it are added from them).
    public init(train: SampleSource, heldOut: SampleSource, catalogueFile: SampleSource? = nil, settings: RetrievalObjective,
                cutoffs: [Int]) throws {
        self.settings = settings
        self.cutoffs = cutoffs.sorted()
        let trainKeys = try train.firstIDs(ofTables: [settings.userKeyTable, settings.itemKeyTable])
        let heldOutItems = try heldOut.firstIDs(ofTables: [settings.itemKeyTable])[0]
        let fileItems = try catalogueFile?.firstIDs(ofTables: [settings.itemKeyTable])[0] ?? []
        let largest = Int(max(trainKeys[1].max() ?? 0, heldOutItems.max() ?? 0, fileItems.max() ?? 0))
        var counts = [Int](repeating: 0, count: largest + 1)
        var seen: [Int32: [Int32]] = [:]
        for (user, item) in zip(trainKeys[0], trainKeys[1]) where item >= 0 {
            counts[Int(item)] += 1
            seen[user, default: []].append(item)
        }
        // One sample per item: the file's, else its first training interaction, else held-out one.
        var parts: [(source: SampleSource, indices: [Int])] = [], items: [Int32] = [], taken = Set<Int32>()
        func take(_ source: SampleSource?, _ keys: [Int32]) -> [Int] {
            var indices: [Int] = []
            for (sample, item) in keys.enumerated() where item >= 0 && taken.insert(item).inserted {
                indices.append(sample)
                items.append(item)
            }
            if let source, !indices.isEmpty { parts.append((source, indices)) }
            return indices
        }
        _ = take(catalogueFile, fileItems)
        let fromTraining = take(train, trainKeys[1])
        _ = take(heldOut, heldOutItems)
        catalogue = parts
        catalogueItems = items
        trainingCatalogue = catalogueFile.map { file in SampleSubset(file, indices: Array(0..<file.count)) }
            ?? SampleSubset(train, indices: fromTraining)
        itemCounts = counts
        self.seen = seen.mapValues { Array(Set($0)).sorted() }
    }

    /// Items in the catalogue.
    public var catalogueSize: Int { catalogueItems.count }

    /// This rank's share of the catalogue's item vectors (every item with one rank), with
    /// their ids: the item tower over each item's sample. Every rank takes part.
    public func itemVectors(_ model: RecommendationModel, batchSize: Int, communicator: Communicator) throws
        -> (items: [Int32], vectors: [Float]) {
        var items: [Int32] = [], vectors: [Float] = []
        for part in catalogue {
            let encoded = try encode(model, SampleSubset(part.source, indices: part.indices), tower: .item, ids: [settings.itemKeyTable],
                                     batchSize: batchSize, communicator: communicator)
            vectors += encoded.vectors
            items += encoded.ids[0]
        }
        return (items, vectors)
    }

    /// Which of a two-tower model's outputs `encode` keeps: B user vectors come first, then B item vectors.
    enum Tower { case user, item }

    /// This rank's slices of `source`'s global batches through the model: the `tower`'s vectors,
    /// the first id of each of the tables `ids` per sample, and the samples each rank encoded.
    private func encode(_ model: RecommendationModel, _ source: SampleSource, tower: Tower, ids tables: [Int], batchSize: Int,
                        communicator: Communicator) throws -> (vectors: [Float], ids: [[Int32]], counts: [Int32]) {
        for collection in model.embeddingCollections { collection.setLearnsKeys(false) }
        defer { for collection in model.embeddingCollections { collection.setLearnsKeys(true) } }
        let width = model.outputCount / 2, worldSize = communicator.size
        let loader = BatchLoader(dataset: source, batchSize: min(batchSize, model.batchCapacity * worldSize), shuffleSeed: nil,
                                 dropLast: false, rank: communicator.rank, worldSize: worldSize)
        var vectors: [Float] = [], ids = tables.map { _ in [Int32]() }, counts = [Int32](repeating: 0, count: worldSize)
        while try loader.next() {
            let batch = loader.batch, rows = batch.size, outputs = try model.forward(batch)
            var block = [Float](repeating: 0, count: rows * width)
            block.withUnsafeMutableBufferPointer { model.backend.download(outputs.slice(tower == .user ? 0 : rows * width, rows * width), into: $0) }
            vectors += block
            for (k, table) in tables.enumerated() { ids[k] += (0..<rows).map { batch.firstID(ofTable: table, sample: $0) } }
            for r in 0..<worldSize { counts[r] += Int32(BatchLoader.slice(of: loader.globalBatchSize, rank: r, worldSize: worldSize).count) }
        }
        return (vectors, ids, counts)
    }

    /// Recall@K, NDCG@K and the popularity floor's Recall@K of `heldOut`'s interactions, as the
    /// metrics of its one task; every rank takes part and gets them.
    public func evaluate(_ model: RecommendationModel, on heldOut: SampleSource, batchSize: Int,
                         communicator: Communicator) throws -> HeldOutMetrics {
        let users = try userVectors(model, on: heldOut, batchSize: batchSize, communicator: communicator)
        let lists = try exactLists(model, users: users, batchSize: batchSize, communicator: communicator)
        return try metrics(lists, users: users, task: heldOut.tasks.first ?? .interaction, communicator: communicator)
    }

    /// Rank 0's exact top-K list of each user (K the largest cutoff), the user's training items
    /// left out: each rank scores its share of the catalogue, rank 0 merges (empty elsewhere).
    func exactLists(_ model: RecommendationModel, users: (vectors: [Float], users: [Int32], targets: [Int32]), batchSize: Int,
                    communicator: Communicator) throws -> [[(score: Float, item: Int32)]] {
        let (items, itemVectors) = try self.itemVectors(model, batchSize: batchSize, communicator: communicator)
        let local = ExactSearch.topK(queries: users.vectors, items: itemVectors, labels: items, dimension: model.outputCount / 2,
                                     k: cutoffs.last!) { self.seenItems(of: users.users[$0]) }
        return try DistributedTopK.merge(local, k: cutoffs.last!, communicator: communicator)
    }

    /// The metrics of rank 0's lists (a list per user of `users`), shared with every rank.
    func metrics(_ lists: [[(score: Float, item: Int32)]], users: (vectors: [Float], users: [Int32], targets: [Int32]),
                 task: PredictionTask, communicator: Communicator) throws -> HeldOutMetrics {
        var values = [Double](repeating: 0, count: 3 * cutoffs.count)
        let count = users.users.count
        if communicator.isRoot && count > 0 {
            let popularity = PopularityRanking(counts: itemCounts, catalogue: catalogueItems)
            var hits = [Double](repeating: 0, count: cutoffs.count), gains = hits, popularHits = hits
            for (u, list) in lists.enumerated() {
                let target = users.targets[u]
                if let position = list.firstIndex(where: { $0.item == target }) {
                    for (i, cutoff) in cutoffs.enumerated() where position < cutoff {
                        hits[i] += 1
                        gains[i] += 1 / log2(Double(position) + 2)
                    }
                }
                let popularPosition = popularity.position(of: target, excluding: seenItems(of: users.users[u]))
                for (i, cutoff) in cutoffs.enumerated() where popularPosition < cutoff { popularHits[i] += 1 }
            }
            values = (hits + gains + popularHits).map { $0 / Double(count) }
        }
        values = try communicator.allReduceSum(values)
        let names = cutoffs.map { "recall@\($0)" } + cutoffs.map { "ndcg@\($0)" } + cutoffs.map { "popularity_recall@\($0)" }
        return HeldOutMetrics(tasks: [TaskMetrics(task: task, values: zip(names, values).map { (name: $0, value: $1) })], count: count)
    }

    /// A user's training items, sorted (left out of their lists).
    public func seenItems(of user: Int32) -> [Int32] { seen[user] ?? [] }

    /// An index measured against the exact top-K on the held-out users.
    public struct IndexComparison: Sendable {
        /// The share of each user's exact top K (K the largest cutoff) the index returns.
        public var recallOfExact: Double
        public var exactQueriesPerSecond: Double
        public var indexQueriesPerSecond: Double
        /// The metrics of the index's lists (Recall@K, NDCG@K against the held-out items).
        public var metrics: HeldOutMetrics
    }

    /// The index's top K of the held-out users against the exact top K (every rank takes part
    /// in the exact search; rank 0 searches the index): its recall of the exact lists, the
    /// queries per second of both, and the held-out metrics of its lists.
    public func compare(_ index: ItemIndex, model: RecommendationModel, on heldOut: SampleSource, batchSize: Int,
                        communicator: Communicator) throws -> IndexComparison {
        let users = try userVectors(model, on: heldOut, batchSize: batchSize, communicator: communicator)
        let k = cutoffs.last!
        try communicator.barrier()
        var started = DispatchTime.now()
        let exact = try exactLists(model, users: users, batchSize: batchSize, communicator: communicator)
        let exactSeconds = seconds(since: started)
        var found: [[(score: Float, item: Int32)]] = [], indexSeconds = 0.0, overlap = 0.0
        if communicator.isRoot {
            started = DispatchTime.now()
            found = try index.search(users.vectors, k: k) { self.seenItems(of: users.users[$0]) }
            indexSeconds = seconds(since: started)
            for (a, b) in zip(exact, found) {
                let truth = Set(a.map(\.item))
                overlap += Double(b.filter { truth.contains($0.item) }.count) / Double(max(truth.count, 1))
            }
        }
        let shared = try communicator.allReduceSum([overlap, indexSeconds])
        let count = Double(max(users.users.count, 1))
        return IndexComparison(recallOfExact: shared[0] / count, exactQueriesPerSecond: count / exactSeconds,
                               indexQueriesPerSecond: count / max(shared[1], 1e-9),
                               metrics: try metrics(found, users: users, task: heldOut.tasks.first ?? .interaction, communicator: communicator))
    }

    /// Every held-out sample's user vector, user and item, on every rank (each rank encodes
    /// its slices of the batches; the vectors are gathered in rank order).
    public func userVectors(_ model: RecommendationModel, on heldOut: SampleSource, batchSize: Int, communicator: Communicator) throws
        -> (vectors: [Float], users: [Int32], targets: [Int32]) {
        let encoded = try encode(model, heldOut, tower: .user, ids: [settings.userKeyTable, settings.itemKeyTable], batchSize: batchSize,
                                 communicator: communicator)
        guard communicator.size > 1 else { return (encoded.vectors, encoded.ids[0], encoded.ids[1]) }
        let width = model.outputCount / 2, backend = model.backend, counts = encoded.counts, total = Int(counts.reduce(0, +))
        let local = backend.makeFloats(max(encoded.vectors.count, 1)), all = backend.makeFloats(max(total * width, 1))
        encoded.vectors.withUnsafeBufferPointer { backend.upload($0, to: local.slice(0, encoded.vectors.count)) }
        try communicator.allGatherV(send: local.slice(0, encoded.vectors.count), counts: counts.map { $0 * Int32(width) },
                                    receive: all.slice(0, total * width))
        var vectors = [Float](repeating: 0, count: total * width)
        vectors.withUnsafeMutableBufferPointer { backend.download(all.slice(0, total * width), into: $0) }
        /// Every rank's ids in rank order (a rank without users sends nothing: its placeholder is never read).
        func gathered(_ own: [Int32]) throws -> [Int32] {
            var result = [Int32](repeating: 0, count: total)
            try (own.isEmpty ? [-1] : own).withUnsafeBufferPointer { own in
                try result.withUnsafeMutableBufferPointer {
                    try communicator.allGatherV(send: own.baseAddress!, counts: counts, receive: $0.baseAddress!)
                }
            }
            return result
        }
        return (vectors, try gathered(encoded.ids[0]), try gathered(encoded.ids[1]))
    }
}

/// Top-K lists computed by each rank over its share of the items, merged on rank 0.
public enum DistributedTopK {
    /// Rank 0's merged best `k` for each query from every rank's `local` lists (the same
    /// queries on every rank, each list best first); empty on the other ranks.
    public static func merge(_ local: [[(score: Float, item: Int32)]], k: Int, communicator: Communicator) throws
        -> [[(score: Float, item: Int32)]] {
        let queries = local.count, worldSize = communicator.size
        guard worldSize > 1 else { return local }
        var scores = [Float](repeating: -.infinity, count: queries * k), items = [Int32](repeating: -1, count: queries * k)
        for (q, list) in local.enumerated() {
            for (position, candidate) in list.prefix(k).enumerated() {
                scores[q * k + position] = candidate.score
                items[q * k + position] = candidate.item
            }
        }
        let counts = [Int32](repeating: Int32(queries * k), count: worldSize), isRoot = communicator.isRoot
        var allScores = [Float](repeating: 0, count: isRoot ? worldSize * queries * k : 0)
        var allItems = [Int32](repeating: 0, count: isRoot ? worldSize * queries * k : 0)
        let backend = CPUBackend(), sent = backend.makeFloats(max(queries * k, 1))
        scores.withUnsafeBufferPointer { backend.upload($0, to: sent.slice(0, queries * k)) }
        try allScores.withUnsafeMutableBufferPointer { all in
            try communicator.gatherV(send: sent.slice(0, queries * k), receive: isRoot ? all.baseAddress! : nil, receiveCounts: counts,
                                     receiveOffsets: offsets(of: counts), root: 0)
        }
        try items.withUnsafeBufferPointer { own in
            try allItems.withUnsafeMutableBufferPointer { all in
                try communicator.gatherV(send: own.baseAddress, count: queries * k, receive: isRoot ? all.baseAddress! : nil,
                                         receiveCounts: counts, receiveOffsets: offsets(of: counts), root: 0)
            }
        }
        guard isRoot else { return [] }
        return (0..<queries).map { q in
            var best = TopK(k: k)
            for r in 0..<worldSize {
                let base = (r * queries + q) * k
                for j in 0..<k where allItems[base + j] >= 0 { best.offer(allScores[base + j], allItems[base + j]) }
            }
            return best.sorted()
        }
    }
}

/// Items ranked by their training pairs, for the popularity floor: the position of an item
/// among the catalogue less a user's seen items is the count of those with more pairs.
struct PopularityRanking {
    let counts: [Int]
    /// The catalogue's counts, ascending.
    let sortedCounts: [Int]

    init(counts: [Int], catalogue: [Int32]) {
        self.counts = counts
        sortedCounts = catalogue.map { Int($0) < counts.count ? counts[Int($0)] : 0 }.sorted()
    }

    /// How many unseen catalogue items have more training pairs than `item` (Int.max when the
    /// item itself is seen: it is excluded).
    func position(of item: Int32, excluding seen: [Int32]) -> Int {
        if seen.contains(item) { return .max }
        let count = Int(item) < counts.count ? counts[Int(item)] : 0
        // Items above: the catalogue's counts past the last equal to `count`.
        var low = 0, high = sortedCounts.count
        while low < high {
            let middle = (low + high) / 2
            if sortedCounts[middle] <= count { low = middle + 1 } else { high = middle }
        }
        let above = sortedCounts.count - low
        return above - seen.filter { Int($0) < counts.count && counts[Int($0)] > count }.count
    }
}
