import ArgumentParser
import Backends
import Configuration
import Distributed
import Foundation
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from a YAML config, then evaluate it on the held-out split.")

    @OptionGroup var configOptions: ConfigOptions

    @OptionGroup var output: OutputOptions

    @Flag(help: "Skip malformed data lines (and count them) instead of stopping at the first.")
    var skipBadLines = false

    @Option(help: ArgumentHelp("Continue from a checkpoint folder, or 'latest' for the run's newest.", valueName: "path|latest"))
    var resume: String?

    @Flag(help: "Start over in a checkpoint folder that holds checkpoints: they are removed before this run's first checkpoint.")
    var overwrite = false

    @Flag(help: "Print only the result and errors.")
    var quiet = false

    @Flag(help: "Add fingerprints of the trained parameters to the result (reads every table; for comparing runs).")
    var fingerprints = false

    @Option(help: "info (progress, notes, errors), warning (notes and errors) or error.")
    var logLevel: LogLevel = .info

    func validate() throws {
        if overwrite && resume != nil { throw ValidationError("--overwrite starts over; --resume continues: give one of them") }
    }

    func run() throws {
        let communicator = try worldCommunicator()
        defer { MPICommunicator.finalize() }
        let console = Console(format: output.format, isRoot: communicator.isRoot, level: quiet ? .error : logLevel)
        installStopHandlers()
        installFaultInjection()
        let report: TrainingReport
        do {
            let configuration = try ConfigurationLoader.load(path: configOptions.config,
                                                             overrides: configOptions.overrides + (skipBadLines ? ["data.skip_bad_lines=true"] : []))
            let transport = try BackendRegistry.communicator(over: communicator, backend: configuration.training.backend,
                                                             transport: configuration.distributed.deviceTransport)
            if configuration.training.backend == "cuda" && communicator.size > 1 {
                var how = "NCCL"
                if let mpi = transport as? MPICommunicator { how = mpi.passesDeviceMemory ? "CUDA-aware MPI" : "MPI over host copies" }
                console.progress("device memory crosses the \(communicator.size) ranks by \(how)")
            }
            report = try Trainer(configuration: configuration, communicator: transport, resume: resume,
                                 overwrite: overwrite, computesFingerprints: fingerprints, log: { line in
                                     switch line {
                                     case .progress(let text): console.progress(text)
                                     case .note(let text): console.note(text)
                                     }
                                 },
                                 progress: console.live,
                                 liveLine: console.dataProgress.live).run()
        } catch TrainingError.stopped(let signal, let step, let checkpoint) {
            // Every rank stopped at the same step; rank 0 says where things stand, and no rank
            // exits (which makes mpirun end the others) before it has.
            console.notice("\(TrainingError.stopped(signal: signal, step: step, checkpoint: checkpoint))")
            try? communicator.barrier()
            throw ExitCode(128 + signal)
        } catch {
            endJob(after: configOptions.located(error), console: console, communicator: communicator)
        }
        let e = report.evaluation
        if communicator.size > 1 {
            console.progress("dense replicas identical on all \(communicator.size) ranks: \(report.replicasIdentical ? "yes" : "NO")")
        }
        if !report.nothingLeftToTrain {
            console.progress("trained \(report.steps) steps, \(report.samples) samples in \(Training.format(report.trainSeconds, 1)) s "
                             + "(\(Int(report.samplesPerSecond)) samples/s)")
        }
        let heldOut = HeldOutResult(evaluation: e, planted: report.plantedEvaluation)
        var json: [String: Any] = [
            "eval_samples": e.count,
            "samples": report.samples, "steps": report.steps, "samples_per_second": report.samplesPerSecond,
            "train_seconds": report.trainSeconds, "final_train_loss": report.finalTrainLoss,
            "losses": report.lossHistory, "world_size": communicator.size,
            "replicas_identical": report.replicasIdentical, "stopped_early": report.stoppedEarly,
            "nothing_left_to_train": report.nothingLeftToTrain,
            "run_directory": report.runDirectory.map { $0 as Any } ?? NSNull(),
        ]
        if let fingerprints = report.fingerprints {
            json["dense_fingerprint"] = fingerprints.dense
            json["embedding_fingerprint"] = fingerprints.embeddings
        }
        json.merge(heldOut.json) { mine, _ in mine }
        console.result(text: heldOut.text(showsGap: true), json: json)
    }
}

func worldCommunicator() throws -> Communicator {
    // How this process was started, before MPI changes the environment.
    _ = Console.startedByLauncher
    do {
        return try MPICommunicator.world()
    } catch {
        throw ValidationError("cannot start MPI: \(error)")
    }
}
