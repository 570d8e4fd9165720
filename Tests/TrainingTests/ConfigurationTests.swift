import Configuration
import Datasets
import Foundation
import Models
import Testing
import TestSupport
import Training

@Suite struct ConfigurationTests {
    static let minimal = """
        model:
          architecture: dlrm
          embedding_dimension: 4
          table_count: 2
          table_rows: [10, 20]
          bottom_mlp: [8, 4]
          top_mlp: [8, 1]
        training:
          batch_size: 64
          optimizer:
            algorithm: adam
            learning_rate: 0.001
        """

    func error(_ text: String, overrides: [String] = []) -> String? {
        do {
            _ = try ConfigurationLoader.parse(text, source: "x.yaml", overrides: overrides)
            return nil
        } catch let error as ConfigurationError {
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func decodesValuesAndDefaults() throws {
        let c = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml")
        #expect(c.model.tableRows == [10, 20])
        #expect(c.training.optimizer.algorithm == .adam)
        #expect(c.training.batchSize == 64)
        #expect(c.data.denseFeatures == 13 && c.training.epochs == 1)
        #expect(c.training.shuffleWindow == 0)
        let windowed = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["training.shuffle_window=1000000"])
        #expect(windowed.training.shuffleWindow == 1_000_000)
        #expect(error(Self.minimal, overrides: ["training.shuffle_window=-1"])?
            .contains("training.shuffle_window") == true, "a negative window is refused, naming the key")
        #expect(c.distributed.pipeline)
        let unpipelined = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["distributed.pipeline=false"])
        #expect(!unpipelined.distributed.pipeline)
        #expect(error(Self.minimal, overrides: ["distributed.pipeline=sometimes"])?.contains("distributed.pipeline") == true)
    }

    @Test func oneRowCountAppliesToEveryTable() throws {
        let c = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["model.table_rows=7"])
        #expect(c.model.tableRows == [7, 7])
    }

    @Test func overridesSetNestedKeys() throws {
        let c = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml",
                                              overrides: ["training.optimizer.learning_rate=0.5", "training.schedule.warmup_steps=3",
                                                          "model.top_mlp=[16, 1]"])
        #expect(c.training.optimizer.learningRate == 0.5)
        #expect(c.training.schedule.warmupSteps == 3)
        #expect((c.model.definition as? DLRMDefinition)?.topMLP == [16, 1])
    }

    @Test func unknownKeysAreNamedWithTheirLine() {
        let text = Self.minimal + "\n  optimzer:\n    algorithm: sgd\n"
        let message = error(text)
        #expect(message?.hasPrefix("x.yaml:13: unknown key 'training.optimzer'") == true, "\(message ?? "")")
        #expect(error(Self.minimal, overrides: ["training.bach_size=3"])?.contains("unknown key 'training.bach_size'") == true)
        #expect(error(Self.minimal + "\nextra: 1\n")?.contains("unknown key 'extra'") == true)
    }

    @Test func wrongTypesNameTheKey() {
        let message = error(Self.minimal, overrides: ["training.batch_size=lots"])
        #expect(message?.contains("key 'training.batch_size': expected an integer") == true, "\(message ?? "")")
        let enumMessage = error(Self.minimal, overrides: ["training.optimizer.algorithm=rmsprop"])
        #expect(enumMessage?.contains("training.optimizer.algorithm") == true, "\(enumMessage ?? "")")
    }

    /// Values outside a fixed set and values of the wrong type are named in the config's words,
    /// never Swift's decoder's; unambiguous spellings of a choice are accepted (issue 29, item 5).
    @Test func choicesAndTypesAreExplainedInTheConfigsWords() throws {
        let cases: [(String, String)] = [
            ("model.architecture=widedeep", "key 'model.architecture': 'widedeep' is not one of dlrm, wide_deep, dcnv2, deepfm, bst, shared_bottom, mmoe, ple"),
            ("data.source=csv", "key 'data.source': 'csv' is not one of synthetic, criteo_tsv, records, delimited"),
            ("data.split=time", "key 'data.split': 'time' is not one of"),
            ("training.optimizer.algorithm=rmsprop", "key 'training.optimizer.algorithm': 'rmsprop' is not one of sgd, adagrad, adam"),
            ("training.optimizer.learning_rate=fast", "key 'training.optimizer.learning_rate': expected a number, got 'fast'"),
            ("training.batch_size=[1, 2]", "key 'training.batch_size': expected a single value, got a list"),
        ]
        for (override, expected) in cases {
            let message = error(Self.minimal, overrides: [override]) ?? "no error"
            #expect(message.contains(expected), "\(override): \(message)")
            #expect(!message.contains("Cannot initialize") && !message.contains("Expected to decode"), "\(message)")
        }
        let spelled = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml",
                                                    overrides: ["model.architecture=Wide-Deep", "training.optimizer.algorithm=ADAM",
                                                                "model.deep_mlp=[8, 1]"])
        #expect(spelled.model.architecture == "wide_deep" && spelled.training.optimizer.algorithm == .adam)
    }

    /// A `--set` value that is not YAML on its own is the string it reads as (item 11).
    /// `model.table_precision`: fp32 by default, bf16 by choice (any spelling the choices
    /// take), dynamic tables and the cuda backend too; `table_state_precision: bf16` only with bf16 tables.
    @Test func tablePrecisionIsAChoiceWithItsLimits() throws {
        #expect(try ConfigurationLoader.parse(Self.minimal, source: "x.yaml").model.tablePrecision == .fp32)
        let bf16 = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["model.table_precision=BF16"])
        #expect(bf16.model.tablePrecision == .bf16)
        #expect(error(Self.minimal, overrides: ["model.table_precision=fp8"])?.contains("model.table_precision") == true)
        #expect(error(Self.minimal, overrides: ["model.table_precision=bf16", "training.backend=cuda"]) == nil)
        #expect(error(Self.minimal, overrides: ["model.table_precision=bf16", "model.table_rows=dynamic"]) == nil)
        let state = error(Self.minimal, overrides: ["training.optimizer.table_state_precision=bf16"])
        #expect(state?.contains("training.optimizer.table_state_precision") == true, "\(state ?? "accepted")")
        #expect(error(Self.minimal, overrides: ["training.optimizer.table_state_precision=bf16", "model.table_precision=bf16"]) == nil)
    }

    @Test func aBareOverrideValueIsAString() throws {
        #expect(error(Self.minimal, overrides: ["data.delimited.delimiter=,"])?.contains("not valid YAML") != true)
        let named = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["run.name=a: b: c"])
        #expect(named.run.name == "a: b: c")
    }

    /// A missing config, a folder, a YAML error and a file that is no config each get one line
    /// that says why, echoing no line of the file (items 17 and 33).
    @Test func unreadableAndForeignConfigFilesAreNamedWithoutEcho() throws {
        let folder = ScratchFolder.path("recsys-foreign")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func message(_ path: String) -> String {
            do { _ = try ConfigurationLoader.load(path: path); return "no error" } catch { return "\(error)" }
        }
        #expect(message("\(folder)/none.yaml") == "\(folder)/none.yaml: no such config file")
        #expect(message(folder) == "\(folder): a folder, not a config file")
        try "root:$6$secret$hash:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n".write(toFile: "\(folder)/shadow", atomically: true, encoding: .utf8)
        try "include: \(folder)/shadow\n".write(toFile: "\(folder)/c.yaml", atomically: true, encoding: .utf8)
        let foreign = message("\(folder)/c.yaml")
        #expect(foreign.hasPrefix("\(folder)/shadow: not a recsys-dist config") && !foreign.contains("secret"), "\(foreign)")
        try "model: [a\n secret: c\n".write(toFile: "\(folder)/bad.yaml", atomically: true, encoding: .utf8)
        let syntax = message("\(folder)/bad.yaml")
        #expect(syntax.hasPrefix("\(folder)/bad.yaml: invalid YAML: 2:") && !syntax.contains("secret") && !syntax.contains("\n"), "\(syntax)")
    }

    /// `recsys-dist config` (and the config stored in checkpoints) writes numbers every YAML
    /// reader reads as numbers, and reads back the same config (issue 29, item 16).
    @Test func numbersAreWrittenPlainly() throws {
        let configuration = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["training.optimizer.epsilon=1e-8"])
        let text = try ConfigurationLoader.yaml(configuration)
        #expect(text.contains("learning_rate: 0.001") && text.contains("epsilon: 1.0e-08") && text.contains("eval_fraction: 0.2"), "\(text)")
        #expect(text.range(of: "[:-] -?[0-9]+e[-+]", options: .regularExpression) == nil, "an exponent without a point: \(text)")
        #expect(try ConfigurationLoader.parse(text, source: "y.yaml") == configuration)
    }

    /// Naming a run's checkpoints names its run folder too, unless run.name is given (item 18).
    @Test func theCheckpointRunNameNamesTheRunFolder() throws {
        let renamed = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["checkpoint.run_name=exp7"])
        #expect(renamed.run.name == "exp7" && renamed.checkpoint.runName == "exp7")
        let both = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["checkpoint.run_name=exp7", "run.name=mine"])
        #expect(both.run.name == "mine")
        #expect(try ConfigurationLoader.parse(Self.minimal, source: "x.yaml").run.name == "x")
    }

    /// A config stored by a checkpoint made before `data.value_mapping` existed reads as mapping
    /// 1 (its data was read so); a stored one names its own, and a new config leaves it unset
    /// (issue 29, item 2).
    @Test func storedConfigsKeepTheirValueMapping() throws {
        #expect(try ConfigurationLoader.parseStored(Self.minimal, source: "dense.h5").data.valueMapping == 1)
        let stored = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml", overrides: ["data.value_mapping=2"])
        #expect(try ConfigurationLoader.parseStored(try ConfigurationLoader.yaml(stored), source: "dense.h5").data.valueMapping == 2)
        #expect(try ConfigurationLoader.parse(Self.minimal, source: "x.yaml").data.valueMapping == nil)
        #expect(error(Self.minimal, overrides: ["data.value_mapping=3"])?.contains("key 'data.value_mapping': must be 1") == true)
    }

    @Test func outOfRangeValuesNameTheKeyAndRange() {
        #expect(error(Self.minimal, overrides: ["training.batch_size=0"])
            == "--set training.batch_size: key 'training.batch_size': must be in 1...4194304, got 0")
        #expect(error(Self.minimal.replacingOccurrences(of: "batch_size: 64", with: "batch_size: -5"))
            == "x.yaml:9: key 'training.batch_size': must be in 1...4194304, got -5")
        #expect(error(Self.minimal, overrides: ["training.optimizer.learning_rate=-1"])?
            .contains("key 'training.optimizer.learning_rate': must be in (0, 100]") == true)
        #expect(error(Self.minimal, overrides: ["model.bottom_mlp=[8, 5]"])?
            .contains("key 'model.bottom_mlp': must end at model.embedding_dimension (4)") == true)
        #expect(error(Self.minimal, overrides: ["model.table_rows=[1, 2, 3]"])?
            .contains("key 'model.table_rows': has 3 entries but model.table_count is 2") == true)
        #expect(error(Self.minimal, overrides: ["data.synthetic.crosses=[[0, 5]]"])?
            .contains("key 'data.synthetic.crosses[0]'") == true)
    }

    /// `table_rows: dynamic` (all tables, or entries of a list) with the rule's keys; capacity
    /// rounded up to whole buckets; a checkpoint's stored config reads back the same.
    @Test func dynamicTablesAreDecodedValidatedAndRoundTrip() throws {
        let all = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml",
                                                overrides: ["model.table_rows=dynamic", "model.dynamic_tables.capacity=1000",
                                                            "model.dynamic_tables.eviction=lfu", "model.dynamic_tables.min_count=3"])
        #expect(all.model.dynamicTables == [true, true] && all.model.tableRows == [1024, 1024], "1000 rounded up to 16 buckets of 64")
        #expect(all.model.recordTableRows == [0, 0])
        #expect(all.model.dynamicRules.compactMap { $0 }.map(\.minCount) == [3, 3])
        let mixed = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml",
                                                  overrides: ["model.table_rows=[dynamic, 20]", "model.dynamic_tables.bucket_rows=8",
                                                              "model.dynamic_tables.capacity=20"])
        #expect(mixed.model.dynamicTables == [true, false] && mixed.model.tableRows == [24, 20])
        let fixed = try ConfigurationLoader.parse(Self.minimal, source: "x.yaml")
        #expect(fixed.model.dynamicTables.isEmpty && fixed.model.dynamicRules.isEmpty)
        let stored = try ConfigurationLoader.parse(try ConfigurationLoader.yaml(mixed), source: "stored")
        #expect(stored.model == mixed.model)

        #expect(error(Self.minimal, overrides: ["model.table_rows=[dynamic, lots]"])?.contains("model.table_rows") == true)
        #expect(error(Self.minimal, overrides: ["model.table_rows=dynamic", "model.dynamic_tables.bucket_rows=1"])?
            .contains("key 'model.dynamic_tables.bucket_rows': must be in 2...4096, got 1") == true)
        #expect(error(Self.minimal, overrides: ["model.table_rows=dynamic", "model.dynamic_tables.min_count=0"])?
            .contains("key 'model.dynamic_tables.min_count': must be in 1...255") == true)
        #expect(error(Self.minimal, overrides: ["model.table_rows=dynamic", "data.multi_hot_sizes=[2, 2]"])?
            .contains("key 'data.multi_hot_sizes': cannot expand the ids of dynamic tables") == true)
        #expect(error(Self.minimal, overrides: ["model.dynamic_tables.capacity=10", "model.dynamic_tables.evict=lru"])?
            .contains("unknown key 'model.dynamic_tables.evict'") == true)
    }

    @Test func missingArchitectureIsReported() {
        let message = error("model:\n  embedding_dimension: 4\n")
        #expect(message?.contains("key 'model.architecture': required key is missing") == true, "\(message ?? "")")
    }

    @Test func delimitedSchemasAreCheckedInsideLists() throws {
        let text = Self.minimal.replacingOccurrences(of: "training:", with: """
            data:
              source: delimited
              path: r.csv
              dense_features: 1
              delimited:
                delimiter: ","
                label: {column: 2}
                dense: [{column: 3}]
                categorical: [{column: 0}, {colum: 1}]
            training:
            """)
        #expect(error(text)?.contains("unknown key 'data.delimited.categorical[1].colum'") == true, "\(error(text) ?? "")")
        let good = text.replacingOccurrences(of: "{colum: 1}", with: "{join: users, column: 1}")
        let configuration = try ConfigurationLoader.parse(good, source: "x.yaml")
        #expect(throws: ConfigurationError("key 'data.delimited.categorical[1].join': no join named 'users' in data.delimited.joins")) {
            try DataSplits.delimitedSchema(configuration)
        }
    }

    /// `--set` reaches list items by index (issue 10, item 20).
    @Test func overridesAddressListItems() throws {
        let text = Self.minimal.replacingOccurrences(of: "training:", with: """
            data:
              source: delimited
              path: r.csv
              delimited:
                delimiter: ","
                label: {column: 2}
                categorical: [{column: 0}, {column: 1}]
            training:
            """)
        let changed = try ConfigurationLoader.parse(text, source: "x.yaml", overrides: ["data.delimited.categorical[1].column=7"])
        #expect(changed.data.delimited?.categorical.map(\.column) == [.index(0), .index(7)])
        #expect(throws: ConfigurationError("--set data.delimited.categorical[2].column: 'categorical' has 2 items (indices 0...1)")) {
            try ConfigurationLoader.parse(text, source: "x.yaml", overrides: ["data.delimited.categorical[2].column=7"])
        }
        #expect(throws: ConfigurationError("--set data.delimited[0].x: 'delimited' is not a list")) {
            try ConfigurationLoader.parse(text, source: "x.yaml", overrides: ["data.delimited[0].x=1"])
        }
    }

    @Test func shippedConfigsAreValid() throws {
        let folder = TestPaths.packageRoot + "/configs"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
        #expect(names.count >= 9)
        for name in names { _ = try ConfigurationLoader.load(path: "\(folder)/\(name)") }
    }

    @Test func includeMergesSectionsKeyByKey() throws {
        let folder = ScratchFolder.path("recsys-include")
        try FileManager.default.createDirectory(atPath: folder + "/base", withIntermediateDirectories: true)
        try Self.minimal.write(toFile: folder + "/base/b.yaml", atomically: true, encoding: .utf8)
        try "include: base/b.yaml\ntraining:\n  batch_size: 32\n".write(toFile: folder + "/top.yaml", atomically: true, encoding: .utf8)
        let c = try ConfigurationLoader.load(path: folder + "/top.yaml")
        #expect(c.training.batchSize == 32, "the including file wins")
        #expect(c.training.optimizer.algorithm == .adam && c.model.tableRows == [10, 20], "the rest comes from the base")
        #expect(c.run.name == "top")
        try "include: top.yaml\n".write(toFile: folder + "/base/b.yaml", atomically: true, encoding: .utf8)
        try "include: base/b.yaml\n".write(toFile: folder + "/top.yaml", atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: folder + "/top.yaml") }
    }

    /// A file including itself through `./` (issue 29, item 32) is one short error, not a chain
    /// of ever longer paths.
    @Test func anIncludeCycleThroughDotPathsIsOneShortError() throws {
        let folder = ScratchFolder.path("recsys-cycle")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "include: ./d.yaml\n".write(toFile: folder + "/d.yaml", atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError("\(folder)/d.yaml: key 'include': ./d.yaml includes itself")) {
            try ConfigurationLoader.load(path: folder + "/d.yaml")
        }
    }

    /// An Adagrad initial accumulator past 100 (or infinite) would stop the model learning
    /// (issue 29, item 34).
    @Test func theInitialAccumulatorIsRangeChecked() {
        for value in [".inf", "1e30", "-1"] {
            #expect(error(Self.minimal, overrides: ["training.optimizer.initial_accumulator=\(value)"])?
                .contains("key 'training.optimizer.initial_accumulator': must be in [0, 100]") == true, "\(value)")
        }
        #expect(error(Self.minimal, overrides: ["training.optimizer.initial_accumulator=0.1"]) == nil)
    }
}
