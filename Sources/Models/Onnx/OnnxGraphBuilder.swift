import Foundation
import Protos

/// Builds an ONNX graph one node at a time: every node's output gets a fresh name, constants
/// and weights become initializers.
struct OnnxGraphBuilder {
    private(set) var graph = Onnx_GraphProto()
    private var counter = 0

    init(name: String) { graph.name = name }

    /// A fresh value name from `hint`.
    private mutating func fresh(_ hint: String) -> String {
        counter += 1
        return "\(hint)_\(counter)"
    }

    /// A float32 weight of `shape` (row-major), named `name`.
    mutating func weight(_ name: String, shape: [Int], values: [Float]) -> String {
        precondition(values.count == shape.reduce(1, *), "weight \(name): \(values.count) values for \(shape)")
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }  // little-endian, as ONNX stores raw data
        graph.initializer.append(tensor)
        return name
    }

    /// An int64 constant (a scalar when `shape` is empty).
    mutating func constant(_ hint: String, int64 values: [Int64], shape: [Int]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = fresh(hint)
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.int64Data = values
        graph.initializer.append(tensor)
        return tensor.name
    }

    /// A float32 scalar constant.
    mutating func constant(_ hint: String, float value: Float) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = fresh(hint)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.floatData = [value]
        graph.initializer.append(tensor)
        return tensor.name
    }

    /// Adds `operation(inputs)` and returns the name of its output.
    mutating func node(_ operation: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = [],
                       output: String? = nil) -> String {
        var node = Onnx_NodeProto()
        node.opType = operation
        node.input = inputs
        let name = output ?? fresh(operation.lowercased())
        node.output = [name]
        node.name = name
        node.attribute = attributes
        graph.node.append(node)
        return name
    }

    /// A graph input or output: element type and shape, -1 for a dimension named `symbol`.
    static func valueInfo(_ name: String, type: Onnx_TensorProto.DataType, shape: [Int], symbols: [String]) -> Onnx_ValueInfoProto {
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(type.rawValue)
        tensorType.shape.dim = zip(shape, symbols).map { size, symbol in
            var dimension = Onnx_TensorShapeProto.Dimension()
            if size < 0 { dimension.dimParam = symbol } else { dimension.dimValue = Int64(size) }
            return dimension
        }
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensorType
        return info
    }

    mutating func addInput(_ info: Onnx_ValueInfoProto) { graph.input.append(info) }
    mutating func addOutput(_ info: Onnx_ValueInfoProto) { graph.output.append(info) }
}

/// ONNX node attributes.
enum OnnxAttribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .float
        attribute.f = value
        return attribute
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }
}
