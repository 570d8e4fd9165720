import Compute
import Distributed
import Foundation
import NeuralNetwork

/// A training checkpoint: everything needed to continue a run exactly, on any number of ranks.
///
/// Layout of `<run>/step-<N>/`:
///
///     embeddings-rank<r>.h5   rank r's rows of each table it holds (replicated tables: rank 0's
///                             copy only), `/<table>/weights` (rows, D), and their optimizer
///                             state `/<table>/optimizer_first` and `/<table>/optimizer_second`
///                             (row-wise Adagrad: (rows, 1); Adam: (rows, D) each); a
///                             dynamic table's map beside them (`DynamicMapDatasets`)
///     dense.h5                from rank 0: every dense parameter at `/dense/<path>`, the dense
///                             optimizer state `/optimizer/dense_first` and `_second` (arena
///                             layout), and for every table a virtual dataset `/<table>/weights`
///                             (and its optimizer state) that stitches the ranks' rows into the
///                             whole table, readable by h5dump or h5py; attributes: format,
///                             format_version, step, epoch, position_in_epoch, samples_seen,
///                             world_size, optimizer steps, optimizer, config (YAML), shards
///                             (a line per row block written: file, table, first row, row count)
///                             and state_crc32c (CRC-32C of all of them, see `stateText`)
///
/// Every dataset carries the CRC-32C of its bytes as its `crc32c` attribute. Loading
/// reads each rank's rows from the shard files the `shards` list names, checking every dataset
/// it reads against its checksum, so a checkpoint written by N ranks loads on M and a missing,
/// truncated or damaged file is an error naming the file and dataset, never zeros. The folder
/// is written as `.step-<N>.partial`, each file is fsynced, and it is renamed when every rank
/// has finished; then `latest` is repointed and all but the newest `keepLast` checkpoints of
/// the run's lineage are removed. A crash at any point leaves `latest` on the previous
/// complete checkpoint; a full disk is refused before writing.
public enum TrainingCheckpoint {
    public static let formatName = "recsys-dist checkpoint"
    public static let formatVersion = 3

    /// Where a run stands, stored with the weights.
    public struct State: Sendable, Equatable {
        public var step: Int
        public var epoch: Int
        /// Samples of the current epoch already trained on (the loader resumes there).
        public var positionInEpoch: Int
        public var samplesSeen: Int
        public var worldSize: Int
        public var denseOptimizerSteps: Int
        public var sparseOptimizerSteps: Int
        /// The optimizer algorithm's name (state layouts differ between them).
        public var optimizer: String
        /// The run's config, as YAML text.
        public var configuration: String
        /// Names the chain of checkpoints one run writes (a resumed run continues its
        /// checkpoint's): `keep_last` prunes only its own lineage.
        public var lineage: String

        public init(step: Int, epoch: Int, positionInEpoch: Int, samplesSeen: Int, worldSize: Int, denseOptimizerSteps: Int,
                    sparseOptimizerSteps: Int, optimizer: String, configuration: String, lineage: String) {
            self.step = step
            self.epoch = epoch
            self.positionInEpoch = positionInEpoch
            self.samplesSeen = samplesSeen
            self.worldSize = worldSize
            self.denseOptimizerSteps = denseOptimizerSteps
            self.sparseOptimizerSteps = sparseOptimizerSteps
            self.optimizer = optimizer
            self.configuration = configuration
            self.lineage = lineage
        }
    }

    #if DEBUG
    /// Told the rank and path of every checkpoint file once it is complete on disk (set once,
    /// before training): the crash tests' fault injection, in debug builds only.
    nonisolated(unsafe) public static var fileWritten: ((_ rank: Int, _ path: String) -> Void)?
    /// Told the path of every checkpoint file about to be opened for reading (set once, before
    /// loading): the timing tests' slowed open, in debug builds only.
    nonisolated(unsafe) public static var willOpen: ((_ path: String) -> Void)?
    /// Told the folder a complete checkpoint is about to be put at (set once, before training):
    /// the crash tests' last moment before the swap, in debug builds only.
    nonisolated(unsafe) public static var willPlace: ((_ folder: String) -> Void)?
    #endif

    /// A checkpoint file of this rank is complete on disk.
    private static func didWrite(rank: Int, path: String) {
        #if DEBUG
        fileWritten?(rank, path)
        #endif
    }

    /// Writes the checkpoint of `step` collectively (every rank calls it); returns its folder.
    @discardableResult
    public static func save(model: RecommendationModel, denseOptimizer: DenseOptimizer, sparseOptimizer: SparseOptimizer,
                            state: State, runDirectory: String, keepLast: Int, communicator: Communicator) throws -> String {
        let final = "\(runDirectory)/step-\(state.step)", partial = "\(runDirectory)/.step-\(state.step).partial"
        if communicator.isRoot { try FileSystem.makeDirectory(runDirectory) }
        // The numbers, and room for HDF5's own structures (about 1 kB per dataset measured; 4 kB
        // allowed for each of up to three per table, three virtual ones per table, a dynamic
        // table's four map datasets and their four virtual ones, the dense ones).
        let datasets = 6 * model.embeddingTables.count + 8 * model.embeddingTables.filter { $0.rowMap != nil }.count
            + model.arena.entries.count + 2
        let bytes = payloadBytes(model: model, denseOptimizer: denseOptimizer, sparseOptimizer: sparseOptimizer, communicator: communicator)
            + 4096 * datasets + 256 * 1024
        try checkSpace(bytes: bytes, runDirectory: runDirectory, communicator: communicator)
        if communicator.isRoot {
            FileSystem.remove(partial)
            guard mkdir(partial, 0o755) == 0 else { throw FileSystemError.current(partial) }
        }
        // Every file of the checkpoint repeats its id, so files of two checkpoints are never mixed.
        let nonce = try communicator.allReduceMax([communicator.isRoot ? Double(UInt64.random(in: 0..<(1 << 52))) : 0])[0]
        let identity = "step-\(state.step)/\(UInt64(nonce))"  // rank 0's nonce (ranks' lineage strings may differ)
        try communicator.barrier()
        do {
            try writeFiles(model: model, denseOptimizer: denseOptimizer, sparseOptimizer: sparseOptimizer, state: state,
                           identity: identity, partial: partial, communicator: communicator)
            if communicator.isRoot {
                // Never over another lineage's checkpoint; this lineage's own (a run resumed from
                // an earlier step) is swapped out in one step, so `latest` never dangles.
                if FileManager.default.fileExists(atPath: final), let existing = try? Self.state(in: final), existing.lineage != state.lineage {
                    throw CheckpointError.otherLineage(path: final, lineage: existing.lineage)
                }
                #if DEBUG
                willPlace?(final)
                #endif
                try FileSystem.replaceDirectory(final, with: partial)
                try repointLatest(runDirectory: runDirectory, to: "step-\(state.step)")
                removeOld(runDirectory: runDirectory, keepLast: keepLast, lineage: state.lineage)
            }
        } catch {
            // Nothing partial stays behind to fill the disk; `latest` still names the previous one.
            FileSystem.remove(partial)
            throw error
        }
        try communicator.barrier()
        return final
    }

    /// Bytes of this rank's share of a checkpoint's numbers: its rows, their optimizer state and
    /// dynamic tables' maps (a replica counted on rank 0 only), and on rank 0 the dense parameters
    /// and their state.
    public static func payloadBytes(model: RecommendationModel, denseOptimizer: DenseOptimizer, sparseOptimizer: SparseOptimizer,
                                    communicator: Communicator) -> Int {
        var floats = 0, mapBytes = 0
        for (index, table) in model.embeddingTables.enumerated() where !(table.isReplica && !communicator.isRoot) {
            floats += table.valueCount + sparseOptimizer.firstStates[index].count + sparseOptimizer.secondStates[index].count
            mapBytes += table.rowMap.map(DynamicMapDatasets.bytes(of:)) ?? 0
        }
        if communicator.isRoot { floats += model.arena.count + denseOptimizer.firstState.count + denseOptimizer.secondState.count }
        return 4 * floats + mapBytes
    }

    /// Refuses, on every rank together, a checkpoint the file system holding `runDirectory`
    /// has no room for (what all ranks write, against the space rank 0 sees): writing it
    /// would fail part-way (HDF5 1.10 can even crash on a full disk).
    static func checkSpace(bytes: Int, runDirectory: String, communicator: Communicator) throws {
        let needed = try communicator.allReduceSum([Double(bytes)])[0]
        let free = try communicator.allReduceMax([communicator.isRoot ? Double(try FileSystem.freeBytes(at: runDirectory)) : 0])[0]
        guard needed <= free else { throw CheckpointError.noSpace(path: runDirectory, needed: Int(needed), free: Int(free)) }
    }

    /// Writes `values` (a table's rows, or their optimizer state) as the fp32 dataset `name` of
    /// `rows` rows: bf16 values widened (exactly), so any precision loads them and bf16 storage
    /// reads back the same bits.
    private static func write(_ values: StoredValues, as name: String, rows: Int, to file: HDF5File) throws {
        let columns = values.count / rows
        switch values {
        case .fp32(let floats):
            try file.writeFloats(name, shape: [rows, columns], from: floats.whole)
        case .bf16:
            try file.writeFloatRows(name, rows: rows, columns: columns) { block, destination in
                let widened = values.read((block.lowerBound * columns)..<(block.upperBound * columns))
                destination.update(from: widened, count: widened.count)
            }
        }
    }

    /// Writes every rank's shard file and rank 0's `dense.h5` into `partial`.
    private static func writeFiles(model: RecommendationModel, denseOptimizer: DenseOptimizer, sparseOptimizer: SparseOptimizer,
                                   state: State, identity: String, partial: String, communicator: Communicator) throws {
        // Every rank: its rows and their optimizer state.
        let rank = communicator.rank
        let shardFile = try HDF5File.create("\(partial)/embeddings-rank\(rank).h5")
        try shardFile.writeAttribute("format", string: formatName)
        try shardFile.writeAttribute("format_version", integer: formatVersion)
        try shardFile.writeAttribute(identityAttribute, string: identity)
        try shardFile.writeAttribute(tablePrecisionAttribute, string: model.tablesAreFP32 ? "fp32" : "bf16")
        var written: [Int32] = []  // (table number, first row, row count) of each block written
        let tables = tableCatalogue(model)
        for (index, table) in model.embeddingTables.enumerated() where !(table.isReplica && !communicator.isRoot) {
            guard let number = tables.firstIndex(where: { $0.name == table.name }) else { continue }
            try write(table.storage, as: "\(table.name)/weights", rows: table.rowCount, to: shardFile)
            for (suffix, states) in [("optimizer_first", sparseOptimizer.firstStates), ("optimizer_second", sparseOptimizer.secondStates)]
            where states[index].count > 0 {
                try write(states[index], as: "\(table.name)/\(suffix)", rows: table.rowCount, to: shardFile)
            }
            if let map = table.rowMap { try DynamicMapDatasets.write(map, table: table.name, to: shardFile) }
            written += [Int32(number), Int32(table.firstRow), Int32(table.rowCount)]
        }
        try shardFile.closeAndSync()
        didWrite(rank: communicator.rank, path: shardFile.path)

        // Rank 0 learns which rows every rank wrote: the shard list and the whole-table virtual datasets.
        let blocksByRank = try communicator.gather(written)

        if communicator.isRoot {
            let dense = try HDF5File.create("\(partial)/dense.h5")
            let shards = blocksByRank.enumerated().flatMap { rank, blocks in
                stride(from: 0, to: blocks.count, by: 3).map { block -> Shard in
                    let first = Int(blocks[block + 1]), count = Int(blocks[block + 2])
                    return Shard(file: "embeddings-rank\(rank).h5", table: tables[Int(blocks[block])].name, rows: first..<(first + count))
                }
            }
            let shardList = Shard.list(shards)
            for (name, value) in [("format", formatName), ("optimizer", state.optimizer), ("config", state.configuration),
                                  ("shards", shardList), ("lineage", state.lineage), (identityAttribute, identity)] {
                try dense.writeAttribute(name, string: value)
            }
            let text = stateText(state, shards: shardList, identity: identity)
            try dense.writeAttribute("state_crc32c", integer: Int(CRC32C.checksum(Array(text.utf8))))
            for (name, value) in [("format_version", formatVersion), ("step", state.step), ("epoch", state.epoch),
                                  ("position_in_epoch", state.positionInEpoch), ("samples_seen", state.samplesSeen),
                                  ("world_size", state.worldSize), ("dense_optimizer_steps", state.denseOptimizerSteps),
                                  ("sparse_optimizer_steps", state.sparseOptimizerSteps)] {
                try dense.writeAttribute(name, integer: value)
            }
            for entry in model.arena.entries {
                try dense.writeFloats("dense/\(entry.name)", shape: entry.shape, from: model.arena.value(of: entry))
            }
            for (name, state) in [("dense_first", denseOptimizer.firstState), ("dense_second", denseOptimizer.secondState)] where state.count > 0 {
                try dense.writeFloats("optimizer/\(name)", shape: [state.count], from: state.whole)
            }
            let stateColumns = sparseStateColumns(sparseOptimizer.settings.algorithm)
            for table in tables {
                let sources = shards.filter { $0.table == table.name }
                    .map { (file: $0.file, dataset: "\(table.name)/weights", rows: $0.rows) }
                try dense.writeVirtualRows("\(table.name)/weights", rows: table.rows, columns: table.dimension, sources: sources)
                for (suffix, columns) in zip(["optimizer_first", "optimizer_second"], stateColumns(table.dimension)) where columns > 0 {
                    try dense.writeVirtualRows("\(table.name)/\(suffix)", rows: table.rows, columns: columns,
                                               sources: sources.map { ($0.file, "\(table.name)/\(suffix)", $0.rows) })
                }
                if table.isDynamic {
                    try DynamicMapDatasets.writeVirtual(table: table.name, rows: table.rows,
                                                        sources: sources.map { ($0.file, $0.rows) }, to: dense)
                }
            }
            try dense.closeAndSync()
            didWrite(rank: communicator.rank, path: dense.path)
            try HDF5File.sync(partial)
        }
    }

    /// Every table of the model by name, whole-table rows and dimension, in a fixed order
    /// (the same on every rank, whatever it holds).
    static func tableCatalogue(_ model: RecommendationModel) -> [(name: String, rows: Int, dimension: Int, isDynamic: Bool)] {
        model.embeddingCollections.flatMap { collection in
            collection.specification.tableRowCounts.enumerated().map { t, rows in
                (name: "\(collection.specification.name)/table\(t)", rows: rows, dimension: collection.specification.dimension,
                 isDynamic: collection.specification.dynamicRule(ofTable: t) != nil)
            }
        }
    }

    /// Columns of the first and second sparse optimizer states for a table of dimension D.
    static func sparseStateColumns(_ algorithm: OptimizerAlgorithm) -> (Int) -> [Int] {
        switch algorithm {
        case .sgd: return { _ in [0, 0] }
        case .adagrad: return { _ in [1, 0] }
        case .adam: return { d in [d, d] }
        }
    }

    /// Points `<run>/best` at `step-<step>` (rank 0, after that checkpoint was saved); `keep_last`
    /// never removes the checkpoint `best` points at.
    public static func markBest(runDirectory: String, step: Int) throws {
        try repoint(link: "best", runDirectory: runDirectory, to: "step-\(step)")
    }

    private static func repointLatest(runDirectory: String, to target: String) throws {
        try repoint(link: "latest", runDirectory: runDirectory, to: target)
    }

    private static func repoint(link: String, runDirectory: String, to target: String) throws {
        let latest = "\(runDirectory)/\(link)", newLink = "\(runDirectory)/.\(link)-\(getpid())"
        FileSystem.remove(newLink)
        guard symlink(target, newLink) == 0 else { throw FileSystemError.current(newLink) }
        try FileSystem.rename(newLink, to: latest)
        try HDF5File.sync(runDirectory)
    }

    /// What a checkpoint folder holds ("latest: step-62", "step-10, step-20"), or nil when it
    /// holds no checkpoint.
    public static func existingCheckpoints(runDirectory: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        if let latest = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(runDirectory)/latest") { return "latest: \(latest)" }
        let steps = names.filter { $0.hasPrefix("step-") }.sorted()
        return steps.isEmpty ? nil : steps.joined(separator: ", ")
    }

    /// Removes every checkpoint of a folder (`step-N`, `latest`, `best`, partial writes):
    /// `train --overwrite` before its first checkpoint.
    public static func removeAll(runDirectory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        for name in names where name.hasPrefix("step-") || name == "latest" || name == "best"
            || (name.hasPrefix(".step-") && name.hasSuffix(".partial")) {
            FileSystem.remove("\(runDirectory)/\(name)")
        }
    }

    /// Removes all but the newest `keepLast` checkpoints of `lineage` (this run's chain): never
    /// another run's, never what `latest` or `best` points at, never one a reader holds.
    private static func removeOld(runDirectory: String, keepLast: Int, lineage: String) {
        guard keepLast > 0, let names = try? FileManager.default.contentsOfDirectory(atPath: runDirectory) else { return }
        let linked = Set(["latest", "best"].compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(runDirectory)/\($0)") })
        let own = names.compactMap { name -> Int? in name.hasPrefix("step-") ? Int(name.dropFirst(5)) : nil }
            .filter { (try? state(in: "\(runDirectory)/step-\($0)"))?.lineage == lineage }
            .sorted(by: >)
        // A checkpoint a reader holds (`CheckpointReadHold`) stays until a later save.
        for step in own.dropFirst(keepLast) where !linked.contains("step-\(step)") {
            CheckpointReadHold.removeUnlessHeld("\(runDirectory)/step-\(step)")
        }
    }

    /// Reads the state of the checkpoint in `directory` (a `step-<N>` folder or `latest`),
    /// checked against its checksum.
    public static func state(in directory: String) throws -> State {
        try stateAndShards(in: try resolve(directory)).state
    }

    /// The real path of a checkpoint folder (`latest` and `best` followed once): read every file
    /// of a checkpoint through it, so a link repointed meanwhile cannot mix two checkpoints.
    public static func resolve(_ directory: String) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder) else {
            throw CheckpointError.noSuchFolder(path: directory)
        }
        guard isFolder.boolValue, let resolved = realpath(directory, nil) else { throw CheckpointError.noSuchFolder(path: directory) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The state and the shard list of the checkpoint in `directory`, checked against
    /// `state_crc32c`.
    static func stateAndShards(in directory: String) throws -> (state: State, shards: [Shard], identity: String?) {
        let dense = try openChecked("\(directory)/dense.h5")
        let state = State(step: try dense.readIntegerAttribute("step"), epoch: try dense.readIntegerAttribute("epoch"),
                          positionInEpoch: try dense.readIntegerAttribute("position_in_epoch"),
                          samplesSeen: try dense.readIntegerAttribute("samples_seen"),
                          worldSize: try dense.readIntegerAttribute("world_size"),
                          denseOptimizerSteps: try dense.readIntegerAttribute("dense_optimizer_steps"),
                          sparseOptimizerSteps: try dense.readIntegerAttribute("sparse_optimizer_steps"),
                          optimizer: try dense.readStringAttribute("optimizer"),
                          configuration: try dense.readStringAttribute("config"),
                          lineage: try dense.readStringAttribute("lineage"))
        let shardList = try dense.readStringAttribute("shards")
        let stored = try dense.readIntegerAttribute("state_crc32c")
        let identity = dense.hasAttribute(identityAttribute) ? try dense.readStringAttribute(identityAttribute) : nil
        guard let shards = Shard.parse(shardList),
              Int(CRC32C.checksum(Array(stateText(state, shards: shardList, identity: identity).utf8))) == stored else {
            throw CheckpointError.checksumMismatch(path: dense.path, object: "attributes")
        }
        return (state, shards, identity)
    }

    /// The attribute every file of a checkpoint carries: "step-<N>/<random>" (written
    /// since this attribute exists; older checkpoints have none and are not checked for it).
    static let identityAttribute = "checkpoint_id"

    /// The attribute of every shard file saying how the tables that wrote it stored their rows
    /// ("fp32" or "bf16"; its datasets hold fp32 values either way, and load into either).
    static let tablePrecisionAttribute = "table_precision"

    /// The text whose CRC-32C `state_crc32c` holds: every attribute of `dense.h5` that matters.
    static func stateText(_ state: State, shards: String, identity: String?) -> String {
        [state.step, state.epoch, state.positionInEpoch, state.samplesSeen, state.worldSize, state.denseOptimizerSteps,
         state.sparseOptimizerSteps].map(String.init).joined(separator: " ")
            + "\n\(state.optimizer)\n\(state.lineage)\n\(state.configuration)\n\(shards)" + (identity.map { "\n\($0)" } ?? "")
    }

    /// Shapes of the dense parameters and whole tables stored, for `inspect`.
    public static func contents(of directory: String, model: RecommendationModel) throws -> [(name: String, shape: [Int])] {
        let dense = try openChecked("\(directory)/dense.h5")
        let names = model.arena.entries.map { "dense/\($0.name)" } + tableCatalogue(model).map { "\($0.name)/weights" }
        return names.map { ($0, dense.shape(of: $0) ?? []) }
    }

    /// Per dynamic table, the rows holding a key and the rows that can (every row but the
    /// buckets' default rows), for `inspect`: read through the whole-table key datasets.
    public static func occupancy(of directory: String, model: RecommendationModel) throws
        -> [(name: String, occupied: Int, usable: Int)] {
        let dense = try openChecked("\(directory)/dense.h5")
        var result: [(name: String, occupied: Int, usable: Int)] = []
        for collection in model.embeddingCollections {
            let specification = collection.specification
            for (t, rows) in specification.tableRowCounts.enumerated() {
                guard let rule = specification.dynamicRule(ofTable: t) else { continue }
                let name = "\(specification.name)/table\(t)"
                var occupied = 0, keys = [UInt64](repeating: 0, count: min(rows, 1 << 16))
                for first in stride(from: 0, to: rows, by: keys.count) {
                    let block = first..<min(rows, first + keys.count)
                    try keys.withUnsafeMutableBufferPointer {
                        try dense.readRows("\(name)/\(DynamicMapDatasets.keys)", rows: block, columns: 1, into: $0.baseAddress!)
                    }
                    occupied += keys.prefix(block.count).filter { $0 != DynamicRowMap.emptyKey }.count
                }
                result.append((name, occupied, rows - rule.bucketCount))
            }
        }
        return result
    }

    /// Loads weights (and, when given, optimizer state) into `model`, which may be sharded
    /// differently from the run that wrote the checkpoint: each rank reads its own rows from the
    /// shard files that hold them, checking each dataset it reads against its checksum.
    public static func load(into model: RecommendationModel, denseOptimizer: DenseOptimizer?, sparseOptimizer: SparseOptimizer?,
                            from checkpoint: String) throws -> State {
        let directory = try resolve(checkpoint)
        let (state, shards, identity) = try stateAndShards(in: directory)
        let dense = try openChecked("\(directory)/dense.h5")
        if let sparseOptimizer, state.optimizer != sparseOptimizer.settings.algorithm.rawValue {
            throw CheckpointError.modelMismatch(path: dense.path, detail: "optimizer \(state.optimizer) in the checkpoint, "
                                                + "\(sparseOptimizer.settings.algorithm.rawValue) in the config")
        }
        for entry in model.arena.entries {
            try dense.readFloats("dense/\(entry.name)", shape: entry.shape, into: model.arena.value(of: entry))
        }
        if let denseOptimizer {
            for (name, buffer) in [("dense_first", denseOptimizer.firstState), ("dense_second", denseOptimizer.secondState)] where buffer.count > 0 {
                try dense.readFloats("optimizer/\(name)", shape: [buffer.count], into: buffer.whole)
            }
            denseOptimizer.stepCount = state.denseOptimizerSteps
        }
        var shardFiles: [String: HDF5File] = [:]
        func shardFile(_ name: String) throws -> HDF5File {
            if let file = shardFiles[name] { return file }
            let path = "\(directory)/\(name)"
            guard FileManager.default.fileExists(atPath: path) else { throw CheckpointError.missingFile(path: path) }
            let file = try openChecked(path)
            let found = file.hasAttribute(identityAttribute) ? try file.readStringAttribute(identityAttribute) : nil
            if found != identity {
                throw CheckpointError.mixedCheckpoints(path: path, detail: "its checkpoint_id is \(found ?? "missing"), dense.h5's \(identity ?? "missing")")
            }
            shardFiles[name] = file
            return file
        }
        // The stored tables are the model's (their whole shapes), and the shard list stays inside them.
        for table in model.embeddingTables {
            let name = "\(table.name)/weights"
            guard let shape = dense.shape(of: name) else { throw CheckpointError.missing(path: dense.path, object: name) }
            guard shape == [table.wholeTableRowCount, table.dimension] else {
                throw CheckpointError.shapeMismatch(path: dense.path, object: name, found: shape,
                                                    expected: [table.wholeTableRowCount, table.dimension])
            }
        }
        try checkShardList(shards, tables: tableCatalogue(model), path: dense.path)
        for (index, table) in model.embeddingTables.enumerated() {
            // Each part: its dataset, its columns, and how values of local rows from a first one are stored.
            var parts = [(suffix: "weights", columns: table.dimension, store: { (values: UnsafeBufferPointer<Float>, row: Int) in
                table.writeRows(values, from: row)
            })]
            if let sparseOptimizer {
                for (suffix, states) in [("optimizer_first", sparseOptimizer.firstStates), ("optimizer_second", sparseOptimizer.secondStates)]
                where states[index].count > 0 {
                    let state = states[index], columns = state.count / table.rowCount
                    parts.append((suffix, columns, { values, row in state.write(values, at: row * columns) }))
                }
            }
            let rows = table.firstRow..<(table.firstRow + table.rowCount)
            var rowsRead = 0
            for shard in shards where shard.table == table.name && shard.rows.overlaps(rows) {
                let file = try shardFile(shard.file)
                for part in parts {
                    try file.readVerifiedRows("\(table.name)/\(part.suffix)", rows: shard.rows.count, columns: part.columns) {
                        (block, values: UnsafePointer<Float>) in
                        let global = (shard.rows.lowerBound + block.lowerBound)..<(shard.rows.lowerBound + block.upperBound)
                        let wanted = global.clamped(to: rows)
                        guard !wanted.isEmpty else { return }
                        part.store(UnsafeBufferPointer(start: values + (wanted.lowerBound - global.lowerBound) * part.columns,
                                                       count: wanted.count * part.columns),
                                   wanted.lowerBound - rows.lowerBound)
                    }
                }
                rowsRead += shard.rows.clamped(to: rows).count
            }
            guard rowsRead == rows.count else {
                throw CheckpointError.missing(path: dense.path, object: "rows \(rows.lowerBound)..<\(rows.upperBound) of \(table.name)")
            }
            if let map = table.rowMap {
                let holding = try shards.filter { $0.table == table.name && $0.rows.overlaps(rows) }
                    .map { (file: try shardFile($0.file), rows: $0.rows) }
                try DynamicMapDatasets.read(into: map, table: table.name, shards: holding, step: state.step)
            }
        }
        sparseOptimizer?.stepCount = state.sparseOptimizerSteps
        return state
    }

    /// Refuses a shard list (from `dense.h5` at `path`) naming a file outside the checkpoint's
    /// folder, a table the model lacks, or rows past its table's end: read as it stands, a
    /// crafted list of 10^12 rows kept `evaluate` scanning for hours.
    static func checkShardList(_ shards: [Shard], tables: [(name: String, rows: Int, dimension: Int, isDynamic: Bool)],
                               path: String) throws {
        for shard in shards {
            guard !shard.file.contains("/"), shard.file != "..", shard.file != "." else {
                throw CheckpointError.mixedCheckpoints(path: path, detail: "its shard list names '\(shard.file)', outside the checkpoint")
            }
            guard let table = tables.first(where: { $0.name == shard.table }) else {
                throw CheckpointError.modelMismatch(path: path, detail: "its shard list names table \(shard.table), which the model lacks")
            }
            guard shard.rows.upperBound <= table.rows else {
                throw CheckpointError.missing(path: path, object: "rows \(shard.rows.lowerBound)..<\(shard.rows.upperBound) of \(shard.table), "
                                              + "which has \(table.rows) rows (the shard list is wrong)")
            }
        }
    }

    static func openChecked(_ path: String) throws -> HDF5File {
        #if DEBUG
        willOpen?(path)
        #endif
        let file = try HDF5File.open(path)
        guard let format = try? file.readStringAttribute("format"), format == formatName else {
            throw CheckpointError.notACheckpoint(path: path)
        }
        let version = try file.readIntegerAttribute("format_version")
        guard version == formatVersion else {
            throw CheckpointError.versionMismatch(path: path, found: version, expected: formatVersion)
        }
        return file
    }
}

extension TrainingCheckpoint {
    /// A block of a table's rows in one shard file, as `dense.h5`'s `shards` attribute lists it.
    struct Shard: Equatable {
        var file: String
        var table: String
        /// Global rows of the table held by the block.
        var rows: Range<Int>

        /// One line per block: "file table first count".
        static func list(_ shards: [Shard]) -> String {
            shards.map { "\($0.file) \($0.table) \($0.rows.lowerBound) \($0.rows.count)" }.joined(separator: "\n")
        }

        /// The blocks of a `list`, or nil when a line is malformed.
        static func parse(_ text: String) -> [Shard]? {
            var shards: [Shard] = []
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 4, let first = Int(fields[2]), let count = Int(fields[3]), first >= 0, count >= 0 else { return nil }
                shards.append(Shard(file: String(fields[0]), table: String(fields[1]), rows: first..<(first + count)))
            }
            return shards
        }
    }
}
