import Compute
import Configuration
import DataPipeline
import Datasets
import Distributed
import Foundation
import Planning
import Testing
import TestSupport
import Training

/// The pipeline routes the next batch's requests ahead and its forward then takes them: no
/// request exchange of its own (counted on 2 ranks as threads), and DLRM's forward starts the
/// rows' exchange to wait for it after the bottom MLP. A model whose collections see views of
/// the batch (BST) routes nothing ahead rather than an exchange no forward takes.
@Suite struct TrainPipelineTests {
    /// Forwards every call, counting the blocking request-count exchanges and the started ones.
    final class CountingCommunicator: Communicator, @unchecked Sendable {
        let wrapped: Communicator
        private(set) var countExchanges = 0, startedExchanges = 0, startedRowExchanges = 0
        init(wrapping wrapped: Communicator) { self.wrapped = wrapped }
        var rank: Int { wrapped.rank }
        var size: Int { wrapped.size }
        func barrier() throws { try wrapped.barrier() }
        func broadcast(_ values: DeviceSlice<Float>, root: Int) throws { try wrapped.broadcast(values, root: root) }
        func allReduceSum(_ values: DeviceSlice<Float>) throws { try wrapped.allReduceSum(values) }
        func allReduceSum(_ values: [Double]) throws -> [Double] { try wrapped.allReduceSum(values) }
        func allReduceMax(_ values: [Double]) throws -> [Double] { try wrapped.allReduceMax(values) }
        func allReduceMin(_ values: [Double]) throws -> [Double] { try wrapped.allReduceMin(values) }
        func allToAll(_ values: [Int32]) throws -> [Int32] {
            countExchanges += 1
            return try wrapped.allToAll(values)
        }
        func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                       receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
            try wrapped.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                  receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                       receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
            try wrapped.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                  receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                       receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
            try wrapped.allToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                  receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        func startAllToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                            receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws
            -> PendingExchange {
            startedExchanges += 1
            return try wrapped.startAllToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                              receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        func startAllToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                            receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws -> PendingExchange {
            startedRowExchanges += 1
            return try wrapped.startAllToAllV(send: send, sendCounts: sendCounts, sendOffsets: sendOffsets, receive: receive,
                                              receiveCounts: receiveCounts, receiveOffsets: receiveOffsets)
        }
        func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?, receiveCounts: [Int32],
                     receiveOffsets: [Int32], root: Int) throws {
            try wrapped.gatherV(send: send, receive: receive, receiveCounts: receiveCounts, receiveOffsets: receiveOffsets, root: root)
        }
        func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?, receiveCounts: [Int32],
                     receiveOffsets: [Int32], root: Int) throws {
            try wrapped.gatherV(send: send, count: count, receive: receive, receiveCounts: receiveCounts,
                                receiveOffsets: receiveOffsets, root: root)
        }
        func post(_ values: [Double], to destination: Int) throws { try wrapped.post(values, to: destination) }
        func nextPost(wait: Bool) throws -> (source: Int, values: [Double])? { try wrapped.nextPost(wait: wait) }
        func completePosts() throws { try wrapped.completePosts() }
        func abort(code: Int32) -> Never { wrapped.abort(code: code) }
    }

    /// Per step after the first: the blocking count exchanges of its forward, the exchanges
    /// started while routing the next batch ahead, and the rows' exchanges its forward started
    /// (to wait for them after the bottom MLP).
    static func exchanges(_ architecture: String) throws -> [(forward: Int, ahead: Int, rowsStarted: Int)] {
        let configuration = try ConfigurationLoader.parse("""
            model: {architecture: \(architecture), embedding_dimension: 4, table_count: 3, table_rows: [40, 3000, 50],
                    bottom_mlp: [8, 4], top_mlp: [8, 1], deep_mlp: [8, 1], sequence_table: 2, sequence_length: 3}
            data: {dense_features: 2, ids_per_sample: 2, synthetic: {train_samples: 400, eval_samples: 40}}
            training: {batch_size: 40}
            distributed: {sharding: row_wise}
            """, source: "pipeline.yaml")
        let results = try ThreadCommunicator.run(ranks: 2) { base -> [(Int, Int, Int)] in
            let communicator = CountingCommunicator(wrapping: base)
            let model = try ModelFactory.makeModel(configuration, batchCapacity: 20, communicator: communicator)
            let step = TrainingStep(model: model, settings: ModelFactory.optimizerSettings(configuration), communicator: communicator)
            let data = try DataSplits.load(configuration).train
            let loader = BatchLoader(dataset: data, batchSize: 40, shuffleSeed: 1, dropLast: true, rank: communicator.rank,
                                     worldSize: 2, prefetch: true)
            var counts: [(Int, Int, Int)] = []
            for index in 0..<5 {
                _ = try loader.next()
                let beforeForward = communicator.countExchanges, rowsBefore = communicator.startedRowExchanges
                _ = try step.forward(loader.batch, globalBatchSize: loader.globalBatchSize)
                let forward = communicator.countExchanges - beforeForward, rowsStarted = communicator.startedRowExchanges - rowsBefore
                let beforeAhead = communicator.startedExchanges
                if let next = loader.upcomingBatch() { try step.routeAhead(next) }
                let ahead = communicator.startedExchanges - beforeAhead
                try step.backward(learningRate: 0.1)
                try step.synchronizeGradients()
                step.update(learningRate: 0.1)
                if index > 0 { counts.append((forward, ahead, rowsStarted)) }
            }
            try step.abandonRouteAhead()
            return counts
        }
        return results[0].map { (forward: $0.0, ahead: $0.1, rowsStarted: $0.2) }
    }

    @Test func theBatchRoutedAheadIsNotRoutedAgain() throws {
        let steps = try Self.exchanges("dlrm")
        #expect(steps.count == 4)
        for step in steps {
            #expect(step.ahead > 0, "the next batch's requests were not exchanged ahead")
            #expect(step.forward == 0, "the forward exchanged the requests again: \(steps)")
            #expect(step.rowsStarted == 1, "the rows' exchange was not started before the bottom MLP: \(steps)")
        }
    }

    @Test func aModelOfBatchViewsRoutesNothingAhead() throws {
        let steps = try Self.exchanges("bst")
        #expect(steps.count == 4)
        for step in steps {
            #expect(step.ahead == 0 && step.forward > 0, "\(step)")
        }
    }
}
