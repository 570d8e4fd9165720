import ArgumentParser
import Distributed
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a saved model on the held-out split of the config it was trained with.")

    @Option(help: "A checkpoint folder: <directory>/<run>/step-<N> or <directory>/<run>/latest.")
    var checkpoint: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a key of the stored config, e.g. data.synthetic.eval_samples=10000.",
                                                         valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "A data file to score whole: a record file, or text in the config's raw format (default: its held-out split).")
    var data: String?

    @Option(help: "Write every scored sample to this file: label, probability, dense features, each table's ids.")
    var predictions: String?

    @Option(help: "A retriever's vector index (written by `index`): its recall of the exact top K and queries/s of both.")
    var index: String?

    @Option(help: "With --index: lists an IVF index probes (nprobe), or HNSW's efSearch.")
    var search: Int?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        installFaultInjection()
        let console = Console(format: output.format, isRoot: communicator.isRoot)
        let report: CheckpointEvaluation.Report
        do {
            report = try CheckpointEvaluation.run(checkpoint: checkpoint, overrides: overrides, dataPath: data,
                                                  predictionsPath: predictions, indexPath: index, searchBreadth: search,
                                                  communicator: communicator)
        } catch {
            endJob(after: error, console: console, communicator: communicator)
        }
        let e = report.evaluation
        let heldOut = HeldOutResult(evaluation: e, planted: report.plantedEvaluation)
        var json: [String: Any] = ["samples": e.count, "step": report.step, "ranks": communicator.size]
        json.merge(heldOut.json) { mine, _ in mine }
        var text = "checkpoint \(checkpoint) (step \(report.step))\n" + heldOut.text(showsGap: false)
        if let comparison = report.indexComparison, let index {
            text += "\nindex \(index): \(Training.format(comparison.recallOfExact, 4)) of the exact top K found; "
                + "\(Int(comparison.indexQueriesPerSecond.rounded())) queries/s against the exact scan's "
                + "\(Int(comparison.exactQueriesPerSecond.rounded())) (\(communicator.size) rank(s))"
                + "\nindex lists: " + comparison.metrics.tasks[0].text
            json["index"] = ["recall_of_exact": comparison.recallOfExact, "queries_per_second": comparison.indexQueriesPerSecond,
                             "exact_queries_per_second": comparison.exactQueriesPerSecond,
                             "metrics": Dictionary(uniqueKeysWithValues: comparison.metrics.tasks[0].values.map { ($0.name, $0.value) })] as [String: Any]
        }
        console.result(text: text, json: json)
    }
}
