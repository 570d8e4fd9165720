import Compute
import Foundation
import Models
import NeuralNetwork
import Protos
import SwiftProtobuf
import Training

/// Writes a trained model as an ONNX model that onnxruntime (or Triton's ONNX backend) scores.
///
/// Inputs: `dense` float32 [N, dense features] (absent without dense features) and `ids` int64
/// [N, tables, bag]: each table's row ids for the sample (the preprocessed ids a record file
/// holds), -1 where the bag is shorter than `bag`. Output: `probability` float32 [N, 1] (with
/// several tasks one output per task: `probability_<task>`, `prediction_<task>`).
public enum OnnxExport {
    /// ONNX files are protocol buffers, which cannot exceed 2 GiB: tables go to an external data
    /// file beside the model when the weights pass this many bytes (or when asked).
    public static let externalDataThreshold = 1 << 30

    public struct Report: Sendable {
        public var modelPath: String
        public var externalDataPath: String?
        public var initializerBytes: Int
        public var nodes: Int
        /// A retriever's item vectors (`ItemVectorFile`) and how many.
        public var itemVectorsPath: String?
        public var items = 0
    }

    /// The inference graph of `model`, which `definition` made for `tableCount` input tables:
    /// the definition writes its layers up to the logit.
    public static func graph(of model: RecommendationModel, definition: any ModelDefinition, denseFeatureCount: Int,
                             tableCount: Int, tasks: [PredictionTask]) -> Onnx_GraphProto {
        let userVectorWidth = definition.retrieval == nil ? nil : model.outputCount / 2
        var graph = OnnxModelGraph(denseFeatureCount: denseFeatureCount, tableCount: tableCount, tasks: tasks,
                                   userVectorWidth: userVectorWidth)
        let logit = definition.onnxLogit(of: model, in: &graph)
        return graph.finish(logit: logit)
    }

    /// The ONNX model of `model` written to `path`; tables to `path.data` when `externalData` or
    /// when the weights pass `externalDataThreshold`.
    public static func write(_ model: RecommendationModel, definition: any ModelDefinition, denseFeatureCount: Int, tableCount: Int,
                             tasks: [PredictionTask], to path: String, externalData: Bool, description: String) throws -> Report {
        var onnx = Onnx_ModelProto()
        onnx.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = 17
        onnx.opsetImport = [opset]
        onnx.producerName = "recsys-dist"
        onnx.docString = description
        onnx.graph = graph(of: model, definition: definition, denseFeatureCount: denseFeatureCount, tableCount: tableCount, tasks: tasks)
        let bytes = onnx.graph.initializer.reduce(0) { $0 + $1.rawData.count + 8 * $1.int64Data.count + 4 * $1.floatData.count }
        var dataPath: String?
        if externalData || bytes > externalDataThreshold {
            dataPath = path + ".data"
            try moveTablesToExternalData(&onnx.graph, path: dataPath!)
        }
        let serialized: Data = try onnx.serializedData()
        guard FileManager.default.createFile(atPath: path, contents: serialized) else { throw DataWriteError(path: path) }
        return Report(modelPath: path, externalDataPath: dataPath, initializerBytes: bytes, nodes: onnx.graph.node.count)
    }

    /// Moves every table's weights into one file beside the model (ONNX external data: the
    /// tensor names its file, offset and length; offsets 4096-aligned for memory mapping).
    static func moveTablesToExternalData(_ graph: inout Onnx_GraphProto, path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw DataWriteError(path: path)
        }
        defer { try? file.close() }
        var offset = 0
        for index in graph.initializer.indices where graph.initializer[index].name.hasSuffix("/weights") {
            let raw = graph.initializer[index].rawData
            let padding = (4096 - offset % 4096) % 4096
            if padding > 0 { try file.write(contentsOf: Data(count: padding)) }
            offset += padding
            try file.write(contentsOf: raw)
            graph.initializer[index].rawData = Data()
            graph.initializer[index].dataLocation = .external
            graph.initializer[index].externalData = [("location", (path as NSString).lastPathComponent),
                                                     ("offset", String(offset)), ("length", String(raw.count))].map { key, value in
                var entry = Onnx_StringStringEntryProto()
                entry.key = key
                entry.value = value
                return entry
            }
            offset += raw.count
        }
    }
}
