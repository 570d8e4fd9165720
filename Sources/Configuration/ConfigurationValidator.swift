/// Range and consistency checks of a decoded config; each problem names its key.
import DataPipeline
import Models

public enum ConfigurationValidator {
    public struct Problem: Equatable, Sendable {
        public let key: String
        public let message: String
    }

    /// Tables too small for the rows their values take under the value mapping: the reserved
    /// rows (missing values, and rare ones with a frequency threshold) and, for a feature of a
    /// few values (an hour, a weekday, a bucket), one row per value, so that none shares a row
    /// with another or with the missing values. Raw data only (records keep their own rows).
    static func rowsForValues(_ c: TrainingConfiguration) -> [Problem] {
        let d = c.data, rows = c.model.recordTableRows
        guard d.source == .criteoTSV || d.source == .delimited, CategoricalRows.mappings.contains(d.resolvedValueMapping) else { return [] }
        var problems: [Problem] = []
        let categorical = d.delimited?.categorical
        for t in rows.indices where rows[t] != 0 {
            let feature = d.source == .delimited ? categorical.flatMap { $0.indices.contains(t) ? $0[t] : nil } : nil
            if d.source == .delimited && (feature == nil || feature?.flags != nil) { continue }
            let valueCount: Int?
            switch (feature?.transform, feature?.buckets) {
            case (.hourOfDay?, _): valueCount = DerivedFeature.hourOfDay(.unix).valueCount
            case (.dayOfWeek?, _): valueCount = DerivedFeature.dayOfWeek(.unix).valueCount
            case (_, let boundaries?): valueCount = DerivedFeature.buckets(boundaries).valueCount
            default: valueCount = nil
            }
            let derived = feature?.transform != nil || feature?.buckets != nil
            let rules = CategoricalRows(mapping: d.resolvedValueMapping, hasRareRow: !derived && d.frequencyThreshold > 0)
            let needed = rules.rowsNeeded(forValues: valueCount ?? 1)
            guard rows[t] < needed else { continue }
            let what = d.source == .delimited ? "data.delimited.categorical[\(t)]" : "Criteo field \(t + 1)"
            let takes = valueCount.map { "its \($0) values" } ?? "its values"
            problems.append(Problem(key: "model.table_rows[\(t)]", message: "\(rows[t]) rows are too few for \(what): \(takes) and "
                                    + "\(rules.reserved == 2 ? "a row for missing and one for rare values" : "a row for missing values") "
                                    + "(data.value_mapping \(rules.mapping)) need \(needed)"))
        }
        return problems
    }

    public static func problems(in c: TrainingConfiguration) -> [Problem] {
        var problems: [Problem] = []
        func require(_ condition: Bool, _ key: String, _ message: String) {
            if !condition { problems.append(Problem(key: key, message: message)) }
        }
        /// A task's name goes into result keys (`auc_like`) and record headers.
        func checkTaskName(_ name: String?, key: String) {
            guard let name else { return require(false, key, "required key is missing (each task is named)") }
            require(!name.isEmpty && name.utf8.count <= 31 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") },
                    key, "must be 1 to 31 letters, digits or '_', got '\(name)'")
        }
        func checkUnique(_ names: [String], key: String) {
            let repeated = names.first { name in names.filter { $0 == name }.count > 1 }
            require(repeated == nil, key, "names task '\(repeated ?? "")' twice")
        }
        let m = c.model
        require(m.embeddingDimension >= 1 && m.embeddingDimension <= 4096, "model.embedding_dimension",
                "must be in 1...4096, got \(m.embeddingDimension)")
        require(m.tableCount >= 1 && m.tableCount <= 1024, "model.table_count", "must be in 1...1024, got \(m.tableCount)")
        require(m.tableRows.count == m.tableCount, "model.table_rows",
                "has \(m.tableRows.count) entries but model.table_count is \(m.tableCount)")
        for (index, rows) in m.tableRows.enumerated() where rows < 1 || rows > Int(Int32.max) {
            require(false, "model.table_rows[\(index)]", "must be in 1...\(Int32.max), got \(rows)")
        }
        if !m.dynamicTables.isEmpty {
            let dynamic = m.dynamic
            require(dynamic.bucketRows >= 2 && dynamic.bucketRows <= 4096, "model.dynamic_tables.bucket_rows",
                    "must be in 2...4096, got \(dynamic.bucketRows)")
            require(dynamic.capacity >= 1 && dynamic.capacity <= Int(Int32.max) / 2, "model.dynamic_tables.capacity",
                    "must be in 1...\(Int32.max / 2), got \(dynamic.capacity)")
            require(dynamic.minCount >= 1 && dynamic.minCount <= 255, "model.dynamic_tables.min_count",
                    "must be in 1...255, got \(dynamic.minCount)")
            require(c.data.multiHotSizes.isEmpty, "data.multi_hot_sizes", "cannot expand the ids of dynamic tables")
            if let ids = c.data.synthetic.dynamicIDs {
                require(ids >= 1 && ids <= Int(Int32.max), "data.synthetic.dynamic_ids", "must be in 1...\(Int32.max), got \(ids)")
            }
        }
        problems += m.definition.problems(for: c.modelShape)
            .map { Problem(key: $0.key, message: $0.message) }

        let d = c.data
        require(d.denseFeatures >= 0 && d.denseFeatures <= 4096, "data.dense_features",
                "must be in 0...4096, got \(d.denseFeatures)")
        if d.source == .delimited, let delimited = d.delimited {
            require(delimited.categorical.count == m.tableCount, "data.delimited.categorical",
                    "has \(delimited.categorical.count) features but model.table_count is \(m.tableCount)")
            require((delimited.dense ?? []).count == d.denseFeatures, "data.delimited.dense",
                    "has \((delimited.dense ?? []).count) columns but data.dense_features is \(d.denseFeatures)")
        }
        let retrieval = m.definition.retrieval
        if let retrieval {
            require(d.delimited.map { $0.label == nil && $0.labels == nil } ?? true, "data.delimited.label",
                    "a retriever learns from interactions (every line is one): leave the label out, and the file to its positives")
            require(c.evaluation.earlyStopAUC == 0 && !c.checkpoint.keepBest, c.checkpoint.keepBest ? "checkpoint.keep_best" : "evaluation.early_stop_auc",
                    "follows an AUC, which a retriever has not (it is scored by Recall@K)")
            for table in Set([retrieval.userKeyTable, retrieval.itemKeyTable]) where table < m.dynamicTables.count && m.dynamicTables[table] {
                require(false, "model.table_rows[\(table)]", "table \(table) names the \(table == retrieval.itemKeyTable ? "item" : "user") of a retriever's "
                        + "samples: it must be a fixed table (its ids are the rows)")
            }
            for (index, cutoff) in c.evaluation.topK.enumerated() {
                require(cutoff >= 1 && cutoff <= 10_000, "evaluation.top_k[\(index)]", "must be in 1...10000, got \(cutoff)")
            }
            require(!c.evaluation.topK.isEmpty, "evaluation.top_k", "needs at least one cutoff")
            // A user-tower history that ends with the line's own item shows the user tower its target.
            for (t, feature) in (d.delimited?.categorical ?? []).enumerated()
            where feature.historyOf != nil && feature.includesCandidate != false && !retrieval.itemTables.contains(t) {
                require(false, "data.delimited.categorical[\(t)].includes_candidate", "a user-tower history ending with the line's own item "
                        + "shows the user tower its target: set includes_candidate: false")
            }
        }
        if let catalogue = d.catalogue {
            require(retrieval != nil, "data.catalogue", "an item catalogue is a retriever's (model.architecture: two_tower)")
            require(d.source == .delimited, "data.catalogue", "is read with the interactions' delimited schema (data.source: delimited)")
            require(d.frequencyThreshold == 0, "data.frequency_threshold", "rare values are counted in the interactions, not in "
                    + "data.catalogue's items: leave it 0 with a catalogue file")
            require(catalogue.itemColumn >= 0, "data.catalogue.item_column", "a column number is 0 or more, got \(catalogue.itemColumn)")
        }
        if d.split == .lastPerUser {
            require(d.source == .delimited, "data.split", "last_per_user reads a delimited file (data.source: delimited), not \(d.source.rawValue)")
            require(d.delimited?.userColumn != nil, "data.delimited.user_column", "required by data.split last_per_user: the column naming the user")
        }
        if let delimited = d.delimited, retrieval == nil || delimited.label != nil || delimited.labels != nil {
            require((delimited.label == nil) != (delimited.labels == nil), "data.delimited.label",
                    delimited.label == nil ? "required key is missing (or data.delimited.labels, one per task)"
                        : "give label (one task) or labels (one per task), not both")
            if let labels = delimited.labels { require(!labels.isEmpty, "data.delimited.labels", "needs at least one label") }
            for (key, label) in delimited.taskLabels {
                if delimited.labels != nil { checkTaskName(label.name, key: "\(key).name") }
                require(label.positiveIf == nil || label.regression != true, "\(key).regression",
                        "a regression label is the column's number: no positive_if")
            }
            checkUnique(delimited.tasks.map(\.name), key: "data.delimited.labels")
        }
        if d.source == .synthetic {
            require(!d.synthetic.tasks.isEmpty, "data.synthetic.tasks", "needs at least one task")
            for (index, name) in d.synthetic.tasks.enumerated() { checkTaskName(name, key: "data.synthetic.tasks[\(index)]") }
            checkUnique(d.synthetic.tasks, key: "data.synthetic.tasks")
        }
        let tasks = d.tasks
        if let name = c.evaluation.task {
            let task = tasks.first { $0.name == name }
            require(task != nil, "evaluation.task", "'\(name)' is none of the data's tasks (\(tasks.map(\.name).joined(separator: ", ")))")
            require(task.map { $0.kind == .binary } ?? true, "evaluation.task", "'\(name)' is a regression: early stopping and "
                    + "checkpoint.keep_best follow a binary task's AUC")
        } else if c.evaluation.earlyStopAUC > 0 || c.checkpoint.keepBest {
            require(tasks.first?.kind == .binary, "evaluation.task", "the first task is a regression: name the binary task whose AUC "
                    + "early stopping and checkpoint.keep_best follow")
        }
        if !d.multiHotSizes.isEmpty {
            require(d.multiHotSizes.count == m.tableCount, "data.multi_hot_sizes",
                    "has \(d.multiHotSizes.count) entries but model.table_count is \(m.tableCount)")
            for (index, size) in d.multiHotSizes.enumerated() where size < 1 || size > 1024 {
                require(false, "data.multi_hot_sizes[\(index)]", "must be in 1...1024, got \(size)")
            }
        }
        require(d.idsPerSample >= 1 && d.idsPerSample <= 1024, "data.ids_per_sample",
                "must be in 1...1024, got \(d.idsPerSample)")
        if d.source != .synthetic {
            require(!d.path.isEmpty, "data.path", "is required when data.source is \(d.source.rawValue)")
        }
        if d.source == .criteoTSV {
            require(d.denseFeatures == 13, "data.dense_features", "must be 13 for Criteo data, got \(d.denseFeatures)")
            require(m.tableCount == 26, "model.table_count", "must be 26 for Criteo data, got \(m.tableCount)")
            require(d.idsPerSample == 1, "data.ids_per_sample", "must be 1 for Criteo data, got \(d.idsPerSample)")
        }
        require(d.evalFraction > 0 && d.evalFraction < 1, "data.eval_fraction", "must be in (0, 1), got \(d.evalFraction)")
        if let count = d.evalCount { require(count >= 1, "data.eval_count", "must be at least 1, got \(count)") }
        require(d.splitSeed >= 0, "data.split_seed", "must be non-negative, got \(d.splitSeed)")
        require(d.frequencyThreshold >= 0, "data.frequency_threshold", "must be non-negative, got \(d.frequencyThreshold)")
        if let mapping = d.valueMapping {
            require(CategoricalRows.mappings.contains(mapping), "data.value_mapping",
                    "must be 1 (records and checkpoints made before missing values had a row of their own) or 2, got \(mapping)")
        }
        for problem in rowsForValues(c) { require(false, problem.key, problem.message) }
        let s = d.synthetic
        require(s.trainSamples >= 1, "data.synthetic.train_samples", "must be at least 1, got \(s.trainSamples)")
        require(s.evalSamples >= 2, "data.synthetic.eval_samples", "must be at least 2, got \(s.evalSamples)")
        require(s.seed >= 0, "data.synthetic.seed", "must be non-negative, got \(s.seed)")
        require(s.zipfExponent >= 0 && s.zipfExponent <= 10, "data.synthetic.zipf_exponent",
                "must be in 0...10, got \(s.zipfExponent)")
        require(s.plantedIDsPerTable >= 0, "data.synthetic.planted_ids_per_table",
                "must be non-negative, got \(s.plantedIDsPerTable)")
        for (index, pair) in (s.crosses ?? []).enumerated() {
            require(pair.count == 2 && pair.allSatisfy { $0 >= 0 && $0 < m.tableCount } && pair[0] != pair[1],
                    "data.synthetic.crosses[\(index)]",
                    "must be two different table indices in 0..<\(m.tableCount), got \(pair)")
        }

        let t = c.training
        require(t.batchSize >= 1 && t.batchSize <= 1 << 22, "training.batch_size", "must be in 1...4194304, got \(t.batchSize)")
        require(t.epochs >= 1, "training.epochs", "must be at least 1, got \(t.epochs)")
        require(t.maxSteps >= 0, "training.max_steps", "must be non-negative (0: no limit), got \(t.maxSteps)")
        require(t.seed >= 0, "training.seed", "must be non-negative, got \(t.seed)")
        require(t.shuffleWindow >= 0, "training.shuffle_window", "must be non-negative (0: the whole dataset), got \(t.shuffleWindow)")
        require(t.threads >= 1 && t.threads <= 256, "training.threads", "must be in 1...256, got \(t.threads)")
        require(t.logEvery >= 0, "training.log_every", "must be non-negative, got \(t.logEvery)")
        require(!t.tensorFloat32 || t.backend == "cuda", "training.tf32",
                "TF32 products are a GPU's: it needs training.backend: cuda (training.backend is \(t.backend))")
        let taskNames = c.data.tasks.map(\.name)
        for (name, weight) in zip(t.lossWeights.names, t.lossWeights.weights) {
            require(taskNames.contains(name), "training.loss_weights.\(name)",
                    "names no task (the tasks are \(taskNames.joined(separator: ", ")))")
            require(weight.isFinite && weight >= 0 && weight <= 1000, "training.loss_weights.\(name)",
                    "must be in 0...1000, got \(weight)")
        }
        let o = t.optimizer
        require(o.learningRate > 0 && o.learningRate <= 100, "training.optimizer.learning_rate",
                "must be in (0, 100], got \(o.learningRate)")
        if let epsilon = o.epsilon {
            require(epsilon > 0 && epsilon < 1, "training.optimizer.epsilon", "must be in (0, 1), got \(epsilon)")
        }
        require(o.beta1 >= 0 && o.beta1 < 1, "training.optimizer.beta1", "must be in [0, 1), got \(o.beta1)")
        require(o.beta2 >= 0 && o.beta2 < 1, "training.optimizer.beta2", "must be in [0, 1), got \(o.beta2)")
        require(o.tableStatePrecision == .fp32 || c.model.tablePrecision == .bf16, "training.optimizer.table_state_precision",
                "bf16 optimizer state is for bf16 tables (model.table_precision is \(c.model.tablePrecision.rawValue))")
        require(o.initialAccumulator >= 0 && o.initialAccumulator <= 100, "training.optimizer.initial_accumulator",
                "must be in [0, 100] (Adagrad divides each step by its square root), got \(o.initialAccumulator)")
        let schedule = t.schedule
        require(schedule.warmupSteps >= 0, "training.schedule.warmup_steps", "must be non-negative, got \(schedule.warmupSteps)")
        require(schedule.decayStartStep >= 0, "training.schedule.decay_start_step",
                "must be non-negative, got \(schedule.decayStartStep)")
        require(schedule.decaySteps >= 0, "training.schedule.decay_steps", "must be non-negative, got \(schedule.decaySteps)")
        require(schedule.decay == .none || schedule.decaySteps > 0, "training.schedule.decay_steps",
                "must be positive when training.schedule.decay is \(schedule.decay.rawValue)")
        require(schedule.finalScale >= 0 && schedule.finalScale <= 1, "training.schedule.final_scale",
                "must be in 0...1, got \(schedule.finalScale)")
        require(c.evaluation.batchSize >= 1 && c.evaluation.batchSize <= 1 << 22, "evaluation.batch_size",
                "must be in 1...4194304, got \(c.evaluation.batchSize)")
        require(c.distributed.replicateMaxRows >= 0, "distributed.replicate_max_rows",
                "must be non-negative, got \(c.distributed.replicateMaxRows)")
        require(c.distributed.rowWiseMinRows >= 1, "distributed.row_wise_min_rows",
                "must be at least 1, got \(c.distributed.rowWiseMinRows)")
        require(c.evaluation.everySteps >= 0, "evaluation.every_steps", "must be non-negative (0: off), got \(c.evaluation.everySteps)")
        require(c.evaluation.earlyStopAUC >= 0 && c.evaluation.earlyStopAUC <= 1, "evaluation.early_stop_auc",
                "must be in 0...1 (0: off), got \(c.evaluation.earlyStopAUC)")
        if let name = c.run.name {
            require(!name.isEmpty && !name.contains("/") && !name.hasPrefix("."), "run.name",
                    "must be a plain folder name (no '/', not starting with '.'), got '\(name)'")
        }
        let k = c.checkpoint
        require(!k.directory.isEmpty, "checkpoint.directory", "must not be empty")
        require(k.everySteps >= 0, "checkpoint.every_steps", "must be non-negative (0: off), got \(k.everySteps)")
        require(k.everySeconds >= 0, "checkpoint.every_seconds", "must be non-negative (0: off), got \(k.everySeconds)")
        require(k.keepLast >= 0, "checkpoint.keep_last", "must be non-negative (0: keep all), got \(k.keepLast)")
        if let name = k.runName {
            require(!name.isEmpty && !name.contains("/") && !name.hasPrefix("."), "checkpoint.run_name",
                    "must be a plain folder name (no '/', not starting with '.'), got '\(name)'")
        }
        return problems
    }
}
