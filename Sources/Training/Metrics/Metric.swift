import Compute
import Foundation

/// A held-out measure of one task's predictions, computed exactly over the whole held-out set.
/// Each task kind has its list (`PredictionTask.metrics`); Recall@K or NDCG is a new type.
public protocol Metric: Sendable {
    /// Its name in results: `auc`, `logloss`, `rmse`, ...
    var name: String { get }
    /// The value over `outputs` (logits of a binary task, values of a regression) and their
    /// labels, equal in count and not empty; NaN where it is undefined (AUC of one class).
    func value(outputs: [Float], labels: [Float]) -> Double
}

/// Area under the ROC curve (ties count one half); NaN when every label is the same.
public struct AUCMetric: Metric {
    public let name = "auc"
    public init() {}
    public func value(outputs: [Float], labels: [Float]) -> Double {
        (try? BinaryClassificationMetrics.auc(scores: outputs, labels: labels)) ?? .nan
    }
}

/// Mean binary cross-entropy of sigmoid(logit), in nats.
public struct LoglossMetric: Metric {
    public let name = "logloss"
    public init() {}
    public func value(outputs: [Float], labels: [Float]) -> Double {
        var total = 0.0
        for i in outputs.indices {
            let x = Double(outputs[i]), y = Double(labels[i])
            total += max(x, 0) - x * y + log1p(exp(-abs(x)))
        }
        return total / Double(outputs.count)
    }
}

/// Fraction of samples whose predicted class (p >= 0.5) is the label.
public struct AccuracyMetric: Metric {
    public let name = "accuracy"
    public init() {}
    public func value(outputs: [Float], labels: [Float]) -> Double {
        Double(zip(outputs, labels).filter { ($0 >= 0) == ($1 >= 0.5) }.count) / Double(outputs.count)
    }
}

/// Mean predicted probability over the positive rate: 1 when the model predicts as many
/// positives as there are; NaN without positives.
public struct CalibrationMetric: Metric {
    public let name = "calibration"
    public init() {}
    public func value(outputs: [Float], labels: [Float]) -> Double {
        let positives = labels.reduce(0.0) { $0 + Double($1) }
        guard positives > 0 else { return .nan }
        return outputs.reduce(0.0) { $0 + BinaryClassificationMetrics.probability(logit: $1) } / positives
    }
}

/// Root of the mean squared error of predicted values.
public struct RootMeanSquaredErrorMetric: Metric {
    public let name = "rmse"
    public init() {}
    public func value(outputs: [Float], labels: [Float]) -> Double {
        (zip(outputs, labels).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / Double(outputs.count)).squareRoot()
    }
}

/// Mean absolute error of predicted values.
public struct MeanAbsoluteErrorMetric: Metric {
    public let name = "mae"
    public init() {}
    public func value(outputs: [Float], labels: [Float]) -> Double {
        zip(outputs, labels).reduce(0.0) { $0 + abs(Double($1.0 - $1.1)) } / Double(outputs.count)
    }
}

extension PredictionTask {
    /// The held-out metrics of a task of its kind, the first the one results lead with.
    public var metrics: [any Metric] {
        switch kind {
        case .binary: [AUCMetric(), LoglossMetric(), AccuracyMetric(), CalibrationMetric()]
        case .regression: [RootMeanSquaredErrorMetric(), MeanAbsoluteErrorMetric()]
        }
    }
}

/// One task's held-out metrics, in the order its kind lists them.
public struct TaskMetrics: Sendable, Equatable {
    public static func == (a: TaskMetrics, b: TaskMetrics) -> Bool {
        a.task == b.task && a.values.map(\.name) == b.values.map(\.name) && a.values.map(\.value) == b.values.map(\.value)
    }

    public var task: PredictionTask
    public var values: [(name: String, value: Double)]

    /// The value of the metric `name` (`auc`), if the task has it.
    public subscript(name: String) -> Double? { values.first { $0.name == name }?.value }

    /// The metrics of `task` over its outputs and labels.
    public static func compute(_ task: PredictionTask, outputs: [Float], labels: [Float]) -> TaskMetrics {
        TaskMetrics(task: task, values: task.metrics.map { ($0.name, $0.value(outputs: outputs, labels: labels)) })
    }

    /// "AUC 0.8123  logloss 0.4410  accuracy 0.8012  calibration 1.0200", as printed.
    public var text: String {
        values.map { name, value in
            name == "auc" ? "AUC \(BinaryClassificationMetrics.text(auc: value))" : "\(name) \(String(format: "%.4f", value))"
        }.joined(separator: "  ")
    }
}

/// Held-out metrics of every task, over `count` samples.
public struct HeldOutMetrics: Sendable, Equatable {
    public var tasks: [TaskMetrics]
    public var count: Int
    /// A gated model's gates: the mean weight each gives each expert (empty for other models).
    public var gates: [GateUsage] = []

    /// The metrics of every task from outputs and labels laid out (count, tasks).
    public static func compute(tasks: [PredictionTask], outputs: [Float], labels: [Float]) throws -> HeldOutMetrics {
        guard outputs.count == labels.count else { throw MetricsError.sizeMismatch(scores: outputs.count, labels: labels.count) }
        guard !outputs.isEmpty else { throw MetricsError.empty }
        let taskCount = tasks.count, count = outputs.count / taskCount
        return HeldOutMetrics(tasks: tasks.enumerated().map { k, task in
            let column = (0..<count).map { $0 * taskCount + k }
            return TaskMetrics.compute(task, outputs: column.map { outputs[$0] }, labels: column.map { labels[$0] })
        }, count: count)
    }

    /// The first task's metrics: a single-task run's AUC, logloss and accuracy (NaN for a
    /// regression task).
    public var auc: Double { tasks.first?["auc"] ?? .nan }
    public var logloss: Double { tasks.first?["logloss"] ?? .nan }
    public var accuracy: Double { tasks.first?["accuracy"] ?? .nan }

    /// The metrics of the task named `name`.
    public func task(named name: String) -> TaskMetrics? { tasks.first { $0.task.name == name } }

    /// Every value in a fixed order (tasks, then their metrics), and back: for sharing over ranks.
    var flattened: [Double] { tasks.flatMap { $0.values.map(\.value) } }
    func replacing(_ values: [Double]) -> HeldOutMetrics {
        var copy = self, index = 0
        for t in copy.tasks.indices {
            for m in copy.tasks[t].values.indices {
                copy.tasks[t].values[m].value = values[index]
                index += 1
            }
        }
        return copy
    }
}
