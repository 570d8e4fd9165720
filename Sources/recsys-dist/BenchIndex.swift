import ArgumentParser
import Benchmarks
import Distributed
import Foundation
import Training
import VectorSearch

extension VectorIndex.Kind: ExpressibleByArgument {}

struct BenchIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-index",
        abstract: "Measure a vector index (FAISS) against the exact top-K on a synthetic catalogue shaped as trained item vectors.",
        discussion: """
            Items in clusters on the unit sphere (a few popular, most niche), users near the clusters they like. \
            Prints the index's build time and bytes, and for each search setting its recall of the exact top K, the \
            share of the items a query scanned (IVF) and queries/s, next to the exact scan's queries/s (split over the \
            ranks when run under mpirun).
            """)

    @Option(help: "Items in the catalogue.") var items = 1_000_000
    @Option(help: "Width of the vectors.") var dimension = 64
    @Option(help: "Clusters of items.") var clusters = 1000
    @Option(help: "Queries (users).") var queries = 1000
    @Option(help: "The K of top-K.") var k = 100
    @Option(help: "The index: flat (an exact scan), ivf_flat, ivf_pq or hnsw.") var type: VectorIndex.Kind = .ivfFlat
    @Option(help: "Inverted lists of an IVF index (default: 4 sqrt(items)).") var lists: Int?
    @Option(name: .customLong("code-bytes"), help: "Bytes per vector of ivf_pq (must divide the width).") var codeBytes = 16
    @Option(help: "Neighbours per node of hnsw.") var neighbors = 32
    @Option(help: "The search settings to measure: lists probed (IVF) or efSearch (HNSW), comma-separated.")
    var search = "8,16,32,64"
    @Option(help: "Threads for the exact scan (BLAS) and FAISS.") var threads = 1
    @Option(help: "Seed of the catalogue.") var seed: UInt64 = 1
    @OptionGroup var output: OutputOptions

    func run() throws {
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        var settings = IndexBenchmark.Settings()
        settings.items = items
        settings.dimension = dimension
        settings.clusters = clusters
        settings.queries = queries
        settings.k = k
        settings.seed = seed
        settings.threads = threads
        settings.index = VectorIndex.Settings(kind: type, lists: lists, codeBytes: codeBytes, neighbors: neighbors)
        let values = search.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--search: positive integers, comma-separated") }
        settings.searchValues = values
        let console = Console(format: output.format, isRoot: communicator.isRoot)
        let r = try IndexBenchmark.run(settings, communicator: communicator) { console.progress($0) }
        guard communicator.isRoot else { return }
        let lines = ["index \(r.description): built in \(Training.format(r.buildSeconds, 2)) s, \(r.indexBytes) bytes "
                     + "(\(Training.format(Double(r.indexBytes) / Double(items), 1)) per item)",
                     "exact scan: \(Int(r.exactQueriesPerSecond.rounded())) queries/s on \(r.ranks) rank(s) x \(threads) thread(s)"]
            + r.points.map { p in
                "\(settings.searchParameter ?? "scan") \(p.value): recall@\(k) \(Training.format(p.recall, 4))"
                    + (p.scannedFraction.map { ", \(Training.format(100 * $0, 2)) % of the items scanned" } ?? "")
                    + ", \(Int(p.queriesPerSecond.rounded())) queries/s (\(Training.format(p.queriesPerSecond / r.exactQueriesPerSecond, 1))x exact)"
            }
        console.result(text: lines.joined(separator: "\n"), json: [
            "index": r.description, "items": items, "dimension": dimension, "queries": queries, "k": k, "threads": threads, "ranks": r.ranks,
            "build_seconds": r.buildSeconds, "index_bytes": r.indexBytes, "exact_queries_per_second": r.exactQueriesPerSecond,
            "search": r.points.map { p in
                ["value": p.value, "recall": p.recall, "scanned_fraction": jsonValue(p.scannedFraction), "queries_per_second": p.queriesPerSecond]
            },
        ])
    }
}
