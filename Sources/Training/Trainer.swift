import Checkpointing
import Compute
import Foundation
import DataPipeline
import Dispatch
import Distributed
import NeuralNetwork

/// What a finished run reports.
public struct TrainingReport: Sendable, Codable {
    public var steps: Int
    public var samples: Int
    public var trainSeconds: Double
    public var samplesPerSecond: Double
    /// Mean training loss over the last logging window.
    public var finalTrainLoss: Double
    public var evaluation: BinaryClassificationMetrics
    /// The planted model's own metrics on the held-out split (synthetic data only).
    public var plantedEvaluation: BinaryClassificationMetrics?
    /// Where the final model was saved.
    public var checkpointPath: String?
}

/// Runs a config end to end: data, model, training loop with progress, held-out evaluation.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let communicator: Communicator
    private let log: (String) -> Void

    public init(configuration: TrainingConfiguration, communicator: Communicator, log: @escaping (String) -> Void) {
        self.configuration = configuration
        self.communicator = communicator
        self.log = log
    }

    public func run() throws -> TrainingReport {
        let t = configuration.training
        BLAS.setThreadCount(t.threads)
        let started = DispatchTime.now()
        let splits = DataSplits.synthetic(configuration)
        log("data: synthetic planted click model, \(splits.train.count) train / \(splits.evaluation.count) held-out samples "
            + "(generated in \(format(seconds(since: started), 1)) s)")

        let model = ModelFactory.makeModel(configuration, batchCapacity: max(t.batchSize, configuration.evaluation.batchSize))
        let step = TrainingStep(model: model, settings: ModelFactory.optimizerSettings(configuration))
        let schedule = ModelFactory.schedule(configuration)
        log("model: \(configuration.model.architecture.rawValue), \(model.parameterCount) parameters "
            + "(\(model.arena.count) dense, \(model.embeddingTables.count) embedding tables); "
            + "optimizer \(t.optimizer.algorithm.rawValue), lr \(t.optimizer.learningRate), batch \(t.batchSize), "
            + "world size \(communicator.size)")

        let loader = BatchLoader(dataset: splits.train, batchSize: t.batchSize,
                                 shuffleSeed: t.shuffle ? UInt64(t.seed) : nil, dropLast: true)
        let stepsPerEpoch = loader.batchesPerEpoch
        var totalSteps = stepsPerEpoch * t.epochs
        if t.maxSteps > 0 { totalSteps = min(totalSteps, t.maxSteps) }
        guard totalSteps > 0 else {
            throw ConfigurationError("key 'training.batch_size': \(t.batchSize) is larger than the \(splits.train.count) training samples")
        }

        var stepIndex = 0, samples = 0
        var windowLoss = 0.0, windowSteps = 0, lastWindowLoss = Double.nan
        let trainStart = DispatchTime.now()
        var windowStart = trainStart, windowSamples = 0
        while stepIndex < totalSteps {
            guard loader.next() else { continue }
            let rate = schedule.rate(atStep: stepIndex)
            let loss = step.run(loader.batch, learningRate: rate)
            guard loss.isFinite else { throw TrainingError.nonFiniteLoss(step: stepIndex, loss: loss) }
            stepIndex += 1
            samples += loader.batch.size
            windowSamples += loader.batch.size
            windowLoss += loss
            windowSteps += 1
            let isLast = stepIndex == totalSteps
            if (t.logEvery > 0 && stepIndex % t.logEvery == 0) || isLast {
                lastWindowLoss = windowLoss / Double(windowSteps)
                let rateNow = Double(windowSamples) / max(seconds(since: windowStart), 1e-9)
                log("step \(stepIndex)/\(totalSteps)  epoch \(loader.epoch + 1)  loss \(format(lastWindowLoss, 4))  "
                    + "lr \(format(Double(rate), 5))  \(Int(rateNow)) samples/s")
                windowLoss = 0; windowSteps = 0; windowSamples = 0; windowStart = DispatchTime.now()
            }
        }
        let trainSeconds = seconds(since: trainStart)

        var checkpointPath: String?
        let k = configuration.checkpoint
        if k.saveFinal && communicator.isRoot {
            let metadata = ModelCheckpoint.Metadata(step: stepIndex, samplesSeen: samples,
                                                    configuration: try ConfigurationLoader.yaml(configuration))
            checkpointPath = try ModelCheckpoint.save(model, metadata: metadata,
                                                      runDirectory: "\(k.directory)/\(k.runName ?? "run")")
            log("saved \(checkpointPath!)")
        }

        let evaluation = try Evaluator.evaluate(model, on: splits.evaluation, batchSize: configuration.evaluation.batchSize)
        var planted: BinaryClassificationMetrics?
        if let plantedLogits = splits.evaluation.plantedLogits {
            planted = try BinaryClassificationMetrics.compute(logits: plantedLogits, labels: splits.evaluation.labels)
        }
        return TrainingReport(steps: stepIndex, samples: samples, trainSeconds: trainSeconds,
                              samplesPerSecond: Double(samples) / trainSeconds, finalTrainLoss: lastWindowLoss,
                              evaluation: evaluation, plantedEvaluation: planted, checkpointPath: checkpointPath)
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// A number with `digits` decimals.
public func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
