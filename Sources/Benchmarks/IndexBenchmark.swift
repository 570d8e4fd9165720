import Compute
import DataPipeline
import Dispatch
import Distributed
import Foundation
import Training
import VectorSearch

/// A vector index against the exact top-K on a synthetic catalogue shaped as trained item
/// vectors are (`recsys-dist bench-index`): items in clusters on the unit sphere, a few clusters
/// popular and most niche; users near the clusters they like, chosen by popularity. (On
/// i.i.d. noise no index beats a scan: nothing is near anything.)
public enum IndexBenchmark {
    public struct Settings: Sendable {
        public var items = 1_000_000
        public var dimension = 64
        public var clusters = 1000
        /// Cluster c holds a share ∝ 1/(c+1)^exponent of the items (and of the users' interest).
        public var popularityExponent = 0.8
        /// Length of an item's (a user's) offset from its cluster's centre, the centre at 1.
        public var itemSpread = 0.6
        public var userSpread = 0.8
        public var queries = 1000
        public var k = 100
        public var seed: UInt64 = 1
        public var index = VectorIndex.Settings(kind: .ivfFlat, lists: 1024)
        /// Values of the index's search parameter (`nprobe`, `efSearch`) to measure.
        public var searchValues = [8, 16, 32, 64]
        public var threads = 1
        public init() {}

        /// The search parameter of the index's kind.
        public var searchParameter: String? {
            switch index.kind {
            case .flat: return nil
            case .ivfFlat, .ivfPQ: return "nprobe"
            case .hnsw: return "efSearch"
            }
        }
    }

    public struct Point: Sendable {
        public var value: Int
        public var recall: Double
        /// Stored vectors compared per query over the catalogue (IVF; nil for HNSW).
        public var scannedFraction: Double?
        public var queriesPerSecond: Double
    }

    public struct Result: Sendable {
        public var description: String
        public var buildSeconds: Double
        public var indexBytes: Int
        public var exactQueriesPerSecond: Double
        public var ranks: Int
        public var points: [Point]
    }

    /// Unit vectors: `count` around the centres drawn by their shares, each `spread` from its centre.
    static func sphereMixture(count: Int, centres: [[Float]], shares: [Double], spread: Double, generator: inout SeededGenerator) -> [Float] {
        let dimension = centres[0].count
        var cumulative: [Double] = [], total = 0.0
        for share in shares { total += share; cumulative.append(total) }
        var vectors = [Float](repeating: 0, count: count * dimension)
        let noise = spread / Double(dimension).squareRoot()
        for i in 0..<count {
            let u = generator.nextUniform() * total
            var low = 0, high = cumulative.count - 1
            while low < high { let mid = (low + high) / 2; if cumulative[mid] < u { low = mid + 1 } else { high = mid } }
            var norm: Float = 0
            for j in 0..<dimension {
                let x = centres[low][j] + Float(noise * generator.nextNormal())
                vectors[i * dimension + j] = x
                norm += x * x
            }
            let scale = 1 / norm.squareRoot()
            for j in 0..<dimension { vectors[i * dimension + j] *= scale }
        }
        return vectors
    }

    public static func run(_ settings: Settings, communicator: Communicator = LocalCommunicator(),
                           progress: (String) -> Void) throws -> Result {
        let d = settings.dimension
        var generator = SeededGenerator(seed: settings.seed)
        let centres = (0..<settings.clusters).map { _ -> [Float] in
            var c = (0..<d).map { _ in Float(generator.nextNormal()) }
            let norm = c.reduce(0) { $0 + $1 * $1 }.squareRoot()
            c = c.map { $0 / norm }
            return c
        }
        let shares = (0..<settings.clusters).map { 1 / pow(Double($0 + 1), settings.popularityExponent) }
        progress("generating \(settings.items) items and \(settings.queries) users in \(settings.clusters) clusters (dimension \(d))")
        let items = sphereMixture(count: settings.items, centres: centres, shares: shares, spread: settings.itemSpread, generator: &generator)
        let queries = sphereMixture(count: settings.queries, centres: centres, shares: shares, spread: settings.userSpread,
                                    generator: &generator)

        // Exact: each rank scans its share of the items; rank 0 merges the lists.
        BLAS.setThreadCount(settings.threads)
        let share = BatchLoader.slice(of: settings.items, rank: communicator.rank, worldSize: communicator.size)
        let localItems = Array(items[(share.lowerBound * d)..<(share.upperBound * d)])
        let labels = share.map { Int32($0) }
        try communicator.barrier()
        var started = DispatchTime.now()
        let exact = try DistributedTopK.merge(ExactSearch.topK(queries: queries, items: localItems, labels: labels, dimension: d,
                                                               k: settings.k), k: settings.k, communicator: communicator)
        let exactSeconds = seconds(since: started)
        progress("exact: \(settings.queries) queries over \(settings.items) items on \(communicator.size) rank(s) in "
                 + String(format: "%.2f s", exactSeconds))
        guard communicator.isRoot else {
            return Result(description: "", buildSeconds: 0, indexBytes: 0, exactQueriesPerSecond: 0, ranks: communicator.size, points: [])
        }

        // The index (on rank 0).
        VectorIndex.setThreads(settings.threads)
        let description = settings.index.description(count: settings.items)
        progress("building \(description) over \(settings.items) items")
        started = DispatchTime.now()
        let index = try VectorIndex.build(settings.index, vectors: items, dimension: d)
        let buildSeconds = seconds(since: started)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recsys-bench-\(UUID().uuidString).faiss").path
        try index.write(path: path)
        let bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        try? FileManager.default.removeItem(atPath: path)

        var points: [Point] = []
        for value in settings.searchParameter == nil ? [0] : settings.searchValues {
            if let name = settings.searchParameter { try index.setParameter(name, Double(value)) }
            VectorIndex.resetStatistics()
            started = DispatchTime.now()
            let found = try index.search(queries, k: settings.k)
            let searchSeconds = seconds(since: started)
            var hits = 0
            for q in 0..<settings.queries {
                let truth = Set(exact[q].map { Int64($0.item) })
                hits += found.labels[(q * settings.k)..<((q + 1) * settings.k)].filter { truth.contains($0) }.count
            }
            let distances = VectorIndex.distancesComputed
            let point = Point(value: value, recall: Double(hits) / Double(settings.queries * settings.k),
                              scannedFraction: settings.index.kind == .hnsw ? nil
                                  : settings.index.kind == .flat ? 1 : Double(distances) / Double(settings.queries * settings.items),
                              queriesPerSecond: Double(settings.queries) / searchSeconds)
            progress("\(settings.searchParameter ?? "exact scan") \(value): recall@\(settings.k) \(String(format: "%.4f", point.recall))"
                     + (point.scannedFraction.map { String(format: ", %.2f%% of the items scanned", 100 * $0) } ?? "")
                     + String(format: ", %.0f queries/s", point.queriesPerSecond))
            points.append(point)
        }
        return Result(description: description, buildSeconds: buildSeconds, indexBytes: bytes,
                      exactQueriesPerSecond: Double(settings.queries) / exactSeconds, ranks: communicator.size, points: points)
    }
}
