import Foundation
import Compute
import DataPipeline
import Distributed
import Models
import NeuralNetwork

/// A retriever's objective: every user of the global batch scored against every item of it,
/// a softmax cross-entropy per user with its own item the target (in-batch sampled softmax,
/// Yi et al., RecSys 2019).
///
/// Each rank holds a slice of the batch: it gathers every rank's item vectors and item ids
/// (in rank order, so the columns are the global batch's samples as one process sees them),
/// scores its users against them, and sums the gradients of the gathered item vectors over the
/// ranks before keeping its own: N ranks compute the loss and gradients one process computes.
/// Logits are `u · v / temperature`, lowered by log Q(item) with the correction; a column holding
/// the row's own item at another position (an accidental hit) is left out.
public final class InBatchSoftmax: TrainingObjective {
    public let settings: RetrievalObjective
    public private(set) var partLosses: [Double] = [0]
    private let backend: any ComputeBackend
    private let communicator: Communicator
    private let width: Int
    /// log Q of each item id (by row of the item key table), when corrected.
    private let logQ: [Float]?
    /// The gathered item vectors (Bg, width), their ids and corrections, the logits (B, Bg) and
    /// the gathered items' gradients (Bg, width).
    private let items: DeviceBuffer<Float>
    private let keys: DeviceBuffer<Int32>
    private let corrections: DeviceBuffer<Float>
    private let logits: DeviceBuffer<Float>
    private let itemGradients: DeviceBuffer<Float>
    private var hostKeys: [Int32]
    private var hostCorrections: [Float]

    /// - Parameters:
    ///   - vectorWidth: the towers' output width.
    ///   - globalBatchCapacity: the largest global batch (the columns of a row).
    ///   - itemCounts: each item id's training pairs (by row of the item key table), for log Q.
    public init(settings: RetrievalObjective, vectorWidth: Int, batchCapacity: Int, globalBatchCapacity: Int, itemCounts: [Int],
                backend: any ComputeBackend, communicator: Communicator) {
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
        items = backend.makeFloats(globalBatchCapacity * vectorWidth)
        keys = backend.makeIndices(globalBatchCapacity)
        corrections = backend.makeFloats(globalBatchCapacity)
        logits = backend.makeFloats(batchCapacity * globalBatchCapacity)
        itemGradients = backend.makeFloats(globalBatchCapacity * vectorWidth)
        hostKeys = Array(repeating: 0, count: globalBatchCapacity)
        hostCorrections = Array(repeating: 0, count: globalBatchCapacity)
    }

    public func lossAndGradient(outputs: DeviceSlice<Float>, batch: Batch, labels: DeviceSlice<Float>, gradient: DeviceSlice<Float>,
                                globalBatchSize: Int) throws -> Double {
        let rows = batch.size, worldSize = communicator.size, e = width
        let slices = (0..<worldSize).map { BatchLoader.slice(of: globalBatchSize, rank: $0, worldSize: worldSize) }
        let first = slices[communicator.rank].lowerBound
        precondition(slices[communicator.rank].count == rows, "InBatchSoftmax: a batch of \(rows), its slice is \(slices[communicator.rank].count)")
        let users = outputs.slice(0, rows * e), ownItems = outputs.slice(rows * e, rows * e)
        let allItems = items.slice(0, globalBatchSize * e)
        // Every rank's items and their ids, in rank order.
        for b in 0..<rows { hostKeys[first + b] = batch.firstID(ofTable: settings.itemKeyTable, sample: b) }
        if worldSize > 1 {
            let counts = slices.map { Int32($0.count) }
            try communicator.allGatherV(send: ownItems, counts: counts.map { $0 * Int32(e) }, receive: allItems)
            let own = Array(hostKeys[first..<(first + rows)])
            try own.withUnsafeBufferPointer { own in
                try hostKeys.withUnsafeMutableBufferPointer { try communicator.allGatherV(send: own.baseAddress!, counts: counts, receive: $0.baseAddress!) }
            }
        } else {
            backend.copy(ownItems, to: allItems)
        }
        for c in 0..<globalBatchSize {
            let key = Int(hostKeys[c])
            hostCorrections[c] = logQ.map { key >= 0 && key < $0.count ? $0[key] : 0 } ?? 0
        }
        hostKeys.withUnsafeBufferPointer { backend.upload(UnsafeBufferPointer(rebasing: $0[0..<globalBatchSize]), to: keys.slice(0, globalBatchSize)) }
        hostCorrections.withUnsafeBufferPointer {
            backend.upload(UnsafeBufferPointer(rebasing: $0[0..<globalBatchSize]), to: corrections.slice(0, globalBatchSize))
        }

        // Logits (B, Bg) = U V^T / temperature, turned into their gradient in place.
        let scale = 1 / settings.temperature, scores = logits.slice(0, rows * globalBatchSize)
        backend.gemm(transposeA: false, transposeB: true, m: rows, n: globalBatchSize, k: e, alpha: scale, a: users, lda: e,
                     b: allItems, ldb: e, beta: 0, c: scores, ldc: globalBatchSize)
        let total = backend.sampledSoftmaxCrossEntropy(scores, rows: rows, columns: globalBatchSize, corrections: corrections.whole,
                                                       keys: keys.whole, firstTarget: first, gradientScale: 1 / Float(globalBatchSize))
        // dU = G V / temperature; dV (every gathered item) = G^T U / temperature, summed over the ranks.
        backend.gemm(transposeA: false, transposeB: false, m: rows, n: e, k: globalBatchSize, alpha: scale, a: scores, lda: globalBatchSize,
                     b: allItems, ldb: e, beta: 0, c: gradient.slice(0, rows * e), ldc: e)
        let allGradients = itemGradients.slice(0, globalBatchSize * e)
        backend.gemm(transposeA: true, transposeB: false, m: globalBatchSize, n: e, k: rows, alpha: scale, a: scores, lda: globalBatchSize,
                     b: users, ldb: e, beta: 0, c: allGradients, ldc: e)
        if worldSize > 1 { try communicator.allReduceSum(allGradients) }
        backend.copy(itemGradients.slice(first * e, rows * e), to: gradient.slice(rows * e, rows * e))
        let loss = rows > 0 ? total / Double(rows) : 0
        partLosses[0] = loss
        return loss
    }
}
