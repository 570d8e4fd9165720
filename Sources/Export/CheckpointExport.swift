import Checkpointing
import Configuration
import Distributed
import Foundation
import Models
import NeuralNetwork
import Planning
import Training

/// Exports a checkpoint: rebuilds the model from the config it stores (every table whole, in
/// this process), loads its weights and writes the ONNX model, optionally as a Triton model
/// repository (`<repository>/<name>/config.pbtxt` and `<repository>/<name>/1/model.onnx`).
public enum CheckpointExport {
    /// - Parameters:
    ///   - output: the model file, or with `triton` the model repository folder.
    ///   - externalData: put the tables in a data file beside the model whatever their size.
    ///   - name: the Triton model's name (default: the checkpoint's run folder).
    public static func run(checkpoint directory: String, output: String, externalData: Bool, triton: Bool,
                           name: String? = nil) throws -> OnnxExport.Report {
        let resolved = try TrainingCheckpoint.resolve(directory)  // `latest` followed once
        let hold = try CheckpointReadHold(resolved)  // never pruned while read
        defer { withExtendedLifetime(hold) {} }
        let state = try TrainingCheckpoint.state(in: resolved)
        let configuration = try ConfigurationLoader.parseStored(state.configuration, source: "\(directory)/dense.h5 (config)")
        guard configuration.model.dynamicTables.isEmpty else {
            throw ConfigurationError("\(directory): key 'model.table_rows': the model has dynamic tables, whose rows are found "
                                     + "by key; ONNX export takes fixed tables only")
        }
        try MemoryCheck.require(configuration, communicator: LocalCommunicator())
        let model = try ModelFactory.makeModel(configuration, batchCapacity: 1, communicator: LocalCommunicator())
        _ = try TrainingCheckpoint.load(into: model, denseOptimizer: nil, sparseOptimizer: nil, from: resolved)
        let dense = configuration.data.denseFeatures, tables = configuration.model.tableCount
        let retrieval = configuration.model.definition.retrieval
        let outputs = OnnxModelGraph.outputNames(configuration.data.tasks, retriever: retrieval != nil)
        let description = "recsys-dist \(configuration.model.architecture), step \(state.step) of \(directory). "
            + (dense > 0 ? "Input dense: float32 [N, \(dense)]. " : "")
            + "Input ids: int64 [N, \(tables), bag], each table's row ids, -1 where a bag is shorter. "
            + (retrieval != nil ? "Output user_vector: float32 [N, \(model.outputCount / 2)], the user tower's vector (the item "
                                  + "tables' ids are not read); the items' vectors are in the .items.h5 file beside the model."
               : "Output" + (outputs.count > 1 ? "s " : " ") + outputs.joined(separator: ", ") + ": float32 [N, 1]"
               + (outputs == ["probability"] ? "." : " each (probability_<task>: a binary task's, prediction_<task>: a regression's value)."))
        var path = output
        if triton {
            let modelName = name ?? URL(fileURLWithPath: directory).resolvingSymlinksInPath().deletingLastPathComponent().lastPathComponent
            let folder = "\(output)/\(modelName)"
            try FileManager.default.createDirectory(atPath: "\(folder)/1", withIntermediateDirectories: true)
            try tritonConfiguration(name: modelName, denseFeatureCount: dense, tableCount: tables, outputs: outputs)
                .write(toFile: "\(folder)/config.pbtxt", atomically: true, encoding: .utf8)
            path = "\(folder)/1/model.onnx"
        } else {
            // The model goes into an existing folder, as every other writer's output.
            try FileSystem.requireParentFolder(of: output)
        }
        let report = try OnnxExport.write(model, definition: configuration.model.definition, denseFeatureCount: dense, tableCount: tables,
                                          tasks: configuration.data.tasks, to: path, externalData: externalData, description: description)
        // How raw values become the model's inputs (`OnnxInputMapping`), beside the model.
        try OnnxInputMapping.json(configuration).write(to: URL(fileURLWithPath: "\(path).inputs.json"))
        if retrieval != nil {
            // A retriever's items: the catalogue's vectors, for a vector index to serve beside the user tower.
            let retriever = try RetrieverCheckpoint.load(directory: resolved, configuration: configuration, step: state.step,
                                                         communicator: LocalCommunicator())
            let items = try retriever.itemVectors()
            try ItemVectorFile.write(path: "\(path).items.h5", items: items.items, vectors: items.vectors, width: retriever.vectorWidth)
            var withItems = report
            withItems.itemVectorsPath = "\(path).items.h5"
            withItems.items = items.items.count
            return withItems
        }
        return report
    }

    /// Triton's model configuration for the ONNX Runtime backend (batch dimension explicit).
    static func tritonConfiguration(name: String, denseFeatureCount: Int, tableCount: Int, outputs: [String]) -> String {
        var inputs: [String] = []
        if denseFeatureCount > 0 {
            inputs.append("  { name: \"dense\" data_type: TYPE_FP32 dims: [ -1, \(denseFeatureCount) ] }")
        }
        inputs.append("  { name: \"ids\" data_type: TYPE_INT64 dims: [ -1, \(tableCount), -1 ] }")
        return """
            name: "\(name)"
            platform: "onnxruntime_onnx"
            max_batch_size: 0
            input [
            \(inputs.joined(separator: ",\n"))
            ]
            output [
            \(outputs.map { "  { name: \"\($0)\" data_type: TYPE_FP32 dims: [ -1, 1 ] }" }.joined(separator: ",\n"))
            ]

            """
    }
}
