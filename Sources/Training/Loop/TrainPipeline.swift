import Compute
import Distributed
import NeuralNetwork

/// What a distributed step overlaps with its computation, owned in one place and driven in
/// order by `TrainingStep` (TorchRec's `TrainPipelineSparseDist`): the next batch's embedding
/// requests exchanged during this step (`routeAhead`, told to the forward that takes that batch
/// by its serial), and the dense gradients all-reduced bucket by bucket as the step runs the
/// model's backward stage by stage (`gradientsReady`), the requests ahead moved on between them.
final class TrainPipeline {
    let model: RecommendationModel
    let communicator: Communicator
    /// The arena slices all-reduced in each backward, in order (the gradient buckets), as
    /// recorded in the first step.
    private(set) var bucketRanges: [Range<Int>] = []
    private var bucketsRecorded = false
    private var reductionError: Error?
    /// The serial of the batch whose requests are being exchanged ahead.
    private var routedAhead: Int?

    init(model: RecommendationModel, communicator: Communicator) {
        self.model = model
        self.communicator = communicator
    }

    /// Called before the forward of `batch`: the forward takes the routing ahead when `batch` is
    /// the batch routed ahead (any other, or a batch no loader filled, is routed in its forward).
    func beginForward(_ batch: Batch) {
        if let routedAhead, batch.serial >= 0, batch.serial == routedAhead {
            for collection in model.embeddingCollections { collection.nextForwardTakesRoutingAhead() }
        }
        routedAhead = nil
    }

    /// Starts exchanging the requests of `next`, the batch the next step trains on.
    func routeAhead(_ next: Batch) throws {
        try model.beginRouting(ahead: next)
        routedAhead = next.serial
    }

    /// Ends an exchange begun ahead whose batch will not be trained on.
    func abandonRouteAhead() throws {
        for collection in model.embeddingCollections { try collection.abandonRouting() }
        routedAhead = nil
    }

    /// A slice of the arena is final: its sum over ranks runs now, in place, before the next
    /// stage of backward. A blocking MPI_Allreduce per bucket: OpenMPI's non-blocking one (libnbc) reached
    /// half the bandwidth here, more than overlap could win back (see README, "Distributed").
    /// A failure is kept for `synchronizeGradients` (every rank still takes its turns).
    func gradientsReady(_ range: Range<Int>) {
        if !bucketsRecorded { bucketRanges.append(range) }
        guard reductionError == nil else { return }
        do {
            // The next batch's requests, begun after forward, go out once their counts are in.
            for collection in model.embeddingCollections { try collection.advanceRouting() }
            try communicator.allReduceSum(model.arena.gradients.slice(range.lowerBound, range.count))
        } catch {
            reductionError = error
        }
    }

    /// Ends the sum of the dense gradients over all ranks: backward all-reduced each bucket;
    /// this reports a failure of any of them.
    func synchronizeGradients() throws {
        guard communicator.size > 1 else { return }
        bucketsRecorded = true
        if let error = reductionError { throw error }
    }
}
