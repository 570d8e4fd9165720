/// Every architecture the program knows, by name. The rest of the program asks here what a
/// model is; to add one, write its `ModelDefinition` and list it in `definitions`.
public enum ModelRegistry {
    /// The registered architectures, in the order help and errors list them.
    public static let definitions: [any ModelDefinition.Type] = [
        DLRMDefinition.self, WideDeepDefinition.self, DCNv2Definition.self, DeepFMDefinition.self, BSTDefinition.self,
        SharedBottomDefinition.self, MMoEDefinition.self, PLEDefinition.self, TwoTowerDefinition.self,
    ]

    /// The names `model.architecture` takes.
    public static var names: [String] { definitions.map { $0.name } }

    /// The architecture of `name` (`model.architecture`), if registered.
    public static func definition(named name: String) -> (any ModelDefinition.Type)? {
        definitions.first { $0.name == name }
    }

    /// The architecture `bench --model` calls `benchName`, if registered.
    public static func definition(benchName: String) -> (any ModelDefinition.Type)? {
        definitions.first { $0.benchName == benchName }
    }

    /// Every key any architecture has (for a `model` section whose architecture is unknown).
    public static var allKeys: [String] {
        var keys: [String] = []
        for definition in definitions { keys += definition.keys.filter { !keys.contains($0) } }
        return keys
    }
}

extension ModelDefinition {
    /// The definition's own keys and values compared with `other`'s ("model.top_mlp: [..] here,
    /// [..] there"): every key when the architectures differ.
    public func differences(from other: any ModelDefinition, here: String, there: String) -> [String] {
        let name = Self.name, otherName = type(of: other).name
        guard name == otherName else { return ["model.architecture: \(name) \(here), \(otherName) \(there)"] }
        return zip(values, other.values).compactMap { mine, theirs in
            mine.value == theirs.value ? nil : "model.\(mine.key): \(mine.value) \(here), \(theirs.value) \(there)"
        }
    }

    /// Whether `other` is the same architecture with the same values.
    public func isSame(as other: any ModelDefinition) -> Bool {
        differences(from: other, here: "", there: "").isEmpty
    }
}
