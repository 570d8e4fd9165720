import Checkpointing
import Compute
import Foundation
import DataPipeline
import Dispatch
import Distributed
import NeuralNetwork

/// What a finished run reports.
public struct TrainingReport: Sendable {
    public var steps: Int
    public var samples: Int
    public var trainSeconds: Double
    public var samplesPerSecond: Double
    /// Mean training loss over the last logging window (all ranks' samples).
    public var finalTrainLoss: Double
    /// Mean training loss of every logging window, in order.
    public var lossHistory: [Double]
    public var evaluation: BinaryClassificationMetrics
    /// The planted model's own metrics on the held-out split (synthetic data only).
    public var plantedEvaluation: BinaryClassificationMetrics?
    /// Where the final model was saved.
    public var checkpointPath: String?
    /// `ParameterFingerprint`s of the trained model, for comparing runs.
    public var denseFingerprint: Double
    public var embeddingFingerprint: Double
    /// Whether every rank ended with bit-identical dense parameters.
    public var replicasIdentical: Bool
}

/// Runs a config end to end on every rank of `communicator`: data, model, training loop with
/// progress, held-out evaluation, the final checkpoint.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let communicator: Communicator
    private let log: (String) -> Void

    /// `log` receives progress lines; only rank 0's are worth printing.
    public init(configuration: TrainingConfiguration, communicator: Communicator, log: @escaping (String) -> Void) {
        self.configuration = configuration
        self.communicator = communicator
        self.log = log
    }

    public func run() throws -> TrainingReport {
        let t = configuration.training, worldSize = communicator.size
        BLAS.setThreadCount(t.threads)
        guard t.batchSize >= worldSize else {
            throw ConfigurationError("key 'training.batch_size': \(t.batchSize) cannot be split over \(worldSize) ranks")
        }
        let started = DispatchTime.now()
        let splits = try DataSplits.load(configuration)
        log("data: \(splits.summary); \(splits.train.count) train / \(splits.evaluation.count) held-out samples "
            + "(ready in \(format(seconds(since: started), 1)) s)")

        let localCapacity = BatchLoader.slice(of: max(t.batchSize, configuration.evaluation.batchSize), rank: 0,
                                              worldSize: worldSize).count
        let model = try ModelFactory.makeModel(configuration, batchCapacity: localCapacity, communicator: communicator)
        // Every rank built the same dense parameters from the seed; rank 0's are broadcast anyway,
        // so the replicas start bit-identical whatever else differs.
        try communicator.broadcast(model.arena.values.base, count: model.arena.count, root: 0)
        let step = TrainingStep(model: model, settings: ModelFactory.optimizerSettings(configuration), communicator: communicator)
        let schedule = ModelFactory.schedule(configuration)
        log("model: \(configuration.model.architecture.rawValue), \(model.parameterCount) parameters on rank 0 "
            + "(\(model.arena.count) dense, \(model.embeddingTables.count) embedding tables or shards); "
            + "optimizer \(t.optimizer.algorithm.rawValue), lr \(t.optimizer.learningRate), global batch \(t.batchSize), "
            + "\(worldSize) rank(s)")

        let loader = BatchLoader(dataset: splits.train, batchSize: t.batchSize, shuffleSeed: t.shuffle ? UInt64(t.seed) : nil,
                                 dropLast: true, rank: communicator.rank, worldSize: worldSize, prefetch: true)
        var totalSteps = loader.batchesPerEpoch * t.epochs
        if t.maxSteps > 0 { totalSteps = min(totalSteps, t.maxSteps) }
        guard totalSteps > 0 else {
            throw ConfigurationError("key 'training.batch_size': \(t.batchSize) is larger than the \(splits.train.count) training samples")
        }

        var stepIndex = 0, samples = 0
        var windowLossSum = 0.0, windowSamples = 0
        var lossHistory: [Double] = []
        let trainStart = DispatchTime.now()
        var windowStart = trainStart
        while stepIndex < totalSteps {
            guard loader.next() else { continue }
            let rate = schedule.rate(atStep: stepIndex)
            let loss = try step.run(loader.batch, globalBatchSize: loader.globalBatchSize, learningRate: rate)
            guard loss.isFinite else {
                throw TrainingError.nonFiniteLoss(step: stepIndex, loss: loss, rank: communicator.rank)
            }
            stepIndex += 1
            samples += loader.globalBatchSize
            windowLossSum += loss * Double(loader.batch.size)
            windowSamples += loader.globalBatchSize
            let isLast = stepIndex == totalSteps
            if (t.logEvery > 0 && stepIndex % t.logEvery == 0) || isLast {
                let windowLoss = try communicator.allReduceSum([windowLossSum])[0] / Double(windowSamples)
                lossHistory.append(windowLoss)
                let rateNow = Double(windowSamples) / max(seconds(since: windowStart), 1e-9)
                log("step \(stepIndex)/\(totalSteps)  epoch \(loader.epoch + 1)  loss \(format(windowLoss, 4))  "
                    + "lr \(format(Double(rate), 5))  \(Int(rateNow)) samples/s")
                windowLossSum = 0; windowSamples = 0; windowStart = DispatchTime.now()
            }
        }
        let trainSeconds = seconds(since: trainStart)
        let replicasIdentical = try ParameterFingerprint.replicasAreIdentical(model, communicator: communicator)
        if !replicasIdentical { log("warning: dense replicas differ between ranks") }

        let checkpointPath = try saveCheckpoint(model, step: stepIndex, samples: samples)
        let evaluation = try Evaluator.evaluate(model, on: splits.evaluation, batchSize: configuration.evaluation.batchSize,
                                                communicator: communicator)
        var planted: BinaryClassificationMetrics?
        if let plantedLogits = splits.evaluation.plantedLogits {
            planted = try BinaryClassificationMetrics.compute(logits: plantedLogits, labels: splits.evaluation.labels)
        }
        return TrainingReport(steps: stepIndex, samples: samples, trainSeconds: trainSeconds,
                              samplesPerSecond: Double(samples) / trainSeconds, finalTrainLoss: lossHistory.last ?? .nan,
                              lossHistory: lossHistory, evaluation: evaluation, plantedEvaluation: planted,
                              checkpointPath: checkpointPath, denseFingerprint: ParameterFingerprint.dense(model),
                              embeddingFingerprint: try ParameterFingerprint.embeddings(model, communicator: communicator),
                              replicasIdentical: replicasIdentical)
    }

    /// Saves the final model when the config asks for it (one process; sharded checkpoints
    /// are not written yet).
    private func saveCheckpoint(_ model: RecommendationModel, step: Int, samples: Int) throws -> String? {
        let k = configuration.checkpoint
        guard k.saveFinal else { return nil }
        guard communicator.size == 1 else {
            log("note: not saving a checkpoint: saving sharded tables from \(communicator.size) ranks is not supported yet")
            return nil
        }
        let metadata = ModelCheckpoint.Metadata(step: step, samplesSeen: samples,
                                                configuration: try ConfigurationLoader.yaml(configuration))
        let path = try ModelCheckpoint.save(model, metadata: metadata, runDirectory: "\(k.directory)/\(k.runName ?? "run")")
        log("saved \(path)")
        return path
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// A number with `digits` decimals.
public func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
