import Foundation
import Training

/// Held-out metrics as `train` and `evaluate` print them: a single binary task's on one line
/// with the keys runs have always had (`auc`, `logloss`, `accuracy`); several tasks (or a
/// regression) one line each, and per task under `tasks` in JSON (`tasks.like.auc`); a gated
/// model's gates under `gates` (`gates.like.expert0`) and `unused_experts`.
struct HeldOutResult {
    let evaluation: HeldOutMetrics
    let planted: HeldOutMetrics?

    private var isSingleBinaryTask: Bool {
        evaluation.tasks.count == 1 && evaluation.tasks[0].task.kind == .binary && evaluation.tasks[0]["auc"] != nil
    }
    /// A retriever's one task, scored by Recall@K and NDCG@K.
    private var isRetrieval: Bool { evaluation.tasks.count == 1 && evaluation.tasks[0]["auc"] == nil && evaluation.tasks[0].task.kind == .binary }

    /// The text lines; `showsGap` adds the planted model's AUC gap. A gated model's gates follow.
    func text(showsGap: Bool) -> String {
        ([metricsText(showsGap: showsGap)] + gateLines).joined(separator: "\n")
    }

    /// Each gate's mean weight per expert, and the experts no gate uses.
    private var gateLines: [String] {
        let gates = evaluation.gates
        guard !gates.isEmpty else { return [] }
        var lines = ["gates (mean weight per expert):"]
        for gate in gates {
            lines.append("  \(gate.gate): " + gate.experts.map { "\($0.expert) \(Training.format($0.weight, 3))" }.joined(separator: "  "))
        }
        let unused = GateUsage.unusedExperts(gates)
        if !unused.isEmpty {
            lines.append("  unused: \(unused.joined(separator: ", ")) (mean weight below \(GateUsage.unusedBelow) in every gate)")
        }
        return lines
    }

    private func metricsText(showsGap: Bool) -> String {
        let e = evaluation
        if isSingleBinaryTask {
            var line = "held-out: AUC \(BinaryClassificationMetrics.text(auc: e.auc))  logloss \(Training.format(e.logloss, 4))  "
                + "accuracy \(Training.format(e.accuracy, 4))  (\(e.count) samples)"
            if let planted {
                line += "\nplanted model: AUC \(Training.format(planted.auc, 4))  logloss \(Training.format(planted.logloss, 4))"
                    + (showsGap ? "  (AUC gap \(Training.format(planted.auc - e.auc, 4)))" : "")
            }
            return line
        }
        if isRetrieval { return "held-out: \(e.tasks[0].text)  (\(e.count) users)" }
        var lines = ["held-out (\(e.count) samples):"]
        for task in e.tasks {
            var line = "  \(task.task.name): \(task.text)"
            if let planted = planted?.task(named: task.task.name), let auc = planted["auc"] {
                line += "  (planted model: AUC \(Training.format(auc, 4)))"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The JSON keys: the first task's `auc`, `logloss`, `accuracy` and `planted_auc` (as a
    /// single-task run has them), and every task's metrics under `tasks`.
    var json: [String: Any] {
        var tasks: [String: Any] = [:]
        for task in evaluation.tasks {
            var values: [String: Any] = Dictionary(uniqueKeysWithValues: task.values.map { ($0.name, $0.value as Any) })
            if let planted = planted?.task(named: task.task.name) {
                for (name, value) in planted.values { values["planted_\(name)"] = value }
            }
            tasks[task.task.name] = values
        }
        var result: [String: Any] = ["auc": evaluation.auc, "logloss": evaluation.logloss, "accuracy": evaluation.accuracy,
                                     "planted_auc": jsonValue(planted?.auc), "planted_logloss": jsonValue(planted?.logloss), "tasks": tasks]
        if isRetrieval {
            for (name, value) in evaluation.tasks[0].values { result[name] = value }
        }
        if !evaluation.gates.isEmpty {
            result["gates"] = Dictionary(uniqueKeysWithValues: evaluation.gates.map { gate in
                (gate.gate, Dictionary(uniqueKeysWithValues: gate.experts.map { ($0.expert, $0.weight) }))
            })
            result["unused_experts"] = GateUsage.unusedExperts(evaluation.gates)
        }
        return result
    }
}
