import Compute

/// What the trainer needs of a model: one forward and one backward per batch, with one output
/// per task.
///
/// Dense parameters live in `arena`, on the model's `backend`; `embeddingTables` are every
/// sparsely updated table (the wide part's width-1 tables included). Forward copies the batch
/// into `inputs`; backward runs on that batch, adds into the arena's gradients (the caller
/// zeroes them) and, by `embeddingMode`, fills each table's `gradient` with the rows the batch
/// touched or updates those rows by SGD in the same pass.
public protocol RecommendationModel: AnyObject {
    var backend: any ComputeBackend { get }
    var arena: ParameterArena { get }
    var embeddingTables: [EmbeddingTable] { get }
    /// The model's embedding collections (DLRM: its tables; Wide&Deep: its tables and the wide
    /// part's width-1 tables), with the sizes of the whole tables.
    var embeddingCollections: [EmbeddingCollection] { get }
    var batchCapacity: Int { get }
    /// The batch of the last forward, in backend memory.
    var inputs: DeviceBatch { get }
    /// Outputs per sample: one per task (a logit for a binary task, a value for a regression).
    var outputCount: Int { get }
    /// Outputs (B, outputCount) for `batch`; valid until the next forward. Throws only when
    /// sharded embeddings fail to communicate.
    func forward(_ batch: Batch) throws -> DeviceSlice<Float>
    /// Where the caller writes dL/d(output) (B, outputCount) before `backward`.
    var logitGradient: DeviceSlice<Float> { get }
    /// Backward through the batch of the last forward, as stages the caller runs in order. Each
    /// returns the arena slice whose gradients it finished (together the stages cover the arena),
    /// so a distributed step sums that slice over ranks before it runs the next stage, while the
    /// rest of backward is still to come.
    func backwardStages(embeddingMode: EmbeddingBackwardMode) -> [BackwardStage]
    /// Starts exchanging the embedding requests of `next`, the batch a later forward takes, for
    /// the collections that look it up as it is (a model whose collections see views of the batch
    /// routes nothing ahead); see `EmbeddingCollection.beginRouting(ahead:)`.
    func beginRouting(ahead next: Batch) throws
}

/// One stage of a backward: runs it, and returns the slice of the parameter arena whose
/// gradients it finished (nil when it finished none).
public typealias BackwardStage = () throws -> Range<Int>?

extension RecommendationModel {
    /// Backward that collects every table's row gradients.
    public func backward() throws { try backward(embeddingMode: .collectGradients) }

    /// Every collection routes `next` ahead: the models whose collections look up the batch as it is.
    public func beginRouting(ahead next: Batch) throws {
        for collection in embeddingCollections { try collection.beginRouting(ahead: next) }
    }

    /// The whole backward, its stages one after another.
    public func backward(embeddingMode: EmbeddingBackwardMode) throws {
        for stage in backwardStages(embeddingMode: embeddingMode) { _ = try stage() }
    }

    /// Whether every table of the model (on any rank) stores fp32 rows.
    public var tablesAreFP32: Bool { embeddingCollections.allSatisfy { $0.specification.precision == .fp32 } }

    /// Number of trainable scalars (dense arena plus every table).
    public var parameterCount: Int {
        arena.entries.reduce(0) { $0 + $1.count } + embeddingTables.reduce(0) { $0 + $1.valueCount }
    }
}
