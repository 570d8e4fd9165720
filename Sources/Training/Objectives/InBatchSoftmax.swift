import Foundation
import Compute
import DataPipeline
import Distributed
import Models
import NeuralNetwork

/// A retriever's objective: every user of the global batch scored against every item of it,
/// a softmax cross-entropy per user with its own item the target (in-batch sampled softmax,
/// Yi et al., RecSys 2019), and with a `NegativeSampler` against items drawn uniformly from the
/// catalogue too (mixed negative sampling, Yang et al., WWW 2020): each rank's batch is then its
/// interactions followed by its share of the negatives.
///
/// Each rank holds a slice of the batch: it gathers every rank's item vectors and item ids
/// (in rank order, so the columns are the global batch's samples as one process sees them),
/// scores its users against them, and sums the gradients of the gathered item vectors over the
/// ranks before keeping its own: N ranks compute the loss and gradients one process computes.
/// Logits are `u · v / temperature`, lowered with the correction by the log of each column's
/// expected count among the candidates (an interaction's item: Bg Q(item), Q its share of the
/// training pairs; a uniform negative: M / catalogue); a column holding the row's own item at
/// another position (an accidental hit, a negative included) is left out.
public final class InBatchSoftmax: TrainingObjective {
    public let settings: RetrievalObjective
    public private(set) var partLosses: [Double] = [0]
    private let backend: any ComputeBackend
    private let communicator: Communicator
    private let width: Int
    /// log Q of each item id (by row of the item key table), when corrected.
    private let logQ: [Float]?
    /// Each rank's uniform negatives appended to its batch, and the log of a negative's
    /// expected count (M / catalogue size).
    private let negativesPerRank: [Int]
    private let negativeCorrection: Float
    /// The gathered item vectors (columns, width), their ids and corrections, the logits (B,
    /// columns) and the gathered items' gradients (columns, width).
    private let items: DeviceBuffer<Float>
    private let keys: DeviceBuffer<Int32>
    private let corrections: DeviceBuffer<Float>
    private let logits: DeviceBuffer<Float>
    private let itemGradients: DeviceBuffer<Float>
    /// Every column's item id and correction (host), and this rank's items' ids.
    private var hostKeys: [Int32]
    private var hostCorrections: [Float]
    private var ownKeys: [Int32]

    /// - Parameters:
    ///   - vectorWidth: the towers' output width.
    ///   - globalBatchCapacity: the largest global batch (interactions and negatives: the columns of a row).
    ///   - itemCounts: each item id's training pairs (by row of the item key table), for log Q.
    ///   - negativesPerRank: each rank's uniform negatives (empty without), drawn from `catalogueSize` items.
    public init(settings: RetrievalObjective, vectorWidth: Int, batchCapacity: Int, globalBatchCapacity: Int, itemCounts: [Int],
                negativesPerRank: [Int] = [], catalogueSize: Int = 1, backend: any ComputeBackend, communicator: Communicator) {
        self.settings = settings
        self.backend = backend
        self.communicator = communicator
        width = vectorWidth
        if settings.logQCorrection {
            let total = Double(max(itemCounts.reduce(0, +), 1))
            logQ = itemCounts.map { Float(Foundation.log(Double(max($0, 1)) / total)) }
        } else {
            logQ = nil
        }
        self.negativesPerRank = negativesPerRank.isEmpty ? Array(repeating: 0, count: communicator.size) : negativesPerRank
        negativeCorrection = Float(Foundation.log(Double(max(negativesPerRank.reduce(0, +), 1)) / Double(max(catalogueSize, 1))))
        items = backend.makeFloats(globalBatchCapacity * vectorWidth)
        keys = backend.makeIndices(globalBatchCapacity)
        corrections = backend.makeFloats(globalBatchCapacity)
        logits = backend.makeFloats(batchCapacity * globalBatchCapacity)
        itemGradients = backend.makeFloats(globalBatchCapacity * vectorWidth)
        hostKeys = Array(repeating: 0, count: globalBatchCapacity)
        hostCorrections = Array(repeating: 0, count: globalBatchCapacity)
        ownKeys = Array(repeating: 0, count: globalBatchCapacity)
    }

    /// `globalBatchSize` counts the interactions; the batch holds this rank's slice of them
    /// followed by its negatives.
    public func lossAndGradient(outputs: DeviceSlice<Float>, batch: Batch, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                                globalBatchSize: Int) throws -> Double {
        let worldSize = communicator.size, rank = communicator.rank, e = width
        let interactions = (0..<worldSize).map { BatchLoader.slice(of: globalBatchSize, rank: $0, worldSize: worldSize).count }
        let blocks = zip(interactions, negativesPerRank).map { $0 + $1 }
        let starts = offsets(of: blocks.map(Int32.init)).map(Int.init), columns = blocks.reduce(0, +)
        let users = interactions[rank], rows = blocks[rank], first = starts[rank]
        precondition(batch.size == rows, "InBatchSoftmax: a batch of \(batch.size), its slice is \(users) and \(negativesPerRank[rank]) negatives")
        let userVectors = outputs.slice(0, users * e), ownItems = outputs.slice(rows * e, rows * e)
        let allItems = items.slice(0, columns * e)
        // Every rank's items and their ids, in rank order.
        for b in 0..<rows { ownKeys[b] = batch.firstID(ofTable: settings.itemKeyTable, sample: b) }
        if worldSize > 1 {
            try communicator.allGatherV(send: ownItems, counts: blocks.map { Int32($0 * e) }, receive: allItems)
            try ownKeys.withUnsafeBufferPointer { own in
                try hostKeys.withUnsafeMutableBufferPointer {
                    try communicator.allGatherV(send: own.baseAddress!, counts: blocks.map(Int32.init), receive: $0.baseAddress!)
                }
            }
        } else {
            backend.copy(ownItems, to: allItems)
            for b in 0..<rows { hostKeys[b] = ownKeys[b] }
        }
        // Each column's correction: an interaction's log(Bg Q), a negative's log(M / catalogue)
        // (the Bg only matters against the negatives: a row's softmax ignores a shared constant).
        let hasNegatives = negativesPerRank.contains { $0 > 0 }
        let batchTerm = hasNegatives ? Float(Foundation.log(Double(globalBatchSize))) : 0
        for r in 0..<worldSize {
            for c in starts[r]..<(starts[r] + blocks[r]) {
                guard let logQ else { hostCorrections[c] = 0; continue }
                let key = Int(hostKeys[c])
                hostCorrections[c] = c - starts[r] < interactions[r]
                    ? (key >= 0 && key < logQ.count ? logQ[key] : 0) + batchTerm : negativeCorrection
            }
        }
        hostKeys.withUnsafeBufferPointer { backend.upload(UnsafeBufferPointer(rebasing: $0[0..<columns]), to: keys.slice(0, columns)) }
        hostCorrections.withUnsafeBufferPointer {
            backend.upload(UnsafeBufferPointer(rebasing: $0[0..<columns]), to: corrections.slice(0, columns))
        }

        // Logits (B, columns) = U V^T / temperature, turned into their gradient in place.
        let scale = 1 / settings.temperature, scores = logits.slice(0, users * columns)
        backend.gemm(transposeA: false, transposeB: true, m: users, n: columns, k: e, alpha: scale, a: userVectors, lda: e,
                     b: allItems, ldb: e, beta: 0, c: scores, ldc: columns)
        let total = backend.sampledSoftmaxCrossEntropy(scores, rows: users, columns: columns, corrections: corrections.whole,
                                                       keys: keys.whole, firstTarget: first, gradientScale: 1 / Float(globalBatchSize))
        // dU = G V / temperature (none for the negatives' rows); dV (every gathered item) =
        // G^T U / temperature, summed over the ranks.
        backend.gemm(transposeA: false, transposeB: false, m: users, n: e, k: columns, alpha: scale, a: scores, lda: columns,
                     b: allItems, ldb: e, beta: 0, c: gradient.slice(0, users * e), ldc: e)
        if rows > users { backend.fill(gradient.slice(users * e, (rows - users) * e), with: 0) }
        let allGradients = itemGradients.slice(0, columns * e)
        backend.gemm(transposeA: true, transposeB: false, m: columns, n: e, k: users, alpha: scale, a: scores, lda: columns,
                     b: userVectors, ldb: e, beta: 0, c: allGradients, ldc: e)
        if worldSize > 1 { try communicator.allReduceSum(allGradients) }
        backend.copy(itemGradients.slice(first * e, rows * e), to: gradient.slice(rows * e, rows * e))
        let loss = users > 0 ? total / Double(users) : 0
        partLosses[0] = loss
        return loss
    }
}
