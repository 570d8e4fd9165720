import Checkpointing
import Compute
import Configuration
import Datasets
import Foundation
import DataPipeline
import Dispatch
import Distributed
import NeuralNetwork
import Planning

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
    /// Held-out metrics of every task.
    public var evaluation: HeldOutMetrics
    /// The planted model's own metrics on the held-out split (synthetic data only).
    public var plantedEvaluation: HeldOutMetrics?
    /// Where the final model was saved.
    public var checkpointPath: String?
    /// `ParameterFingerprint`s of the trained model, for comparing runs (when asked for).
    public var fingerprints: (dense: Double, embeddings: Double)?
    /// Whether every rank ended with bit-identical dense parameters.
    public var replicasIdentical: Bool
    /// The run directory (rank 0; nil when not recorded).
    public var runDirectory: String?
    /// Whether training stopped early on `evaluation.early_stop_auc`.
    public var stoppedEarly: Bool
    /// Whether the run resumed a checkpoint with no steps left: nothing was trained or written.
    public var nothingLeftToTrain = false
}

/// A line a run reports: routine progress, or a note worth seeing at a quieter log level
/// (checkpoints, resumes, early stops, warnings).
public enum TrainingLog: Sendable {
    case progress(String)
    case note(String)

    public var text: String {
        switch self {
        case .progress(let text), .note(let text): return text
        }
    }
}

/// Where a run stands, for a live progress line (called on rank 0 after every step).
public struct TrainingProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// Mean loss of the current logging window so far (this rank's samples).
    public var loss: Double
    public var samplesPerSecond: Double
    public var secondsRemaining: Double
}

/// Runs a config end to end on every rank of `communicator`: data, model, training loop with
/// progress, held-out evaluation, the final checkpoint.
public final class Trainer {
    /// The run's config; its `data.value_mapping` is settled by `run()` (the checkpoint's, the
    /// records', or the current one) before anything is read or stored.
    public private(set) var configuration: TrainingConfiguration
    public let communicator: Communicator
    /// A checkpoint folder to continue from (`latest` means the run's newest).
    public let resume: String?
    /// Start over in a checkpoint folder that holds checkpoints: they are removed before this
    /// run's first checkpoint is written. Without it (and without `resume`) such a folder is refused.
    public let overwrite: Bool
    /// Whether the report carries the trained parameters' fingerprints (every table is read).
    public let computesFingerprints: Bool
    private let report: (TrainingLog) -> Void
    private let progress: ((TrainingProgress) -> Void)?
    private let liveLine: ((String) -> Void)?

    /// `log` receives progress lines and notes (only rank 0's are worth printing); `progress`,
    /// when given, is told about every step on rank 0; `liveLine`, when given (a terminal),
    /// shows the passes over raw data files in place instead of as periodic lines.
    public init(configuration: TrainingConfiguration, communicator: Communicator, resume: String? = nil, overwrite: Bool = false,
                computesFingerprints: Bool = false, log: @escaping (TrainingLog) -> Void, progress: ((TrainingProgress) -> Void)? = nil,
                liveLine: ((String) -> Void)? = nil) {
        self.configuration = configuration
        self.communicator = communicator
        self.resume = resume
        self.overwrite = overwrite
        self.computesFingerprints = computesFingerprints
        self.report = log
        self.progress = progress
        self.liveLine = liveLine
    }

    private func log(_ line: TrainingLog) { report(line) }

    /// Names this run's chain of checkpoints (rank 0's is written); a resume continues the
    /// checkpoint's.
    private var lineage = UUID().uuidString

    public func run() throws -> TrainingReport {
        let t = configuration.training, worldSize = communicator.size
        // Before any work: the checkpoint folder is writable and no other run holds it.
        let folderLock = communicator.isRoot && configuration.checkpoint.writesCheckpoints
            ? try CheckpointFolderLock(folder: configuration.checkpoint.runDirectory) : nil
        defer { withExtendedLifetime(folderLock) {} }
        // A checkpoint to resume from is checked before the data is loaded; a fresh run never
        // writes among another run's checkpoints unless told to start over.
        let resumePath = try resumeLink.map(checkResume)  // `latest` resolved once, to its step-N
        if resume == nil && !overwrite && configuration.checkpoint.writesCheckpoints { try refuseExistingCheckpoints() }
        var removesOldCheckpoints = resume == nil && overwrite
        try MemoryCheck.require(configuration, communicator: communicator)
        BLAS.setThreadCount(t.threads)
        guard t.batchSize >= worldSize else {
            throw ConfigurationError("key 'training.batch_size': \(t.batchSize) cannot be split over \(worldSize) ranks")
        }
        let started = DispatchTime.now()
        let splits = try DataSplits.load(configuration, progress: ProgressOutput(line: { self.log(.progress("data: \($0)")) },
                                                                                  live: liveLine.map { live in { live("data: \($0)") } }))
        try adoptValueMapping(splits.valueMapping, of: "the data")
        log(.progress("data: \(splits.summary); \(splits.train.count) train / \(splits.evaluation.count) held-out samples "
            + "(ready in \(format(seconds(since: started), 1)) s)"))

        let localCapacity = BatchLoader.slice(of: max(t.batchSize, configuration.evaluation.batchSize), rank: 0,
                                              worldSize: worldSize).count
        // A retriever's batch also holds its share of the uniform negatives.
        let negativeCapacity = BatchLoader.slice(of: configuration.model.definition.retrieval?.uniformNegatives ?? 0, rank: 0,
                                                 worldSize: worldSize).count
        let model = try ModelFactory.makeModel(configuration, batchCapacity: localCapacity + negativeCapacity, communicator: communicator)
        // Every rank built the same dense parameters from the seed; rank 0's are broadcast anyway,
        // so the replicas start bit-identical whatever else differs.
        try communicator.broadcast(model.arena.values.whole, root: 0)
        let tasks = configuration.data.tasks
        // A retriever trains by its in-batch softmax and is scored over its item catalogue.
        let retrieval = try configuration.model.definition.retrieval.map {
            try RetrievalEvaluation(train: splits.train, heldOut: splits.evaluation, catalogueFile: try DataSplits.loadCatalogue(configuration),
                                    settings: $0, cutoffs: configuration.evaluation.topK)
        }
        // Mixed negative sampling: each rank's batch is its interactions then its share of the step's uniform negatives.
        let negatives = retrieval.flatMap { retrieval in
            retrieval.settings.uniformNegatives > 0
                ? NegativeSampler(catalogue: retrieval.trainingCatalogue, count: retrieval.settings.uniformNegatives, seed: UInt64(t.seed),
                                  batchCapacity: localCapacity, rank: communicator.rank, worldSize: worldSize) : nil
        }
        let objective = retrieval.map {
            InBatchSoftmax(settings: $0.settings, vectorWidth: model.outputCount / 2, batchCapacity: localCapacity,
                           globalBatchCapacity: t.batchSize + (negatives?.count ?? 0), itemCounts: $0.itemCounts,
                           negativesPerRank: negatives?.countsPerRank ?? [], catalogueSize: $0.trainingCatalogue.count,
                           backend: model.backend, communicator: communicator)
        }
        let step = TrainingStep(model: model, settings: ModelFactory.optimizerSettings(configuration), communicator: communicator,
                                losses: tasks.map(\.loss), lossWeights: configuration.lossWeights, objective: objective)
        /// The held-out metrics: per task for a ranker, top-K over the catalogue for a retriever.
        func heldOutMetrics() throws -> HeldOutMetrics {
            if let retrieval {
                return try retrieval.evaluate(model, on: splits.evaluation, batchSize: configuration.evaluation.batchSize,
                                              communicator: communicator)
            }
            return try Evaluator.evaluate(model, on: splits.evaluation, batchSize: configuration.evaluation.batchSize,
                                          communicator: communicator)
        }
        let schedule = ModelFactory.schedule(configuration)
        log(.progress("model: \(configuration.model.architecture), \(model.parameterCount) parameters on rank 0 "
            + "(\(model.arena.count) dense, \(model.embeddingTables.count) embedding tables or shards); "
            + "optimizer \(t.optimizer.algorithm.rawValue), lr \(t.optimizer.learningRate), global batch \(t.batchSize), "
            + "\(worldSize) rank(s), \(model.backend.name) backend, \(model.backend.matmulPrecision.rawValue) matmuls"
            + (tasks.count > 1 ? "; tasks " + zip(tasks, configuration.lossWeights).map { task, weight in
                "\(task.name) (\(task.kind.rawValue)\(weight == 1 ? "" : ", loss weight \(weight)"))"
            }.joined(separator: ", ") : "")))
        if t.precision == .bf16 && model.backend.matmulPrecision != .bf16 {
            log(.progress("warning: training.precision bf16: this CPU has no bf16 instructions (AVX512-BF16 or AMX); using fp32"))
        }

        let loader = BatchLoader(dataset: splits.train, batchSize: t.batchSize, shuffleSeed: t.shuffle ? UInt64(t.seed) : nil,
                                 shuffleWindow: t.shuffleWindow, dropLast: true, rank: communicator.rank, worldSize: worldSize, prefetch: true)
        var totalSteps = loader.batchesPerEpoch * t.epochs
        if t.maxSteps > 0 { totalSteps = min(totalSteps, t.maxSteps) }
        guard totalSteps > 0 else {
            throw ConfigurationError("key 'training.batch_size': \(t.batchSize) is larger than the \(splits.train.count) training samples")
        }

        var stepIndex = 0, samples = 0
        if let resumePath {
            let state = try restore(from: resumePath, model: model, step: step, loader: loader)
            stepIndex = state.step
            samples = state.samplesSeen
        }
        if let resumePath, stepIndex >= totalSteps {
            log(.note("nothing left to train: \(resumeLink ?? resumePath) is at step \(stepIndex) of \(totalSteps) "
                      + "(raise training.epochs or training.max_steps to go on); nothing is written"))
            return try finishedRunReport(model, splits: splits, evaluation: try heldOutMetrics(), checkpoint: resumePath, steps: stepIndex,
                                         samples: samples)
        }
        let record = try openRunDirectory()
        if let record { log(.note("run directory \(record.path)")) }
        let k = configuration.checkpoint, e = configuration.evaluation
        var window = LossWindow(), lossHistory: [Double] = [], divergence = DivergenceGuard()
        var checkpoints = CheckpointSchedule(k), evaluations = EvaluationSchedule(section: e, keepsBest: k.keepBest)
        var stoppedEarly = false
        let firstStep = stepIndex, samplesAtStart = samples, trainStart = DispatchTime.now()

        /// A checkpoint of the current step, once its parameters are known to be finite.
        func save() throws {
            try DivergenceGuard.checkParameters(model, step: stepIndex, includingEmbeddings: true, communicator: communicator)
            if removesOldCheckpoints {
                if communicator.isRoot, let found = TrainingCheckpoint.existingCheckpoints(runDirectory: k.runDirectory) {
                    TrainingCheckpoint.removeAll(runDirectory: k.runDirectory)
                    log(.note("--overwrite: removed the earlier checkpoints of \(k.runDirectory) (\(found))"))
                }
                removesOldCheckpoints = false
            }
            try saveCheckpoint(model, step: step, loader: loader, stepIndex: stepIndex, samples: samples)
            checkpoints.didSave(step: stepIndex)
        }
        /// The progress line and metrics of the steps since the last one.
        func logWindow(learningRate: Float, isLast: Bool) throws {
            let (loss, taskLosses, rate) = try window.close(communicator: communicator)
            try DivergenceGuard.checkParameters(model, step: stepIndex, includingEmbeddings: isLast, communicator: communicator)
            if let warning = divergence.warning(windowLoss: loss, step: stepIndex, largestDense: DivergenceGuard.largestDense(loader.batch)) {
                log(.note(warning))
            }
            lossHistory.append(loss)
            // With several tasks, each one's part of the loss.
            let perTask = zip(tasks, taskLosses).map { (name: $0.name, loss: $1) }
            let parts = perTask.isEmpty ? "" : " (" + perTask.map { "\($0.name) \(format($0.loss, 4))" }.joined(separator: ", ") + ")"
            log(.progress("step \(stepIndex)/\(totalSteps)  epoch \(loader.epoch + 1)  loss \(format(loss, 4))\(parts)  "
                          + "lr \(format(Double(learningRate), 5))  \(Int(rate)) samples/s"))
            try record?.record(step: stepIndex, [("loss", loss), ("learning_rate", Double(learningRate)),
                                                 ("samples_per_second", rate), ("samples", Double(samples)),
                                                 ("epoch", Double(loader.epoch + 1))] + perTask.map { ("loss_\($0.name)", $0.loss) })
        }
        /// A held-out evaluation during training; returns whether training should stop early.
        func evaluateHeldOut() throws -> Bool {
            let metrics = try heldOutMetrics()
            for line in Self.heldOutLines(metrics) { log(.progress("step \(stepIndex): held-out \(line)")) }
            try record?.record(step: stepIndex, Self.recorded(metrics))
            let auc = Self.followedAUC(metrics, task: e.task), named = Self.followedName(metrics, task: e.task)
            let outcome = evaluations.record(auc: auc)
            if outcome.savesBest {
                try save()
                if communicator.isRoot { try TrainingCheckpoint.markBest(runDirectory: k.runDirectory, step: stepIndex) }
                log(.note("new best held-out AUC\(named) \(format(auc, 4)) at step \(stepIndex)"))
            }
            if outcome.stopsEarly {
                log(.note("stopping early: held-out AUC\(named) \(format(auc, 4)) reached evaluation.early_stop_auc \(e.earlyStopAUC)"))
            }
            return outcome.stopsEarly
        }
        /// Every rank stops at this step on a signal any rank received, after a last checkpoint.
        func stop(on signal: Int32) throws -> Never {
            try step.abandonRouteAhead()
            log(.note("stopping after step \(stepIndex): received \(signalName(signal))"))
            if k.writesCheckpoints && checkpoints.savedStep != stepIndex { try save() }
            throw TrainingError.stopped(signal: signal, step: stepIndex,
                                        checkpoint: k.writesCheckpoints ? "\(k.runDirectory)/step-\(stepIndex)" : nil)
        }

        while stepIndex < totalSteps {
            guard try loader.next() else {
                if checkpoints.isDueAtEpochEnd(step: stepIndex) { try save() }
                continue
            }
            let learningRate = schedule.rate(atStep: stepIndex)
            // The next batch's ids are exchanged during this step (not past the last step).
            // (Negatives change the batch the forward takes: nothing is routed ahead then.)
            let next = configuration.distributed.pipeline && negatives == nil && stepIndex + 1 < totalSteps ? loader.upcomingBatch() : nil
            let batch = try negatives?.appendNegatives(to: loader.batch, step: stepIndex) ?? loader.batch
            let loss = try step.run(batch, globalBatchSize: loader.globalBatchSize, learningRate: learningRate, next: next)
            guard loss.isFinite else {
                throw TrainingError.nonFiniteLoss(step: stepIndex, loss: loss, rank: communicator.rank,
                                                  largestDense: DivergenceGuard.largestDense(loader.batch))
            }
            stepIndex += 1
            samples += loader.globalBatchSize
            window.add(loss: loss, taskLosses: step.taskLosses, localSamples: loader.batch.size, globalSamples: loader.globalBatchSize)
            var isLast = stepIndex == totalSteps
            if let progress, communicator.isRoot {
                let elapsed = seconds(since: trainStart)
                progress(TrainingProgress(step: stepIndex, totalSteps: totalSteps, epoch: loader.epoch + 1, loss: window.localMeanLoss,
                                          samplesPerSecond: Double(samples - samplesAtStart) / max(elapsed, 1e-9),
                                          secondsRemaining: elapsed / Double(stepIndex - firstStep) * Double(totalSteps - stepIndex)))
            }
            if (t.logEvery > 0 && stepIndex % t.logEvery == 0) || isLast { try logWindow(learningRate: learningRate, isLast: isLast) }
            if evaluations.isDue(afterStep: stepIndex, isLast: isLast), try evaluateHeldOut() {
                stoppedEarly = true
                isLast = true
                totalSteps = stepIndex
            }
            // One agreement per step: a timed save (rank 0's clock) and a stop signal (any rank's).
            var agreed = [checkpoints.timedSaveVote(isRoot: communicator.isRoot), Double(StopRequest.pending)]
            if communicator.size > 1 { agreed = try communicator.allReduceMax(agreed) }
            if checkpoints.isDue(afterStep: stepIndex, timedSaveAgreed: agreed[0] > 0) && !isLast { try save() }
            if agreed[1] > 0 { try stop(on: Int32(agreed[1])) }
        }
        try step.abandonRouteAhead()  // a step that stopped training early had begun the next batch's
        let trainSeconds = seconds(since: trainStart)
        let replicasIdentical = try ParameterFingerprint.replicasAreIdentical(model, communicator: communicator)
        if !replicasIdentical { log(.note("warning: dense replicas differ between ranks")) }

        var checkpointPath: String?
        if checkpoints.endsWithCheckpoint(step: stepIndex) {
            if checkpoints.savedStep != stepIndex { try save() }
            checkpointPath = "\(k.runDirectory)/step-\(stepIndex)"
        }
        let evaluation = try heldOutMetrics()
        try record?.record(step: stepIndex, Self.recorded(evaluation))
        if evaluations.isBestAtEnd(auc: Self.followedAUC(evaluation, task: e.task)) && checkpointPath != nil && communicator.isRoot {
            try TrainingCheckpoint.markBest(runDirectory: k.runDirectory, step: stepIndex)
        }
        return TrainingReport(steps: stepIndex, samples: samples, trainSeconds: trainSeconds,
                              samplesPerSecond: Double(samples - samplesAtStart) / trainSeconds, finalTrainLoss: lossHistory.last ?? .nan,
                              lossHistory: lossHistory, evaluation: evaluation, plantedEvaluation: try plantedMetrics(splits),
                              checkpointPath: checkpointPath, fingerprints: try fingerprints(of: model),
                              replicasIdentical: replicasIdentical, runDirectory: record?.path, stoppedEarly: stoppedEarly)
    }

    /// The model's fingerprints when asked for (every rank takes part).
    private func fingerprints(of model: RecommendationModel) throws -> (dense: Double, embeddings: Double)? {
        guard computesFingerprints else { return nil }
        return (ParameterFingerprint.dense(model), try ParameterFingerprint.embeddings(model, communicator: communicator))
    }

    /// The planted model's metrics on the held-out split (synthetic data only).
    private func plantedMetrics(_ splits: DataSplits) throws -> HeldOutMetrics? {
        let evaluation = splits.evaluation
        return try evaluation.plantedLogits.map { try HeldOutMetrics.compute(tasks: evaluation.tasks, outputs: $0, labels: evaluation.labels) }
    }

    /// The held-out metrics as printed: one line of a single task's, else one per task.
    static func heldOutLines(_ metrics: HeldOutMetrics) -> [String] {
        metrics.tasks.count == 1 ? [metrics.tasks[0].text] : metrics.tasks.map { "\($0.task.name): \($0.text)" }
    }

    /// The metrics as metrics.jsonl and TensorBoard record them: `eval_auc` for a single task,
    /// `eval_auc_<task>` for each of several; a gated model's mean gate weights as
    /// `gate/<gate>/<expert>` (TensorBoard groups them by gate).
    static func recorded(_ metrics: HeldOutMetrics) -> [(String, Double)] {
        let single = metrics.tasks.count == 1
        return metrics.tasks.flatMap { task in
            task.values.map { ("eval_\($0.name)" + (single ? "" : "_\(task.task.name)"), $0.value) }
        } + metrics.gates.flatMap { gate in gate.experts.map { ("gate/\(gate.gate)/\($0.expert)", $0.weight) } }
    }

    /// The AUC early stopping and keep_best follow: the named task's, else the first's.
    static func followedAUC(_ metrics: HeldOutMetrics, task: String?) -> Double {
        (task.flatMap { metrics.task(named: $0) } ?? metrics.tasks.first)?["auc"] ?? .nan
    }

    /// " of <task>" when several tasks are evaluated.
    static func followedName(_ metrics: HeldOutMetrics, task: String?) -> String {
        metrics.tasks.count > 1 ? " of \(task ?? metrics.tasks[0].task.name)" : ""
    }

    /// The report of a resumed run with no steps left: its checkpoint evaluated, nothing written.
    private func finishedRunReport(_ model: RecommendationModel, splits: DataSplits, evaluation: HeldOutMetrics, checkpoint: String,
                                   steps: Int, samples: Int) throws -> TrainingReport {
        var report = TrainingReport(steps: steps, samples: samples, trainSeconds: 0, samplesPerSecond: 0, finalTrainLoss: .nan,
                                    lossHistory: [], evaluation: evaluation, plantedEvaluation: try plantedMetrics(splits),
                                    checkpointPath: checkpoint, fingerprints: try fingerprints(of: model),
                                    replicasIdentical: try ParameterFingerprint.replicasAreIdentical(model, communicator: communicator),
                                    runDirectory: nil, stoppedEarly: false)
        report.nothingLeftToTrain = true
        return report
    }

    /// Refuses, on every rank, a fresh run whose checkpoint folder holds checkpoints (another
    /// run's lineage, whose `step-N` and `best` this run would overwrite).
    private func refuseExistingCheckpoints() throws {
        let folder = configuration.checkpoint.runDirectory
        let found = communicator.isRoot ? TrainingCheckpoint.existingCheckpoints(runDirectory: folder) : nil
        guard try communicator.allReduceMax([found == nil ? 0 : 1])[0] > 0 else { return }
        throw TrainingError.checkpointsExist(folder: folder, found: found ?? "checkpoints")
    }

    /// Opens `runs/<name>-<timestamp>/` on rank 0 when the config asks for it; every rank
    /// takes part in gathering the host names.
    private func openRunDirectory() throws -> RunDirectory? {
        guard configuration.run.record else { return nil }
        let hosts = try gatherHostNames()
        guard communicator.isRoot else { return nil }
        do {
            return try RunDirectory(root: configuration.run.directory, name: configuration.run.name ?? "run",
                                    configuration: try ConfigurationLoader.yaml(configuration), worldSize: communicator.size,
                                    hosts: hosts)
        } catch {
            throw FileSystemError.from(error, path: configuration.run.directory)
        }
    }

    /// Every rank's host name, on rank 0 (empty elsewhere).
    private func gatherHostNames() throws -> [String] {
        let name = Array(ProcessInfo.processInfo.hostName.utf8.prefix(255)).map { Int32($0) }
        return try communicator.gather(name).map { String(decoding: $0.map { UInt8($0) }, as: UTF8.self) }
    }

    /// Writes a checkpoint of the current step on every rank.
    private func saveCheckpoint(_ model: RecommendationModel, step: TrainingStep, loader: BatchLoader, stepIndex: Int,
                                samples: Int) throws {
        let started = DispatchTime.now()
        let state = TrainingCheckpoint.State(step: stepIndex, epoch: loader.epoch, positionInEpoch: loader.positionInEpoch,
                                             samplesSeen: samples, worldSize: communicator.size,
                                             denseOptimizerSteps: step.denseOptimizer.stepCount,
                                             sparseOptimizerSteps: step.sparseOptimizer.stepCount,
                                             optimizer: step.denseOptimizer.settings.algorithm.rawValue,
                                             configuration: try ConfigurationLoader.yaml(configuration), lineage: lineage)
        let path = try TrainingCheckpoint.save(model: model, denseOptimizer: step.denseOptimizer, sparseOptimizer: step.sparseOptimizer,
                                               state: state, runDirectory: configuration.checkpoint.runDirectory,
                                               keepLast: configuration.checkpoint.keepLast, communicator: communicator)
        let elapsed = seconds(since: started)
        let bytes = try communicator.allReduceSum([Double(checkpointBytes(model, step))])[0]
        log(.note("saved \(path) (\(format(bytes / 1e6, 1)) MB in \(format(elapsed, 2)) s, \(format(bytes / 1e6 / elapsed, 1)) MB/s)"))
    }

    /// The checkpoint `--resume` names, as given ("latest": the run folder's `latest` link).
    private var resumeLink: String? {
        resume.map { $0 == "latest" ? "\(configuration.checkpoint.runDirectory)/latest" : $0 }
    }

    /// The folder `link` (`resumeLink`) resolved, checked before any work: it exists, and its
    /// model is the config's (else the first differing key is named); the run's data is then read
    /// by the checkpoint's value mapping.
    private func checkResume(_ link: String) throws -> String {
        guard FileManager.default.fileExists(atPath: link) else {
            if resume == "latest" { throw TrainingError.nothingToResume(folder: configuration.checkpoint.runDirectory) }
            throw CheckpointError.noSuchFolder(path: link)
        }
        let path = try TrainingCheckpoint.resolve(link)  // `latest` followed once
        let saved = try ConfigurationLoader.parseStored(try TrainingCheckpoint.state(in: path).configuration,
                                                        source: "\(link)/dense.h5 (config)")
        if let difference = saved.model.differences(from: configuration.model).first {
            throw CheckpointError.modelMismatch(path: "\(link)/dense.h5", detail: difference)
        }
        try adoptValueMapping(saved.data.resolvedValueMapping, of: "the checkpoint \(path)")
        return path
    }

    /// Settles `data.value_mapping` on `mapping`, the one `source` was made with, unless the
    /// config (or an earlier source) settled another: the same value would then be another row.
    private func adoptValueMapping(_ mapping: Int, of source: String) throws {
        if let settled = configuration.data.valueMapping, settled != mapping {
            throw ConfigurationError("key 'data.value_mapping': \(source) gives categorical values rows by mapping \(mapping), "
                                     + "this run by \(settled): the same value would be a different row (see the README's value mappings)")
        }
        configuration.data.valueMapping = mapping
    }

    /// Loads a checkpoint into the model, optimizers and loader; returns its state.
    private func restore(from path: String, model: RecommendationModel, step: TrainingStep,
                         loader: BatchLoader) throws -> TrainingCheckpoint.State {
        let started = DispatchTime.now()
        let state = try TrainingCheckpoint.load(into: model, denseOptimizer: step.denseOptimizer,
                                                sparseOptimizer: step.sparseOptimizer, from: path)
        loader.restore(epoch: state.epoch, position: state.positionInEpoch)
        lineage = state.lineage
        let elapsed = seconds(since: started)
        let bytes = try communicator.allReduceSum([Double(checkpointBytes(model, step))])[0]
        log(.note("resumed from \(resumeLink ?? path): step \(state.step), epoch \(state.epoch + 1), written by \(state.worldSize) rank(s), "
            + "loaded on \(communicator.size) (\(format(bytes / 1e6, 1)) MB in \(format(elapsed, 2)) s, "
            + "\(format(bytes / 1e6 / elapsed, 1)) MB/s)"))
        return state
    }

    /// Bytes of this rank's share of a checkpoint.
    private func checkpointBytes(_ model: RecommendationModel, _ step: TrainingStep) -> Int {
        TrainingCheckpoint.payloadBytes(model: model, denseOptimizer: step.denseOptimizer, sparseOptimizer: step.sparseOptimizer,
                                        communicator: communicator)
    }
}

/// "SIGTERM", "SIGINT", or the signal's number.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGTERM: return "SIGTERM"
    case SIGINT: return "SIGINT"
    case SIGUSR1: return "SIGUSR1"
    default: return "signal \(signal)"
    }
}

/// Seconds from `start` to now.
public func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// A number with `digits` decimals.
public func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
