import Configuration
import Models
import Planning
import Testing
import Training

/// The registry is where the program learns what a model is: every architecture decodes its own
/// keys, survives the config's round trip through a checkpoint, builds, and is told apart.
@Suite struct ModelRegistryTests {
    static func configuration(_ architecture: String, _ overrides: [String] = []) throws -> TrainingConfiguration {
        try ConfigurationLoader.parse("""
            model:
              architecture: \(architecture)
              embedding_dimension: 4
              table_count: 3
              table_rows: 50
              bottom_mlp: [8, 4]
              top_mlp: [6, 1]
              deep_mlp: [5, 1]
              item_tables: [2]
            data:
              dense_features: 2
            """, source: "registry.yaml", overrides: overrides)
    }

    @Test func namesAreUnique() {
        #expect(Set(ModelRegistry.names).count == ModelRegistry.definitions.count)
        #expect(Set(ModelRegistry.definitions.map { $0.benchName }).count == ModelRegistry.definitions.count)
    }

    /// The config stored in a checkpoint is the YAML `config` prints: it holds the
    /// architecture's own keys and no other's, and reads back as the same config.
    @Test(arguments: ModelRegistry.names)
    func eachArchitectureRoundTripsWithItsOwnKeys(name: String) throws {
        let c = try Self.configuration(name)
        #expect(c.model.architecture == name)
        let yaml = try ConfigurationLoader.yaml(c)
        let own = ModelRegistry.definition(named: name)!.keys
        for key in ModelRegistry.allKeys {
            #expect(yaml.contains("\n  \(key):") == own.contains(key), "\(name): \(key)\n\(yaml)")
        }
        let back = try ConfigurationLoader.parse(yaml, source: "checkpoint")
        #expect(back == c)
        #expect(back.model.differences(from: c.model).isEmpty)
        let model = try ModelFactory.makeModel(c, batchCapacity: 4)
        #expect(model.arena.count > 0 && model.embeddingTables.count >= 3)
    }

    @Test func differencesNameTheArchitectureThenItsKeys() throws {
        let dlrm = try Self.configuration("dlrm"), wide = try Self.configuration("wide_deep")
        #expect(dlrm != wide)
        #expect(dlrm.model.differences(from: wide.model).first == "model.architecture: dlrm in the checkpoint, wide_deep in the config")
        let deeper = try Self.configuration("dlrm", ["model.top_mlp=[7, 1]"])
        #expect(dlrm.model.differences(from: deeper.model) == ["model.top_mlp: [6, 1] in the checkpoint, [7, 1] in the config"])
    }

    /// A key of the architecture is checked by its definition, named in the message.
    @Test func anArchitecturesKeysAreCheckedByItsDefinition() throws {
        #expect(throws: ConfigurationError.self) { try Self.configuration("dcnv2", ["model.cross_rank=0"]) }
        do {
            _ = try Self.configuration("bst", ["model.attention_heads=3"])
            Issue.record("three heads of a 4-wide embedding were accepted")
        } catch let error as ConfigurationError {
            #expect(error.message.contains("key 'model.attention_heads': must divide model.embedding_dimension (4), got 3"),
                    "\(error.message)")
        }
    }
}
