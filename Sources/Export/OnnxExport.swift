import Checkpointing
import Configuration
import Distributed
import Foundation
import NeuralNetwork
import Protos
import SwiftProtobuf
import Training

/// Writes a trained model as an ONNX model that onnxruntime (or Triton's ONNX backend) scores.
///
/// Inputs: `dense` float32 [N, dense features] (absent without dense features) and `ids` int64
/// [N, tables, bag]: each table's row ids for the sample (the preprocessed ids a record file
/// holds), -1 where the bag is shorter than `bag`. Output: `probability` float32 [N, 1].
public enum OnnxExport {
    /// ONNX files are protocol buffers, which cannot exceed 2 GiB: tables go to an external data
    /// file beside the model when the weights pass this many bytes (or when asked).
    public static let externalDataThreshold = 1 << 30

    public struct Report: Sendable {
        public var modelPath: String
        public var externalDataPath: String?
        public var initializerBytes: Int
        public var nodes: Int
    }

    /// The inference graph of `model`.
    public static func graph(of model: RecommendationModel, denseFeatureCount: Int) -> Onnx_GraphProto {
        // Every input table: BST's sequence table is a collection of its own.
        let tableCount = (model as? BST)?.architecture.tableRowCounts.count
            ?? model.embeddingCollections[0].specification.tableRowCounts.count
        var graph = OnnxModelGraph(denseFeatureCount: denseFeatureCount, tableCount: tableCount)
        let logit: String
        switch model {
        case let dlrm as DLRM:
            var slots = dlrm.bottomMLP.map { [graph.mlp($0, name: "bottom_mlp", input: graph.dense)] } ?? []
            slots += graph.embeddingBags(dlrm.embeddings)
            logit = graph.mlp(dlrm.topMLP, name: "top_mlp", input: graph.dotInteraction(dlrm.interaction, slots: slots))
        case let dcn as DCNv2:
            var slots = dcn.bottomMLP.map { [graph.mlp($0, name: "bottom_mlp", input: graph.dense)] } ?? []
            slots += graph.embeddingBags(dcn.embeddings)
            let crossed = graph.cross(dcn.cross, name: "cross", input: graph.concat(slots))
            logit = graph.mlp(dcn.topMLP, name: "top_mlp", input: crossed)
        case let wideDeep as WideDeep:
            let pooled = graph.embeddingBags(wideDeep.embeddings)
            let deep = graph.mlp(wideDeep.deepMLP, name: "deep_mlp",
                                 input: graph.concat(pooled + (denseFeatureCount > 0 ? [graph.dense] : [])))
            let widePooled = graph.embeddingBags(wideDeep.wide.embeddings)
            var wide = widePooled.count == 1 ? widePooled[0] : graph.sum(widePooled)
            wide = graph.add(wide, graph.linear(wideDeep.wide.dense, name: "wide/dense",
                                                input: denseFeatureCount > 0 ? graph.dense : nil, rowsLike: pooled[0]))
            var sum = graph.add(deep, wide)
            if wideDeep.architecture.factorizationMachine {
                sum = graph.add(sum, graph.factorizationMachine(pooled, dimension: wideDeep.architecture.embeddingDimension))
            }
            logit = sum
        case let bst as BST:
            let a = bst.architecture
            var inputs = graph.embeddingBags(bst.embeddings, inputTables: a.contextTables)
            let sequence = graph.sequence(bst.sequenceEmbeddings.localTables[0], tableIndex: a.sequenceTable, length: a.sequenceLength,
                                          positions: bst.positionEmbeddings.toArray())
            inputs.append(graph.transformer(bst.encoder, name: "transformer", input: sequence.x, keyMask: sequence.keyMask))
            if denseFeatureCount > 0 { inputs.append(graph.dense) }
            logit = graph.mlp(bst.deepMLP, name: "deep_mlp", input: graph.concat(inputs))
        default:
            preconditionFailure("OnnxExport: no graph for \(type(of: model))")
        }
        return graph.finish(logit: logit)
    }

    /// The ONNX model of `model` written to `path`; tables to `path.data` when `externalData` or
    /// when the weights pass `externalDataThreshold`.
    public static func write(_ model: RecommendationModel, denseFeatureCount: Int, to path: String, externalData: Bool,
                             description: String) throws -> Report {
        var onnx = Onnx_ModelProto()
        onnx.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = 17
        onnx.opsetImport = [opset]
        onnx.producerName = "recsys-dist"
        onnx.docString = description
        onnx.graph = graph(of: model, denseFeatureCount: denseFeatureCount)
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
