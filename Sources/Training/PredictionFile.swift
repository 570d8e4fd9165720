import Compute
import DataPipeline
import Datasets
import Foundation

/// Scored samples as text, tab-separated: a header line (`label`, `probability`, then the
/// features' names), then one line per sample: the label, the model's click probability, the
/// dense features, then each table's bag as comma-separated row ids (empty for an empty bag).
/// These are the inputs an exported model takes, next to the score recsys-dist gave them.
/// With several tasks each has its pair of columns, `label_<task>` and `probability_<task>`
/// (`prediction_<task>` for a regression: the value).
public enum PredictionFile {
    public static func write(path: String, samples: SampleSource, logits: [Float], names: FeatureNames) throws {
        let tasks = samples.tasks, taskCount = tasks.count
        precondition(logits.count == samples.count * taskCount, "PredictionFile: \(logits.count) outputs for \(samples.count) samples")
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw DataWriteError(path: path)
        }
        defer { try? file.close() }
        let scoreColumns = taskCount == 1 && tasks[0].kind == .binary ? ["label", "probability"] : tasks.flatMap { task in
            ["label_\(task.name)", task.kind == .binary ? "probability_\(task.name)" : "prediction_\(task.name)"]
        }
        try file.write(contentsOf: Data((scoreColumns + names.dense + names.tables).joined(separator: "\t").utf8 + [10]))
        let blockSize = 1024
        let batch = Batch(capacity: blockSize, denseFeatureCount: samples.denseFeatureCount, tableCount: samples.tableCount,
                          idsPerSample: samples.idsPerSample.max() ?? 1, taskCount: taskCount)
        let order = Array(0..<samples.count)
        for start in stride(from: 0, to: samples.count, by: blockSize) {
            let size = min(blockSize, samples.count - start)
            try order.withUnsafeBufferPointer { try samples.fill(batch, order: $0, start: start, size: size) }
            var text = ""
            for b in 0..<size {
                var fields: [String] = []
                for (k, task) in tasks.enumerated() {
                    let label = batch.labels[b * taskCount + k], output = logits[(start + b) * taskCount + k]
                    fields += task.kind == .binary ? [String(Int(label)), String(BinaryClassificationMetrics.probability(logit: output))]
                        : [String(label), String(output)]
                }
                fields += (0..<batch.denseFeatureCount).map { String(batch.dense[b * batch.denseFeatureCount + $0]) }
                fields += batch.sparse.map { feature in
                    (Int(feature.offsets[b])..<Int(feature.offsets[b + 1])).map { String(feature.ids[$0]) }.joined(separator: ",")
                }
                text += fields.joined(separator: "\t") + "\n"
            }
            try file.write(contentsOf: Data(text.utf8))
        }
    }
}
