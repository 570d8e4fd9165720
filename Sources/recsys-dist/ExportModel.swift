import ArgumentParser
import Checkpointing
import Configuration
import Export
import Foundation
import Training

/// Choices of `export --format`.
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case onnx
}

struct ExportModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained model as an ONNX model for onnxruntime or Triton.",
        discussion: """
            Inputs: dense float32 [N, dense features] (absent without dense features) and ids int64 \
            [N, tables, bag], each table's row ids (as in record files), -1 where a bag is shorter. \
            Output: probability float32 [N, 1]. A retriever's export is its user tower (output \
            user_vector float32 [N, width]) and its items' vectors in <output>.items.h5.
            """)

    @Option(help: "A checkpoint folder: <directory>/<run>/step-<N> or <directory>/<run>/latest.") var checkpoint: String
    @Option(help: "The export format.") var format: ExportFormat = .onnx
    @Option(help: "The model file to write (with --triton: the model repository folder).") var output: String
    @Flag(help: "Write a Triton model repository: <output>/<name>/config.pbtxt and <output>/<name>/1/model.onnx.") var triton = false
    @Option(help: "The Triton model's name (default: the checkpoint's run).") var name: String?
    @Flag(name: .customLong("external-data"), help: "Put the tables in <model>.data beside the model whatever their size.")
    var externalData = false

    func run() throws {
        do {
            let report = try CheckpointExport.run(checkpoint: checkpoint, output: output, externalData: externalData,
                                                  triton: triton, name: name)
            print("wrote \(report.modelPath) (\(report.nodes) nodes, \(report.initializerBytes) bytes of weights"
                  + (report.externalDataPath.map { ", tables in \($0)" } ?? "") + ")")
            print("wrote \(report.modelPath).inputs.json (how raw values become its inputs; launch/onnx_inputs.py applies it)")
            if let items = report.itemVectorsPath {
                print("wrote \(items) (the vectors of \(report.items) items: /item_ids, /vectors)")
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(oneLine(error))\n".utf8))
            throw ExitCode.failure
        }
    }
}
