import Backends
import Compute
import DataPipeline
import Distributed
import Foundation
import Models
import NeuralNetwork
import Yams

/// The keys whose value is one of a fixed set, by schema path ("a.list[].key"), with their
/// values. Before decoding, a value is matched against them case-insensitively (with `-` as
/// `_`), so `Adam` or `wide-deep` read as `adam` and `wide_deep`; a value matching none is
/// refused naming the key and the values it may take.
enum ConfigurationChoices {
    static func values<Choice: CaseIterable & RawRepresentable>(_ type: Choice.Type) -> [String] where Choice.RawValue == String {
        type.allCases.map(\.rawValue)
    }

    static let byKey: [String: [String]] = [
        "model.architecture": ModelRegistry.names,
        "model.dynamic_tables.eviction": values(DynamicTableRule.Eviction.self),
        "model.table_precision": values(TablePrecision.self),
        "data.source": values(DataSection.Source.self),
        "data.split": values(DataSection.SplitRule.self),
        "data.delimited.dense[].transform": values(DelimitedSchema.DenseTransform.self),
        "data.delimited.categorical[].transform": values(DelimitedSection.Categorical.Transform.self),
        "data.delimited.categorical[].timestamp_format": values(DerivedFeature.TimestampFormat.self),
        "training.backend": BackendRegistry.names,
        "training.precision": values(MatmulPrecision.self),
        "training.optimizer.algorithm": values(OptimizerAlgorithm.self),
        "training.optimizer.table_state_precision": values(TablePrecision.self),
        "training.schedule.decay": values(LearningRateSchedule.Decay.self),
        "distributed.sharding": values(ShardingPlan.Strategy.self),
        "distributed.exchange_precision": values(DistributedSection.ExchangePrecision.self),
        "distributed.device_transport": values(DeviceTransport.self),
    ]

    /// `node` with every choice spelled as its canonical value; `path` is the schema path,
    /// `shown` the key as messages name it, `location` gives a key's "file:line".
    static func canonical(_ node: Node, path: String = "", shown: String = "", location: (String) -> String) throws -> Node {
        switch node {
        case .mapping(var mapping):
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { continue }
                mapping[keyNode] = try canonical(value, path: path.isEmpty ? key : "\(path).\(key)",
                                                 shown: shown.isEmpty ? key : "\(shown).\(key)", location: location)
            }
            return .mapping(mapping)
        case .sequence(var sequence):
            for index in sequence.indices {
                sequence[index] = try canonical(sequence[index], path: path + "[]", shown: "\(shown)[\(index)]", location: location)
            }
            return .sequence(sequence)
        case .scalar(let scalar):
            guard let allowed = byKey[path], !allowed.contains(scalar.string) else { return node }
            func spelling(_ text: String) -> String { text.lowercased().replacingOccurrences(of: "-", with: "_") }
            let matches = allowed.filter { spelling($0) == spelling(scalar.string) }
            guard matches.count == 1 else {
                throw ConfigurationError("\(location(shown)): key '\(shown)': '\(scalar.string)' is not one of \(allowed.joined(separator: ", "))")
            }
            var canonical = scalar
            canonical.string = matches[0]
            return .scalar(canonical)
        default:
            return node
        }
    }
}
