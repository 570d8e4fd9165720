import ArgumentParser
import Checkpointing
import Dispatch
import Foundation
import Training
import VectorSearch

struct IndexItems: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Write a retriever's item vectors and a vector index (FAISS) over them.",
        discussion: """
            The item tower's vector of every item of the catalogue (each item's first training interaction, else \
            held-out one, gives its features) goes to <output>.items.h5 (/item_ids, /vectors), and an index over them \
            to <output>: flat (an exact scan), ivf_flat, ivf_pq (product-quantized) or hnsw. `retrieve` and \
            `evaluate --index` read both.
            """)

    @Option(help: "A checkpoint folder of a retriever: <directory>/<run>/step-<N> or <directory>/<run>/latest.") var checkpoint: String
    @Option(help: "The index file to write (the vectors go beside it, to <output>.items.h5).") var output: String
    @Option(help: "The index: flat, ivf_flat, ivf_pq or hnsw.") var type: VectorIndex.Kind = .ivfFlat
    @Option(help: "Inverted lists of an IVF index (default: 4 sqrt(items)).") var lists: Int?
    @Option(name: .customLong("code-bytes"), help: "Bytes per vector of ivf_pq (must divide the width).") var codeBytes = 16
    @Option(help: "Neighbours per node of hnsw.") var neighbors = 32
    @Option(help: "Threads for FAISS.") var threads = 1
    @OptionGroup var outputFormat: OutputOptions

    func run() throws {
        let console = Console(format: outputFormat.format, isRoot: true)
        do {
            try FileSystem.requireParentFolder(of: output)
            let retriever = try RetrieverCheckpoint.load(checkpoint)
            let items = try retriever.itemVectors()
            let settings = VectorIndex.Settings(kind: type, lists: lists, codeBytes: codeBytes, neighbors: neighbors)
            VectorIndex.setThreads(threads)
            let started = DispatchTime.now()
            let index = try VectorIndex.build(settings, vectors: items.vectors, dimension: retriever.vectorWidth)
            let buildSeconds = seconds(since: started)
            try ItemVectorFile.write(path: ItemIndex.itemsPath(output), items: items.items, vectors: items.vectors, width: retriever.vectorWidth)
            try index.write(path: output)
            let bytes = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            let description = settings.description(count: items.items.count)
            console.result(text: "wrote \(output) (\(description) over \(items.items.count) items of \(retriever.vectorWidth), built in "
                           + "\(Training.format(buildSeconds, 2)) s, \(bytes) bytes) and \(ItemIndex.itemsPath(output))",
                           json: ["index": output, "items_file": ItemIndex.itemsPath(output), "description": description,
                                  "items": items.items.count, "build_seconds": buildSeconds, "index_bytes": bytes])
        } catch {
            FileHandle.standardError.write(Data("error: \(oneLine(error))\n".utf8))
            throw ExitCode.failure
        }
    }
}
