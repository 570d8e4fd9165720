import Compute
import NeuralNetwork

/// The tables of one placement in a sharded collection (replicated, table-wise or row-wise),
/// and what each stage of a step does with them. The collection runs the stages every placement
/// shares — route the ids, serve and exchange the requested rows, exchange their gradients —
/// and asks each placement to look up and to update its own tables in between.
protocol TablePlacement: AnyObject {
    /// Forward: pools each of its tables' bags into `output`, laid out as `layout`.
    func pool(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout)
    /// Forward of width-1 tables: adds each sample's pooled bags of its tables to `output[b]`.
    func addScalars(_ batch: DeviceBatch, output: DeviceSlice<Float>)
    /// Backward, before the exchange: sums the gradient of every row it requested, for the owners.
    func addRequestGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout)
    /// Backward, after the exchange: applies this rank's own contributions to the rows it holds
    /// (the received ones follow). Collective for placements that synchronise (replicas).
    func applyOwnGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                           mode: EmbeddingBackwardMode) throws
}

/// The lookups of tables whose rows come through the exchange: pooled from the rows the owners
/// answered, and the gradient of each requested row summed for its owner.
final class RequestedRows {
    /// The routing of the batch being looked up.
    var routing: RequestRouting
    let backend: any ComputeBackend
    let dimension: Int
    let pooling: Pooling
    /// The answered rows, at each request's send position.
    private(set) var fetched: DeviceBuffer<Float>
    /// The summed gradient of each requested row, at its send position.
    private(set) var gradients: DeviceBuffer<Float>

    init(routing: RequestRouting, backend: any ComputeBackend, dimension: Int, pooling: Pooling) {
        self.routing = routing
        self.backend = backend
        self.dimension = dimension
        self.pooling = pooling
        fetched = backend.makeFloats(0)
        gradients = backend.makeFloats(0)
    }

    /// Sizes both buffers for this batch's requests; zeroes the gradients.
    func prepare() {
        let count = routing.requestCount * dimension
        if fetched.count < count {
            fetched = backend.makeFloats(2 * count)
            gradients = backend.makeFloats(2 * count)
        }
        backend.fill(gradients.slice(0, count), with: 0)
    }

    /// Table t's bags with each id replaced by the send position of its request: the bags of
    /// the fetched rows.
    private func bags(_ batch: DeviceBatch, _ t: Int) -> EmbeddingBags {
        let bags = batch.bags(t)
        return EmbeddingBags(ids: routing.devicePositions[t].whole, offsets: bags.offsets, rows: bags.rows, idCount: bags.idCount)
    }

    func pool(table t: Int, _ batch: DeviceBatch, output: DeviceSlice<Float>, stride: Int) {
        backend.embeddingBags(bags(batch, t), table: fetched.whole, dimension: dimension, output: output, outputStride: stride,
                              pooling: pooling)
    }

    func addScalars(table t: Int, _ batch: DeviceBatch, output: DeviceSlice<Float>) {
        backend.embeddingBagsAddingScalars(bags(batch, t), table: fetched.whole, output: output)
    }

    func addGradient(table t: Int, _ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, stride: Int) {
        backend.embeddingBagsScatterAdd(bags(batch, t), gradient: outputGradient, gradientStride: stride, scale: 1,
                                        pooling: pooling, into: gradients.whole, dimension: dimension)
    }
}
