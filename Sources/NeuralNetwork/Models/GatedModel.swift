import Compute

/// Where a gate sits and what it mixes, for the gate statistics `evaluate` reports.
public struct GateDescription: Sendable {
    /// Its level, and its task (nil for a level's shared gate).
    public var level: Int
    public var task: Int?
    /// The experts it mixes, in order: each expert's task (nil when shared) and its number there.
    public var experts: [(task: Int?, index: Int)]
}

/// A model whose outputs mix experts through softmax gates: `evaluate` averages each gate's
/// weights over the held-out samples.
public protocol GatedModel: RecommendationModel {
    /// Every gate over more than one expert, with its weights of the last forward (B, experts).
    func gateWeights(rows: Int) -> [(gate: GateDescription, weights: DeviceSlice<Float>)]
}
