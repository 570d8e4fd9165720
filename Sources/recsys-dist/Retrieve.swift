import ArgumentParser
import Checkpointing
import Datasets
import Foundation
import Training

struct Retrieve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write each user's top K items from a retriever's vector index.",
        discussion: """
            --users is a file in the format of the data the model was trained on (for MovieLens, lines of u.data): \
            each line's user features give one user's vector (its item columns are read but not used). The user's \
            training items are left out unless --keep-seen. Output: a line per user line, tab-separated: the line's \
            number, the user id, the items best first, their scores (comma-separated).
            """)

    @Option(help: "A checkpoint folder of a retriever.") var checkpoint: String
    @Option(help: "The index written by `index` (its item vectors beside it).") var index: String
    @Option(help: "The users: a file in the training data's format.") var users: String
    @Option(help: "Items per user.") var k = 100
    @Option(help: "The file to write.") var output: String
    @Option(help: "Lists an IVF index probes (nprobe), or HNSW's efSearch.") var search: Int?
    @Flag(name: .customLong("keep-seen"), help: "Keep the users' training items in their lists.") var keepSeen = false

    func run() throws {
        do {
            try FileSystem.requireParentFolder(of: output)
            let retriever = try RetrieverCheckpoint.load(checkpoint)
            let items = try ItemIndex.read(index)
            guard items.index.dimension == retriever.vectorWidth else {
                throw ValidationError("\(index): vectors of \(items.index.dimension), the model's are \(retriever.vectorWidth)")
            }
            if let search { try items.index.setSearchBreadth(search) }
            let source = try DataSplits.loadEvaluation(retriever.configuration, path: users)
            let queries = try retriever.userVectors(of: source)
            let lists = try items.search(queries.vectors, k: k) { keepSeen ? [] : retriever.catalogue.seenItems(of: queries.users[$0]) }
            var text = ""
            for (line, list) in lists.enumerated() {
                text += "\(line + 1)\t\(queries.users[line])\t" + list.map { String($0.item) }.joined(separator: ",") + "\t"
                    + list.map { String(format: "%.6f", $0.score) }.joined(separator: ",") + "\n"
            }
            try text.write(toFile: output, atomically: true, encoding: .utf8)
            print("wrote \(output): the top \(k) of \(lists.count) users from \(items.index.count) items")
        } catch {
            FileHandle.standardError.write(Data("error: \(oneLine(error))\n".utf8))
            throw ExitCode.failure
        }
    }
}
