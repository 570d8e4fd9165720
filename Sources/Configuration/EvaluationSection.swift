/// Held-out evaluation: at the end, and optionally during training.
public struct EvaluationSection: Codable, Sendable, Equatable {
    public var batchSize = 8192
    /// Evaluate on the held-out split every this many steps (0: only at the end).
    public var everySteps = 0
    /// Stop training once the held-out AUC reaches this (0: never), as MLPerf does.
    public var earlyStopAUC = 0.0
    /// The binary task whose held-out AUC early stopping and `checkpoint.keep_best` follow
    /// (default: the first).
    public var task: String?
    /// A retriever's cutoffs: Recall@K and NDCG@K for each K.
    public var topK = [10, 50, 100]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size"
        case everySteps = "every_steps"
        case earlyStopAUC = "early_stop_auc"
        case task
        case topK = "top_k"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 8192
        everySteps = try c.decodeIfPresent(Int.self, forKey: .everySteps) ?? 0
        earlyStopAUC = try c.decodeIfPresent(Double.self, forKey: .earlyStopAUC) ?? 0
        task = try c.decodeIfPresent(String.self, forKey: .task)
        topK = try c.decodeIfPresent([Int].self, forKey: .topK) ?? topK
    }
}
