import ArgumentParser
import Checkpointing
import Configuration
import Datasets
import Foundation
import Planning
import Training

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint holds: step, run state, config, model, tables and shapes.")

    @Argument(help: "A checkpoint folder (<directory>/<run>/step-<N> or .../latest).") var checkpoint: String

    func run() throws {
        do {
            let directory = try TrainingCheckpoint.resolve(checkpoint)  // `latest` followed once
            let state = try TrainingCheckpoint.state(in: directory)
            let configuration = try ConfigurationLoader.parseStored(state.configuration, source: "\(checkpoint)/dense.h5 (config)")
            let model = try ModelFactory.makeLayout(configuration)
            print("checkpoint \(checkpoint) (format version \(TrainingCheckpoint.formatVersion))")
            print("step \(state.step), epoch \(state.epoch + 1), \(state.positionInEpoch) samples into it, "
                  + "\(state.samplesSeen) samples seen, written by \(state.worldSize) rank(s)")
            print("optimizer \(state.optimizer) (dense steps \(state.denseOptimizerSteps), sparse steps \(state.sparseOptimizerSteps))")
            print("model: \(configuration.model.architecture), \(model.arena.count) dense parameters, "
                  + "\(configuration.model.tableCount) tables of dimension \(configuration.model.embeddingDimension)"
                  + (configuration.model.tablePrecision == .bf16 ? ", rows stored in bf16 (widened to fp32 in the file)" : ""))
            let names = FeatureNames(configuration).tables
            for item in try TrainingCheckpoint.contents(of: directory, model: model) {
                // embeddings/table3/weights: the table of the config's fourth categorical feature.
                let parts = item.name.split(separator: "/")
                let feature = parts.count == 3 && parts[1].hasPrefix("table")
                    ? Int(parts[1].dropFirst(5)).flatMap { names.indices.contains($0) ? "  (\(names[$0]))" : nil } ?? "" : ""
                print("  \(item.name)  \(item.shape.isEmpty ? "MISSING" : item.shape.map(String.init).joined(separator: " x "))\(feature)")
            }
            for table in try TrainingCheckpoint.occupancy(of: directory, model: model) {
                print("  \(table.name): dynamic, \(table.occupied) of \(table.usable) rows hold an id "
                      + "(\(String(format: "%.1f", 100 * Double(table.occupied) / Double(max(table.usable, 1)))) %)")
            }
            print("config:")
            print(state.configuration.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        } catch let error as CheckpointError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
