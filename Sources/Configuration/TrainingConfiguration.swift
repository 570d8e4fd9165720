import Models

/// Any key of a section, for listing the keys it holds.
struct AnyKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// The whole run, as written in a YAML config. Keys are snake_case; every section and key is
/// listed in its `CodingKeys`, which is also what unknown keys are checked against.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    public var model: ModelSection
    public var data: DataSection
    public var training: TrainingSection
    public var evaluation: EvaluationSection
    public var checkpoint: CheckpointSection
    public var distributed: DistributedSection
    public var run: RunSection

    enum CodingKeys: String, CodingKey, CaseIterable { case model, data, training, evaluation, checkpoint, distributed, run }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(ModelSection.self, forKey: .model)
        data = try container.decodeIfPresent(DataSection.self, forKey: .data) ?? DataSection()
        training = try container.decodeIfPresent(TrainingSection.self, forKey: .training) ?? TrainingSection()
        evaluation = try container.decodeIfPresent(EvaluationSection.self, forKey: .evaluation) ?? EvaluationSection()
        checkpoint = try container.decodeIfPresent(CheckpointSection.self, forKey: .checkpoint) ?? CheckpointSection()
        distributed = try container.decodeIfPresent(DistributedSection.self, forKey: .distributed) ?? DistributedSection()
        run = try container.decodeIfPresent(RunSection.self, forKey: .run) ?? RunSection()
        // A delimited schema (of the data, or of the records made from it) lists the categorical
        // features: without model.table_count, the model has one table per feature (table_rows
        // given as one number applies to each).
        let modelKeys = try container.nestedContainer(keyedBy: ModelSection.CodingKeys.self, forKey: .model)
        if data.source == .delimited || data.source == .records, let schema = data.delimited, !modelKeys.contains(.tableCount) {
            model.tableCount = schema.categorical.count
            if let single = try? modelKeys.decode(Int.self, forKey: .tableRows) {
                model.tableRows = Array(repeating: single, count: model.tableCount)
            } else if (try? modelKeys.decode(TableRowsEntry.self, forKey: .tableRows))?.isDynamic == true {
                model.tableRows = Array(repeating: model.dynamic.rule.capacity, count: model.tableCount)
                model.dynamicTables = Array(repeating: true, count: model.tableCount)
            } else if !modelKeys.contains(.tableRows) {
                model.tableRows = Array(repeating: ModelSection.defaultTableRows, count: model.tableCount)
            }
        }
        // Defaults that depend on the tables or on a schema's behaviour sequence (BST's).
        let given = Set(try container.nestedContainer(keyedBy: AnyKey.self, forKey: .model).allKeys.map(\.stringValue))
        let sequence = data.delimited?.historyFeature.map { (table: $0.index, length: $0.maxLength) }
        model.definition.complete(for: model.shape(denseFeatureCount: data.denseFeatures, taskCount: data.tasks.count),
                                  sequence: sequence, given: given)
    }
}

extension TrainingConfiguration {
    /// The shape the model is built to: the model section's tables and width, the data's dense
    /// features and tasks.
    public var modelShape: ModelShape {
        model.shape(denseFeatureCount: data.denseFeatures, taskCount: data.tasks.count)
    }

    /// Each task's weight in the loss, in task order (`training.loss_weights`; 1 where unnamed).
    public var lossWeights: [Float] {
        data.tasks.map { Float(training.lossWeights[$0.name] ?? 1) }
    }
}
