import Foundation
import Models
import Yams

/// Reads a YAML config, applies `--set key=value` overrides, rejects unknown keys, decodes it
/// and validates every value, so that a bad config fails before any work with a message naming
/// the file, line and key.
public enum ConfigurationLoader {
    /// Known keys of each section, by dotted path ("" is the top level).
    static let schema: [String: [String]] = [
        "": TrainingConfiguration.CodingKeys.allCases.map(\.rawValue),
        // The shared keys and every architecture's own: a config may switch architectures with
        // `--set model.architecture=...` and keep the others' keys, which then do not apply.
        "model": ModelSection.CodingKeys.allCases.map(\.rawValue) + ModelRegistry.allKeys,
        "model.dynamic_tables": DynamicTablesSection.CodingKeys.allCases.map(\.rawValue),
        "data": DataSection.CodingKeys.allCases.map(\.rawValue),
        "data.synthetic": SyntheticSection.CodingKeys.allCases.map(\.rawValue),
        "data.delimited": DelimitedSection.CodingKeys.allCases.map(\.rawValue),
        "data.delimited.label": DelimitedSection.Label.CodingKeys.allCases.map(\.rawValue),
        "data.delimited.labels[]": DelimitedSection.Label.CodingKeys.allCases.map(\.rawValue),
        "data.delimited.dense[]": DelimitedSection.Dense.CodingKeys.allCases.map(\.rawValue),
        "data.delimited.categorical[]": DelimitedSection.Categorical.CodingKeys.allCases.map(\.rawValue),
        "data.delimited.joins[]": DelimitedSection.Join.CodingKeys.allCases.map(\.rawValue),
        "training": TrainingSection.CodingKeys.allCases.map(\.rawValue),
        "training.optimizer": OptimizerSection.CodingKeys.allCases.map(\.rawValue),
        "training.schedule": ScheduleSection.CodingKeys.allCases.map(\.rawValue),
        "evaluation": EvaluationSection.CodingKeys.allCases.map(\.rawValue),
        "checkpoint": CheckpointSection.CodingKeys.allCases.map(\.rawValue),
        "distributed": DistributedSection.CodingKeys.allCases.map(\.rawValue),
        "run": RunSection.CodingKeys.allCases.map(\.rawValue),
    ]

    /// Loads a config file. `include: base.yaml` at its top level (a path relative to the file)
    /// merges the file over that base: sections merge key by key, other values replace.
    public static func load(path: String, overrides: [String] = []) throws -> TrainingConfiguration {
        var files: [(path: String, node: Node)] = []
        let merged = try composeWithIncludes(path: path, seen: [], files: &files)
        var configuration = try resolve(merged, source: path, overrides: overrides, files: files)
        configuration.data.makePathsAbsolute(from: FileManager.default.currentDirectoryPath)
        return configuration
    }

    static func compose(path: String) throws -> Node {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ConfigurationError("\(path): no such config file")
        }
        guard !isFolder.boolValue else { throw ConfigurationError("\(path): a folder, not a config file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            let descriptor = open(path, O_RDONLY)
            let reason = descriptor < 0 ? String(cString: strerror(errno)) : "unreadable"
            if descriptor >= 0 { close(descriptor) }
            throw ConfigurationError("\(path): cannot read the config file (\(reason))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("\(path): the config is not valid UTF-8")
        }
        do {
            return try Yams.compose(yaml: text) ?? Node.mapping([:])
        } catch {
            throw ConfigurationError("\(path): invalid YAML: \(syntaxProblem(error))")
        }
    }

    /// A YAML syntax error as one line, without the source line it quotes (a file given by
    /// mistake, say a password file, is never echoed).
    static func syntaxProblem(_ error: Error) -> String {
        var lines = "\(error)".split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.count >= 3, lines.last?.trimmingCharacters(in: .whitespaces) == "^" { lines.removeLast(2) }
        return lines.joined(separator: " ")
    }

    /// The file merged over its includes; `files` gets each file of the chain and its own keys,
    /// the including file first (its keys win), so messages can name the file a key came from.
    static func composeWithIncludes(path: String, seen: [String], files: inout [(path: String, node: Node)]) throws -> Node {
        let root = try compose(path: path)
        guard case .mapping(var mapping) = root, let include = mapping[Node("include")] else {
            files.append((path, root))
            return root
        }
        guard let base = include.string else { throw ConfigurationError("\(path): key 'include': expected a file name") }
        let basePath = base.hasPrefix("/") ? base : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(base)
        // Compared as real paths: ./d.yaml, ../x/d.yaml and a link to d.yaml are d.yaml.
        func canonical(_ file: String) -> String { URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path }
        guard !(seen + [path]).map(canonical).contains(canonical(basePath)) else {
            throw ConfigurationError("\(path): key 'include': \(base) includes itself")
        }
        mapping[Node("include")] = nil
        files.append((path, .mapping(mapping)))
        return merge(try composeWithIncludes(path: basePath, seen: seen + [path], files: &files), .mapping(mapping))
    }

    /// `top` over `base`: mappings merge key by key, anything else in `top` replaces.
    static func merge(_ base: Node, _ top: Node) -> Node {
        guard case .mapping(var merged) = base, case .mapping(let over) = top else { return top }
        for (key, value) in over { merged[key] = merged[key].map { merge($0, value) } ?? value }
        return .mapping(merged)
    }

    /// Parses config text; `source` names it in messages.
    public static func parse(_ text: String, source: String, overrides: [String] = []) throws -> TrainingConfiguration {
        try resolve(try compose(text, source: source), source: source, overrides: overrides)
    }

    /// Parses the config a checkpoint stored. One stored before `data.value_mapping` existed
    /// read its data by value mapping 1, and is given it.
    public static func parseStored(_ text: String, source: String, overrides: [String] = []) throws -> TrainingConfiguration {
        var root = try compose(text, source: source)
        if root.mapping?["data"]?.mapping?["value_mapping"] == nil { root = try apply(override: "data.value_mapping=1", to: root) }
        return try resolve(root, source: source, overrides: overrides)
    }

    /// The YAML node of config text, or an error naming `source` (no source line echoed).
    private static func compose(_ text: String, source: String) throws -> Node {
        do {
            return try Yams.compose(yaml: text) ?? Node.mapping([:])
        } catch {
            throw ConfigurationError("\(source): invalid YAML: \(syntaxProblem(error))")
        }
    }

    static func resolve(_ node: Node, source: String, overrides: [String],
                        files: [(path: String, node: Node)] = []) throws -> TrainingConfiguration {
        var root = node
        var overridden: [String] = []
        for override in overrides {
            root = try apply(override: override, to: root)
            overridden.append(String(override.prefix { $0 != "=" }))
        }
        func location(of key: String) -> String {
            Self.location(of: key, overridden: overridden, files: files, root: root, source: source)
        }
        try checkKeys(root, path: "", location: location(of:))
        root = try ConfigurationChoices.canonical(root, location: location(of:))
        let decoded: TrainingConfiguration
        do {
            decoded = try YAMLDecoder().decode(TrainingConfiguration.self, from: root)
        } catch let error as DecodingError {
            throw ConfigurationError(describe(error, in: root, location: location(of:), source: source))
        }
        var configuration = decoded
        if configuration.run.name == nil {
            // A run named by its checkpoints (checkpoint.run_name) has its run folder named alike.
            let file = (source as NSString).lastPathComponent
            configuration.run.name = configuration.checkpoint.runName ?? (file as NSString).deletingPathExtension
        }
        if configuration.checkpoint.runName == nil { configuration.checkpoint.runName = configuration.run.name }
        let problems = ConfigurationValidator.problems(in: configuration)
        if let first = problems.first {
            throw ConfigurationError("\(location(of: first.key)): key '\(first.key)': \(first.message)")
        }
        return configuration
    }

    /// "file:line" for a key from the file, "--set key" for an overridden one.
    static func location(of key: String, overridden: [String], files: [(path: String, node: Node)], root: Node,
                         source: String) -> String {
        if let set = overridden.last(where: { key == $0 || key.hasPrefix($0 + ".") || key.hasPrefix($0 + "[") }) {
            return "--set \(set)"
        }
        // The file of the include chain that sets the key (the including file wins).
        for file in files {
            if let line = line(of: key, in: file.node, exact: true) { return "\(file.path):\(line)" }
        }
        return source + (line(of: key, in: root).map { ":\($0)" } ?? "")
    }

    /// `error` with the place of its key in the config file at `path` (and its `overrides`) put
    /// in front, when it names a key ("key 'a.b': ...") and has no place yet: for problems found
    /// after loading (a column name missing from a data file's header).
    public static func locate(_ error: ConfigurationError, configPath path: String, overrides: [String]) -> ConfigurationError {
        guard error.message.hasPrefix("key '"), let end = error.message.dropFirst(5).firstIndex(of: "'") else { return error }
        let key = String(error.message[error.message.index(error.message.startIndex, offsetBy: 5)..<end])
        var files: [(path: String, node: Node)] = []
        guard let root = try? composeWithIncludes(path: path, seen: [], files: &files) else { return error }
        let overridden = overrides.map { String($0.prefix { $0 != "=" }) }
        return ConfigurationError("\(location(of: key, overridden: overridden, files: files, root: root, source: path)): \(error.message)")
    }

    /// The config as YAML text (stored in checkpoints; `parse` reads it back).
    /// Numbers are written as every YAML reader reads them: `0.2`, not the encoder's `2e-1`
    /// (a YAML 1.1 reader takes an exponent without a point for a string).
    public static func yaml(_ configuration: TrainingConfiguration) throws -> String {
        let text = try YAMLEncoder().encode(configuration)
        let exponent = try NSRegularExpression(pattern: "(?<=: |- )-?[0-9]+(\\.[0-9]+)?[eE][-+]?[0-9]+$", options: [.anchorsMatchLines])
        var result = text
        for match in exponent.matches(in: text, range: NSRange(text.startIndex..., in: text)).reversed() {
            guard let range = Range(match.range, in: text), let value = Double(text[range]) else { continue }
            var plain = "\(value)"  // 0.2, 1.05, 1e-05
            if let e = plain.firstIndex(of: "e"), !plain[..<e].contains(".") { plain.insert(contentsOf: ".0", at: e) }
            result.replaceSubrange(range, with: plain)
        }
        return result
    }

    /// Applies one `a.b.c=value` override; the value is parsed as YAML (`[1, 2]`, `0.1`, `adam`),
    /// or taken as a string when it is not YAML (`,`).
    /// A list item is addressed by its 0-based index: `data.delimited.categorical[3].column=7`.
    static func apply(override: String, to root: Node) throws -> Node {
        guard let equals = override.firstIndex(of: "=") else {
            throw ConfigurationError("--set \(override): expected key=value")
        }
        let path = override[..<equals].split(separator: ".").map(String.init)
        let valueText = String(override[override.index(after: equals)...])
        guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigurationError("--set \(override): empty key")
        }
        // A value that is not YAML on its own (`,`, `a: b: c`) is taken as the string it is.
        let value = (try? Yams.compose(yaml: valueText)) ?? Node(valueText)
        return try setting(value, at: path[...], in: root, full: path.joined(separator: "."))
    }

    private static func setting(_ value: Node, at path: ArraySlice<String>, in node: Node, full: String) throws -> Node {
        guard let part = path.first else { return value }
        // "name[i][j]": the key, then list indices.
        var key = Substring(part), indices: [Int] = []
        while key.hasSuffix("]"), let open = key.lastIndex(of: "[") {
            guard let index = Int(key[key.index(after: open)..<key.index(before: key.endIndex)]), index >= 0 else {
                throw ConfigurationError("--set \(full): '\(part)': a list index is a number from 0")
            }
            indices.insert(index, at: 0)
            key = key[..<open]
        }
        guard case .mapping(var mapping) = node else {
            throw ConfigurationError("--set \(full): '\(key)' is inside a value that is not a section")
        }
        let child = mapping[Node(String(key))] ?? Node.mapping([:])
        mapping[Node(String(key))] = try setting(value, at: path.dropFirst(), in: child, indices: indices[...], named: String(key), full: full)
        return .mapping(mapping)
    }

    /// `setting` inside the list items `indices` of `node` (the value of key `named`).
    private static func setting(_ value: Node, at path: ArraySlice<String>, in node: Node, indices: ArraySlice<Int>,
                                named: String, full: String) throws -> Node {
        guard let index = indices.first else { return try setting(value, at: path, in: node, full: full) }
        guard case .sequence(var sequence) = node else {
            throw ConfigurationError("--set \(full): '\(named)' is not a list")
        }
        guard index < sequence.count else {
            throw ConfigurationError("--set \(full): '\(named)' has \(sequence.count) items (indices 0...\(sequence.count - 1))")
        }
        sequence[index] = try setting(value, at: path, in: sequence[index], indices: indices.dropFirst(), named: named, full: full)
        return .sequence(sequence)
    }

    /// Checks every mapping against `schema`; `path` is the schema path ("a.b", "a.list[]"),
    /// `shown` the path named in messages ("a.list[2]").
    static func checkKeys(_ node: Node, path: String, shown: String? = nil, location: (String) -> String) throws {
        let shown = shown ?? path
        if case .sequence(let elements) = node, schema[path + "[]"] != nil {
            for (index, element) in elements.enumerated() {
                try checkKeys(element, path: path + "[]", shown: "\(shown)[\(index)]", location: location)
            }
            return
        }
        guard let known = schema[path] else { return }
        guard case .mapping(let mapping) = node else {
            throw ConfigurationError("\(location(shown)): key '\(shown.isEmpty ? "(top level)" : shown)': expected a section of keys")
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? "\(keyNode)"
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            let childShown = shown.isEmpty ? key : "\(shown).\(key)"
            guard known.contains(key) else {
                let place = shown.isEmpty ? "at the top level" : "in '\(shown)'"
                // Config keys are names; anything else is the text of a file that is no config
                // (a password file given to include:), which is not echoed.
                guard key.count <= 64, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                    throw ConfigurationError("\(location(childShown).split(separator: ":").first ?? ""): not a recsys-dist config "
                                             + "(an entry \(place) is no key name; its text is not shown)")
                }
                throw ConfigurationError("\(location(childShown)): unknown key '\(childShown)' (known keys \(place): \(known.joined(separator: ", ")))")
            }
            try checkKeys(value, path: childPath, shown: childShown, location: location)
        }
    }

    /// A decoding error in the words of the config: the key, what it takes and what it holds.
    private static func describe(_ error: DecodingError, in root: Node, location: (String) -> String, source: String) -> String {
        func keyPath(_ codingPath: [CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        func located(_ codingPath: [CodingKey]) -> String {
            let key = keyPath(codingPath)
            return "\(location(key)): key '\(key)'"
        }
        switch error {
        case .typeMismatch(let type, let context):
            let found = walk(to: keyPath(context.codingPath), in: root).node.map { node -> String in
                if let text = node.string { return ", got '\(text)'" }
                return node.mapping != nil ? ", got a section of keys" : node.sequence != nil ? ", got a list" : ""
            } ?? ""
            return "\(located(context.codingPath)): expected \(describe(type))\(found)"
        case .valueNotFound(let type, let context):
            return "\(located(context.codingPath)): missing \(describe(type))"
        case .keyNotFound(let key, let context):
            return "\(located(context.codingPath + [key])): required key is missing"
        case .dataCorrupted(let context):
            return "\(located(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(source): \(error)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is Node.Scalar.Type: return "a single value"
        case is Node.Mapping.Type: return "a section of keys"
        case is Node.Sequence.Type: return "a list"
        default: return "\(type)"
        }
    }

    /// The line of a dotted key path (list indices as `[i]`) in the config, for messages: the
    /// line of the key itself, or of the list element; of its nearest present parent unless
    /// `exact`.
    static func line(of keyPath: String, in root: Node, exact: Bool = false) -> Int? {
        let found = walk(to: keyPath, in: root)
        return found.node == nil && exact ? nil : found.line
    }

    /// The node at a dotted key path (nil when absent) and the line of it, or of its nearest
    /// present parent.
    static func walk(to keyPath: String, in root: Node) -> (node: Node?, line: Int?) {
        var current: Node? = root
        var line: Int?
        for part in keyPath.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while let open = name.lastIndex(of: "["), name.hasSuffix("]") {
                if let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                    indices.insert(index, at: 0)
                }
                name = name[..<open]
            }
            guard let pair = current?.mapping?.first(where: { $0.key.string == String(name) }) else { return (nil, line) }
            line = pair.key.mark?.line
            current = pair.value
            for index in indices {
                guard let sequence = current?.sequence, index < sequence.count else { return (nil, line) }
                current = sequence[index]
                line = current?.mark?.line ?? line
            }
        }
        return (current, line)
    }
}
