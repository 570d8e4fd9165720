/// One thing a model predicts per sample: a named label and how it is learned.
///
/// A batch carries one label per task and sample; a model returns one output per task (a logit
/// for a binary task, a value for a regression). A single-task run has one binary task named
/// `click` unless its data names it otherwise.
public struct PredictionTask: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Labels 0 or 1; the output is a logit, learned by binary cross-entropy.
        case binary
        /// Real-valued labels; the output is the value, learned by squared error.
        case regression
    }

    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind = .binary) {
        self.name = name
        self.kind = kind
    }

    /// The task of a single-label run.
    public static let click = PredictionTask(name: "click")
    /// The task of a retriever's data without labels: every line is a positive interaction.
    public static let interaction = PredictionTask(name: "interaction")
}
