import Foundation

public enum MetricsError: Error, CustomStringConvertible, Equatable {
    /// AUC is undefined when every label is the same.
    case singleClass(label: Float, count: Int)
    case sizeMismatch(scores: Int, labels: Int)
    case empty

    public var description: String {
        switch self {
        case .singleClass(let label, let count):
            return "AUC is undefined: all \(count) labels are \(label == 1 ? "positive" : "negative")"
        case .sizeMismatch(let scores, let labels): return "metrics: \(scores) scores but \(labels) labels"
        case .empty: return "metrics: no samples"
        }
    }
}

/// Held-out quality of a click model.
public struct BinaryClassificationMetrics: Sendable, Equatable, Codable {
    /// Area under the ROC curve: the probability that a random positive scores above a random
    /// negative, ties counting one half.
    public var auc: Double
    /// Mean binary cross-entropy of sigmoid(logit), in nats.
    public var logloss: Double
    /// Fraction of samples whose predicted class (p >= 0.5) matches the label.
    public var accuracy: Double
    public var count: Int

    /// Exact metrics from logits and 0/1 labels. With one class only, AUC is undefined: it is
    /// NaN (shown as "undefined (one class)", null in JSON) and the other metrics stand.
    public static func compute(logits: [Float], labels: [Float]) throws -> BinaryClassificationMetrics {
        guard logits.count == labels.count else { throw MetricsError.sizeMismatch(scores: logits.count, labels: labels.count) }
        guard !logits.isEmpty else { throw MetricsError.empty }
        return BinaryClassificationMetrics(auc: AUCMetric().value(outputs: logits, labels: labels),
                                           logloss: LoglossMetric().value(outputs: logits, labels: labels),
                                           accuracy: AccuracyMetric().value(outputs: logits, labels: labels),
                                           count: logits.count)
    }

    /// An AUC as printed: four decimals, or "undefined (one class)" for a held-out set of one class.
    public static func text(auc: Double) -> String {
        auc.isNaN ? "undefined (one class)" : String(format: "%.4f", auc)
    }

    /// The click probability sigmoid(logit), in Double without overflow.
    public static func probability(logit: Float) -> Double {
        let x = Double(logit)
        return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }

    /// Exact AUC by sorting: the rank-sum (Mann-Whitney U) statistic with tied scores given
    /// their average rank. O(n log n).
    public static func auc(scores: [Float], labels: [Float]) throws -> Double {
        guard scores.count == labels.count else { throw MetricsError.sizeMismatch(scores: scores.count, labels: labels.count) }
        guard !scores.isEmpty else { throw MetricsError.empty }
        let positives = labels.reduce(0) { $0 + ($1 >= 0.5 ? 1 : 0) }
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else {
            throw MetricsError.singleClass(label: positives > 0 ? 1 : 0, count: labels.count)
        }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && scores[order[end + 1]] == scores[order[start]] { end += 1 }
            // Ranks start..end (0-based) share the average rank (1-based).
            let averageRank = Double(start + end) / 2 + 1
            for k in start...end where labels[order[k]] >= 0.5 { positiveRankSum += averageRank }
            start = end + 1
        }
        let p = Double(positives), n = Double(negatives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * n)
    }
}
