import Compute
import DataPipeline
import Foundation

/// Scored samples as text, tab-separated: a header line (`label`, `probability`, then the
/// features' names), then one line per sample: the label, the model's click probability, the
/// dense features, then each table's bag as comma-separated row ids (empty for an empty bag).
/// These are the inputs an exported model takes, next to the score recsys-dist gave them.
public enum PredictionFile {
    public static func write(path: String, samples: SampleSource, logits: [Float], names: FeatureNames) throws {
        precondition(logits.count == samples.count, "PredictionFile: \(logits.count) logits for \(samples.count) samples")
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw DataWriteError(path: path)
        }
        defer { try? file.close() }
        try file.write(contentsOf: Data((["label", "probability"] + names.dense + names.tables).joined(separator: "\t").utf8 + [10]))
        let blockSize = 1024
        let batch = Batch(capacity: blockSize, denseFeatureCount: samples.denseFeatureCount, tableCount: samples.tableCount,
                          idsPerSample: samples.idsPerSample.max() ?? 1)
        let order = Array(0..<samples.count)
        for start in stride(from: 0, to: samples.count, by: blockSize) {
            let size = min(blockSize, samples.count - start)
            try order.withUnsafeBufferPointer { try samples.fill(batch, order: $0, start: start, size: size) }
            var text = ""
            for b in 0..<size {
                var fields = [String(Int(batch.labels[b])), String(BinaryClassificationMetrics.probability(logit: logits[start + b]))]
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
