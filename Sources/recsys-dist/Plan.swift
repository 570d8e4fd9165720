import ArgumentParser
import Backends
import Datasets
import Distributed
import Foundation
import NeuralNetwork
import Planning
import Training

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show where a config's embedding tables go on N ranks, the memory per rank and the traffic per step.")

    @OptionGroup var configOptions: ConfigOptions
    @Option(help: "Number of ranks (as in mpirun -np).") var ranks = 1
    @Flag(help: "Read the config's delimited data and print each table's distinct values and the rows that would hold them.")
    var data = false

    func validate() throws {
        guard ranks >= 1 && ranks <= 1 << 20 else { throw ValidationError("--ranks must be in 1...\(1 << 20), got \(ranks)") }
    }

    func run() throws {
        let configuration = try configOptions.load()
        let report = try PlacementReport(configuration, ranks: ranks)
        let m = configuration.model, names = FeatureNames(configuration).tables
        print("plan for \(configOptions.config) on \(ranks) rank(s): \(m.architecture), \(m.tableCount) tables, "
              + "global batch \(configuration.training.batchSize), optimizer \(configuration.training.optimizer.algorithm.rawValue)")
        for collection in report.collections {
            print("\n\(collection.name) (dimension \(collection.plan.tables.first?.dimension ?? 0), rows stored in "
                  + "\(m.tablePrecision.rawValue)):")
            print(pad("table", 8) + pad("feature", 18) + pad("rows", 12) + "placement")
            for (t, table) in collection.plan.tables.enumerated() {
                let rows = table.isDynamic ? "\(table.rowCount)*" : "\(table.rowCount)"
                print(pad("\(t)", 8) + pad(names.indices.contains(t) ? names[t] : "", 18) + pad(rows, 12) + "\(table.placement)"
                      + (table.isDynamic ? " by key hash, whole buckets of \(table.bucketRows)" : ""))
            }
        }
        let dynamic = !m.dynamicTables.isEmpty
        if dynamic {
            print("* dynamic: capacity in rows (model.dynamic_tables); key maps cost \(DynamicTableRule.bytesPerRow) bytes per row "
                  + "(key, last use, use count) plus \(DynamicTableRule.sketchCountersPerRow) bytes of admission counters")
        }
        print("\nper rank (dense replica: \(report.denseParameterCount) parameters):")
        print(pad("rank", 6) + pad("emb rows", 12) + pad("emb+state", 12) + pad("workspace", 12) + (dynamic ? pad("key maps", 12) : "")
              + pad("dense", 12) + pad("total", 12) + "all-to-all/step (at most)")
        for (r, load) in report.loads.enumerated() {
            print(pad("\(r)", 6) + pad("\(load.embeddingRows)", 12) + pad(mebibytes(load.embeddingBytes), 12)
                  + pad(mebibytes(load.workspaceBytes), 12) + (dynamic ? pad(mebibytes(load.dynamicMapBytes), 12) : "")
                  + pad(mebibytes(load.denseBytes), 12)
                  + pad(mebibytes(load.totalBytes), 12) + mebibytes(load.allToAllBytesPerStep))
        }
        print("\nall-reduce per step: \(mebibytes(report.allReduceBytesPerStep)) of dense gradients"
              + (ranks > 1 ? " (each rank sends and receives about 2(N-1)/N of it)" : " (one rank: none)"))
        if configuration.training.backend == "cuda" { printDeviceMemory(largest: report.loads.map(\.totalBytes).max() ?? 0) }
        if data {
            print("")
            do {
                guard let distinct = try DataSplits.distinctValues(configuration) else {
                    throw ValidationError("--data counts the values of delimited data (data.source: delimited); "
                                          + "for Criteo files, preprocess with data.frequency_threshold to count them")
                }
                print(DataSplits.tableSizeAdvice(distinct: distinct, configuration: configuration))
            } catch let error as ValidationError {
                throw error
            } catch {
                FileHandle.standardError.write(Data("error: \(oneLine(configOptions.located(error)))\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// The largest rank's model against this machine's GPU (the local rank's), or why it cannot be.
    private func printDeviceMemory(largest: Int) {
        do {
            guard let device = try BackendRegistry.deviceMemory(backend: "cuda") else { return }
            print("GPU memory: \(device.device), \(mebibytes(device.total)) (\(mebibytes(device.free)) free); the largest rank's model "
                  + "needs \(mebibytes(largest)) before batch buffers: \(largest <= device.free ? "fits" : "does NOT fit")")
        } catch {
            print("GPU memory not compared: \(error)")
        }
    }

    private func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
