import Compute
import NeuralNetwork

/// A two-tower retriever (`model.architecture: two_tower`): a user tower and an item tower, each
/// an MLP over its own tables, their outputs on the unit sphere, trained by an in-batch sampled
/// softmax and scored by exact top-K over the item catalogue.
public struct TwoTowerDefinition: ModelDefinition, Equatable {
    public static let name = "two_tower"
    public static let benchName = "two-tower"
    public static let summary = "user and item towers, in-batch sampled softmax, top-K retrieval"
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    /// The item tower's tables (0-based, as `data`'s categorical features are numbered); the
    /// first names the item. Every other table, and the dense features, feed the user tower,
    /// whose first table names the user.
    public var itemTables: [Int] = []
    /// Each tower's widths after its input; the last is the vectors' width.
    public var towerMLP = [128, 64]
    /// Logits are the vectors' dot products divided by this.
    public var temperature: Double = 0.05
    /// Lower each item's logit by the log of its share of the training pairs.
    public var logQCorrection = true
    /// Items drawn uniformly from the catalogue each step as extra negatives (mixed negative sampling).
    public var uniformNegatives = 0

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case itemTables = "item_tables"
        case towerMLP = "tower_mlp"
        case temperature
        case logQCorrection = "logq_correction"
        case uniformNegatives = "uniform_negatives"
    }

    public init(itemTables: [Int], towerMLP: [Int] = [128, 64], temperature: Double = 0.05, logQCorrection: Bool = true,
                uniformNegatives: Int = 0) {
        self.itemTables = itemTables
        self.towerMLP = towerMLP
        self.temperature = temperature
        self.logQCorrection = logQCorrection
        self.uniformNegatives = uniformNegatives
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        itemTables = try c.decodeIfPresent([Int].self, forKey: .itemTables) ?? itemTables
        towerMLP = try c.decodeIfPresent([Int].self, forKey: .towerMLP) ?? towerMLP
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature) ?? temperature
        logQCorrection = try c.decodeIfPresent(Bool.self, forKey: .logQCorrection) ?? logQCorrection
        uniformNegatives = try c.decodeIfPresent(Int.self, forKey: .uniformNegatives) ?? uniformNegatives
    }

    public var values: [(key: String, value: String)] {
        [("item_tables", "\(itemTables)"), ("tower_mlp", "\(towerMLP)"), ("temperature", "\(temperature)"),
         ("logq_correction", "\(logQCorrection)"), ("uniform_negatives", "\(uniformNegatives)")]
    }

    public var layerWidths: [Int] { towerMLP + towerMLP }

    public func problems(for shape: ModelShape) -> [ModelProblem] {
        var problems = Self.widthProblems(towerMLP, key: "model.tower_mlp")
        problems += Self.require(!itemTables.isEmpty, "model.item_tables", "required: the item tower's tables (at least one)")
        for (index, table) in itemTables.enumerated() where !(0..<shape.tableCount).contains(table) {
            problems += [ModelProblem(key: "model.item_tables[\(index)]", message: "must be a table in 0..<\(shape.tableCount), got \(table)")]
        }
        problems += Self.require(Set(itemTables).count == itemTables.count, "model.item_tables", "lists a table twice")
        problems += Self.require(Set(itemTables).count < shape.tableCount, "model.item_tables",
                                 "leaves no table for the user tower (it has \(shape.tableCount))")
        problems += Self.require(temperature.isFinite && temperature > 0 && temperature <= 100, "model.temperature",
                                 "must be in (0, 100], got \(temperature)")
        problems += Self.require((0...1_000_000).contains(uniformNegatives), "model.uniform_negatives",
                                 "must be in 0...1000000, got \(uniformNegatives)")
        return problems
    }

    func architecture(_ shape: ModelShape) -> TwoTowerArchitecture {
        TwoTowerArchitecture(denseFeatureCount: shape.denseFeatureCount, tableRowCounts: shape.tableRowCounts,
                             embeddingDimension: shape.embeddingDimension, itemTables: itemTables, towerWidths: towerMLP,
                             pooling: shape.pooling)
    }

    public func makeModel(_ shape: ModelShape, batchCapacity: Int, seed: UInt64, backend: any ComputeBackend,
                          makeEmbeddings: @escaping EmbeddingFactory) throws -> RecommendationModel {
        try TwoTower(architecture(shape), batchCapacity: batchCapacity, seed: seed, backend: backend, makeEmbeddings: makeEmbeddings)
    }

    public var retrieval: RetrievalObjective? {
        RetrievalObjective(temperature: Float(temperature), logQCorrection: logQCorrection,
                           userKeyTable: (0...Int.max).first { !itemTables.contains($0) }!, itemKeyTable: itemTables.first ?? 0,
                           itemTables: itemTables, uniformNegatives: uniformNegatives)
    }

    /// The serving graph of the user tower: a user's vector (on the unit sphere) from its ids
    /// and dense features; the item tower's vectors are exported apart.
    public func onnxLogit(of model: RecommendationModel, in graph: inout OnnxModelGraph) -> String {
        let twoTower = model as! TwoTower
        let pooled = graph.embeddingBags(twoTower.embeddings)
        let users = twoTower.architecture.userTables.map { pooled[$0] }
        let hasDense = twoTower.architecture.denseFeatureCount > 0
        let output = graph.mlp(twoTower.userTower, name: "user_tower", input: graph.concat(users + (hasDense ? [graph.dense] : [])))
        return graph.normalizedRows(output)
    }

    public static func benchPreset(embeddingDimension: Int) -> (definition: Self, idsPerSample: Int) {
        (Self(itemTables: [24, 25], towerMLP: [128, 64]), 1)
    }

    /// The towers; the in-batch logits (a product per pair of the global batch) depend on its
    /// size and are not counted.
    public func flopsPerSample(of model: RecommendationModel) -> (mlps: Double, other: Double) {
        let twoTower = model as! TwoTower
        return (trainingFlopsPerSample(of: twoTower.userTower.layers, firstLayerNeedsInputGradient: true)
                + trainingFlopsPerSample(of: twoTower.itemTower.layers, firstLayerNeedsInputGradient: true), 0)
    }
}
