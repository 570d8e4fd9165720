import Compute
import Foundation

/// The binary record format of recsys-dist: fixed-size records, memory-mapped for training.
///
/// Layout (little-endian):
///
///     offset  size  field
///     0       8     magic "RSDREC", 0, 1
///     8       4     format version (5)
///     12      4     dense features D
///     16      4     tables T
///     20      4     record size in bytes: 4*K + 4*D + the bags' bytes (4 per id, 8 per key)
///     24      8     record count N
///     32      4     header size H (64 + 8*T + 32*K, rounded up to 64)
///     36      4     tasks K (labels per record)
///     40      4     the value mapping the rows were given by (`CategoricalRows`)
///     44      20    zero
///     64      4*T   bag size of each table (the most ids a sample has in it)
///     64+4T   4*T   rows of each table (every id of table t is below it); 0: a dynamic
///                   table's, whose bags hold raw 64-bit ids (keys) instead of rows
///     64+8T   32*K  each task: its kind (1 byte: 0 binary, 1 regression), its name (UTF-8,
///                   at most 31 bytes, zero-padded)
///     H       N records: K labels (Float32), D dense values (Float32), then for each table
///                   its bag of row ids (Int32, unused slots -1) or of keys (UInt64, unused
///                   slots 2^64-1)
///
/// Formats 2 and 3 (one click label, no task section; 2 without key tables) are read as one
/// binary task named `click`; formats 2 to 4 (no value mapping field) as value mapping 1.
///
/// Reading checks every id against its table's rows: an id out of range is an error naming the
/// file and the record, never a memory access.
public enum RecordFormat {
    public static let magic: [UInt8] = [0x52, 0x53, 0x44, 0x52, 0x45, 0x43, 0x00, 0x01]
    public static let version: UInt32 = 5
    /// Versions this build reads (2: no key tables; 2 and 3: one click label; 2 to 4: value
    /// mapping 1).
    static let readableVersions: ClosedRange<UInt32> = 2...5
    /// An unused slot of a key bag.
    public static let paddingKey = UInt64.max
    /// The key of a missing categorical value in a key table (its own id: it gets a row).
    public static let missingKey = UInt64.max - 1

    /// Limits a record file's header must keep (far beyond any real data set).
    static let maximumDenseFeatures = 1 << 16, maximumTables = 1 << 14, maximumBagSize = 1 << 16

    /// Most tasks a file may hold, and the bytes of a task's name.
    static let maximumTasks = 1 << 10, taskNameBytes = 31

    /// The header's size; `taskCount` nil for formats 2 and 3 (no task section).
    static func headerSize(tableCount: Int, taskCount: Int?) -> Int { (64 + 8 * tableCount + 32 * (taskCount ?? 0) + 63) / 64 * 64 }
    static func recordSize(taskCount: Int = 1, denseCount: Int, bagSizes: [Int], tableRows: [Int]) -> Int {
        4 * taskCount + 4 * denseCount + 4 * idSlots(bagSizes: bagSizes, tableRows: tableRows).last!
    }

    /// Where each table's bag starts among a record's 4-byte id slots (a key takes two: low
    /// half, then high), and the total slots as the last entry.
    public static func idSlots(bagSizes: [Int], tableRows: [Int]) -> [Int] {
        var starts = [0]
        for (t, bag) in bagSizes.enumerated() { starts.append(starts[t] + bag * (tableRows[t] == 0 ? 2 : 1)) }
        return starts
    }

    /// Writes `key` into two id slots at `slot`.
    @inline(__always)
    public static func store(key: UInt64, in slots: UnsafeMutablePointer<Int32>, at slot: Int) {
        slots[slot] = Int32(truncatingIfNeeded: key)
        slots[slot + 1] = Int32(truncatingIfNeeded: key >> 32)
    }
}

/// Writes a record file: records are appended, the count is filled in at `finish()`, and the
/// file appears under its name only then (written aside and renamed).
public final class RecordWriter {
    public let path: String
    public let tasks: [PredictionTask]
    public let denseCount: Int
    public let bagSizes: [Int]
    public let tableRows: [Int]
    /// The value mapping the records' rows were given by.
    public let valueMapping: Int
    public private(set) var count = 0
    private let temporaryPath: String
    private var finished = false
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let recordSize: Int

    public init(path: String, tasks: [PredictionTask] = [.click], denseCount: Int, bagSizes: [Int], tableRows: [Int],
                valueMapping: Int = CategoricalRows.currentMapping) throws {
        precondition(tableRows.count == bagSizes.count, "RecordWriter: a row count per table")
        precondition(CategoricalRows.mappings.contains(valueMapping), "RecordWriter: value mapping \(valueMapping)")
        self.valueMapping = valueMapping
        precondition(!tasks.isEmpty && tasks.count <= RecordFormat.maximumTasks, "RecordWriter: 1...\(RecordFormat.maximumTasks) tasks")
        self.path = path
        self.tasks = tasks
        self.denseCount = denseCount
        self.bagSizes = bagSizes
        self.tableRows = tableRows
        recordSize = RecordFormat.recordSize(taskCount: tasks.count, denseCount: denseCount, bagSizes: bagSizes, tableRows: tableRows)
        temporaryPath = path + ".partial"
        guard FileManager.default.createFile(atPath: temporaryPath, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporaryPath) else {
            throw DataError("\(path): cannot create")
        }
        self.handle = handle
        try handle.write(contentsOf: header(count: 0))
        buffer.reserveCapacity(1 << 22)
    }

    private func header(count: Int) -> Data {
        var header = Data(count: RecordFormat.headerSize(tableCount: bagSizes.count, taskCount: tasks.count))
        header.replaceSubrange(0..<8, with: RecordFormat.magic)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { header.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        }
        put(RecordFormat.version, at: 8)
        put(UInt32(denseCount), at: 12)
        put(UInt32(bagSizes.count), at: 16)
        put(UInt32(recordSize), at: 20)
        put(UInt64(count), at: 24)
        put(UInt32(header.count), at: 32)
        put(UInt32(tasks.count), at: 36)
        put(UInt32(valueMapping), at: 40)
        for (t, size) in bagSizes.enumerated() { put(UInt32(size), at: 64 + 4 * t) }
        for (t, rows) in tableRows.enumerated() { put(UInt32(rows), at: 64 + 4 * (bagSizes.count + t)) }
        for (k, task) in tasks.enumerated() {
            let offset = 64 + 8 * bagSizes.count + 32 * k
            header[offset] = task.kind == .binary ? 0 : 1
            let name = Array(task.name.utf8.prefix(RecordFormat.taskNameBytes))
            header.replaceSubrange((offset + 1)..<(offset + 1 + name.count), with: name)
        }
        return header
    }

    /// Appends one record: a label per task; `ids` holds every table's bag, each padded to its
    /// size (slots as `RecordFormat.idSlots` lays them out).
    public func append(labels: UnsafePointer<Float>, dense: UnsafePointer<Float>, ids: UnsafePointer<Int32>) throws {
        for k in 0..<tasks.count { withUnsafeBytes(of: labels[k].bitPattern.littleEndian) { buffer.append(contentsOf: $0) } }
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: dense, count: 4 * denseCount))
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: ids, count: recordSize - 4 * tasks.count - 4 * denseCount))
        count += 1
        if buffer.count >= 1 << 22 { try flush() }
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the count, syncs and renames the file into place.
    public func finish() throws {
        try flush()
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: header(count: count))
        try handle.synchronize()
        try handle.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporaryPath, toPath: path)
        finished = true
    }

    /// A writer dropped before `finish()` (its input failed) leaves no file behind.
    deinit {
        guard !finished else { return }
        try? handle.close()
        try? FileManager.default.removeItem(atPath: temporaryPath)
    }
}

/// Records in the record format: a file, memory-mapped (a rank touches only the pages of the
/// records it reads), or records parsed into memory (`RecordBuffer`).
public final class RecordDataset: SampleSource, @unchecked Sendable {
    /// The file, or a name for records in memory.
    public let path: String
    public let count: Int
    public let tasks: [PredictionTask]
    public let denseFeatureCount: Int
    public let idsPerSample: [Int]
    /// Rows of each table: every id the records hold is below its table's.
    public let tableRows: [Int]
    /// The value mapping the rows were given by (`CategoricalRows`).
    public let valueMapping: Int
    private let recordSize: Int
    private let recordsBase: UnsafeRawPointer
    /// The mapping to unmap, or the memory to free.
    private let mapping: UnsafeMutableRawPointer
    private let mappingLength: Int
    private let isMapped: Bool

    /// Records held in memory: takes ownership of `records` (`count` records, from malloc).
    init(name: String, records: UnsafeMutableRawPointer, count: Int, tasks: [PredictionTask], denseCount: Int, bagSizes: [Int],
         tableRows: [Int], valueMapping: Int) {
        path = name
        self.valueMapping = valueMapping
        self.count = count
        self.tasks = tasks
        denseFeatureCount = denseCount
        idsPerSample = bagSizes
        self.tableRows = tableRows
        recordSize = RecordFormat.recordSize(taskCount: tasks.count, denseCount: denseCount, bagSizes: bagSizes, tableRows: tableRows)
        recordsBase = UnsafeRawPointer(records)
        mapping = records
        mappingLength = count * recordSize
        isMapped = false
    }

    public init(path: String) throws {
        self.path = path
        try RegularFile.check(path)
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw DataError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw DataError("\(path): cannot stat") }
        let length = Int(status.st_size)
        guard length >= 64 else { throw DataError("\(path): not a recsys-dist record file (too short)") }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED else {
            throw DataError("\(path): cannot memory-map")
        }
        mapping = mapped
        mappingLength = length
        isMapped = true
        let raw = UnsafeRawPointer(mapped)
        func read<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        guard Array(UnsafeRawBufferPointer(start: raw, count: 8)) == RecordFormat.magic else {
            munmap(mapped, length)
            throw DataError("\(path): not a recsys-dist record file (bad magic)")
        }
        let version = read(UInt32.self, at: 8)
        guard RecordFormat.readableVersions.contains(version) else {
            munmap(mapped, length)
            throw DataError("\(path): record format version \(version), this build reads version \(RecordFormat.version) "
                            + "(run recsys-dist preprocess again)")
        }
        denseFeatureCount = Int(read(UInt32.self, at: 12))
        let tableCount = Int(read(UInt32.self, at: 16))
        recordSize = Int(read(UInt32.self, at: 20))
        count = Int(truncatingIfNeeded: read(UInt64.self, at: 24))
        let headerSize = Int(read(UInt32.self, at: 32))
        let taskCount = version >= 4 ? Int(read(UInt32.self, at: 36)) : nil
        valueMapping = version >= 5 ? Int(read(UInt32.self, at: 40)) : 1
        guard CategoricalRows.mappings.contains(valueMapping) else {
            munmap(mapped, length)
            throw DataError("\(path): value mapping \(valueMapping), this build reads mappings "
                            + "\(CategoricalRows.mappings.lowerBound)...\(CategoricalRows.mappings.upperBound)")
        }
        guard tableCount <= RecordFormat.maximumTables, (1...RecordFormat.maximumTasks).contains(taskCount ?? 1),
              headerSize == RecordFormat.headerSize(tableCount: tableCount, taskCount: taskCount), headerSize <= length else {
            munmap(mapped, length)
            throw DataError("\(path): truncated or inconsistent header (\(tableCount) tables, \(taskCount ?? 1) tasks, "
                            + "header of \(headerSize) bytes)")
        }
        idsPerSample = (0..<tableCount).map { Int(read(UInt32.self, at: 64 + 4 * $0)) }
        tableRows = (0..<tableCount).map { Int(read(UInt32.self, at: 64 + 4 * (tableCount + $0))) }
        var tasks: [PredictionTask] = []
        for k in 0..<(taskCount ?? 0) {
            let offset = 64 + 8 * tableCount + 32 * k
            let kind = raw.load(fromByteOffset: offset, as: UInt8.self)
            let nameBytes = Array(UnsafeRawBufferPointer(start: raw + offset + 1, count: RecordFormat.taskNameBytes)).prefix { $0 != 0 }
            guard kind <= 1, let name = String(validating: nameBytes, as: UTF8.self), !name.isEmpty else {
                munmap(mapped, length)
                throw DataError("\(path): task \(k) of the header is damaged (kind \(kind))")
            }
            tasks.append(PredictionTask(name: name, kind: kind == 0 ? .binary : .regression))
        }
        self.tasks = taskCount == nil ? [.click] : tasks
        // Sizes a batch is allocated by: refuse absurd ones before anything is allocated.
        guard denseFeatureCount <= RecordFormat.maximumDenseFeatures,
              idsPerSample.allSatisfy({ (1...RecordFormat.maximumBagSize).contains($0) }),
              tableRows.allSatisfy({ (0...Int(Int32.max)).contains($0) }) else {
            munmap(mapped, length)
            throw DataError("\(path): header out of range (\(denseFeatureCount) dense features, \(tableCount) tables, "
                            + "bag sizes \(idsPerSample.prefix(4)), table rows \(tableRows.prefix(4)))")
        }
        let (recordBytes, overflow) = count.multipliedReportingOverflow(by: recordSize)
        guard recordSize == RecordFormat.recordSize(taskCount: self.tasks.count, denseCount: denseFeatureCount, bagSizes: idsPerSample,
                                                    tableRows: tableRows),
              count >= 0, !overflow, length - headerSize == recordBytes else {
            munmap(mapped, length)
            throw DataError("\(path): truncated or inconsistent (\(length) bytes for \(count) records of \(recordSize) bytes)")
        }
        recordsBase = raw + headerSize
    }

    deinit {
        if isMapped { munmap(mapping, mappingLength) } else { free(mapping) }
    }

    public var labels: [Float] {
        let taskCount = tasks.count
        return (0..<(count * taskCount)).map {
            recordsBase.loadUnaligned(fromByteOffset: $0 / taskCount * recordSize + 4 * ($0 % taskCount), as: Float.self)
        }
    }
    public var plantedLogits: [Float]? { nil }

    public func fill(_ batch: Batch, order: UnsafeBufferPointer<Int>, start: Int, size: Int) throws {
        precondition(size <= batch.capacity, "batch of \(size) exceeds capacity \(batch.capacity)")
        prepare(batch, size: size)
        for b in 0..<size { try fillRecord(order[start + b], into: batch, at: b) }
        batch.size = size
    }

    /// Sizes `batch`'s bags for `size` samples of these records and starts their offsets.
    func prepare(_ batch: Batch, size: Int) {
        for t in 0..<idsPerSample.count {
            batch.sparse[t].ids.reserve(size * idsPerSample[t])
            batch.sparse[t].offsets[0] = 0
            batch.sparse[t].carriesKeys = tableRows[t] == 0
            if tableRows[t] == 0 { batch.sparse[t].keys.reserve(size * idsPerSample[t]) }
        }
    }

    /// Copies record `index` into sample `b` of `batch` (samples before `b` filled, `prepare`d).
    func fillRecord(_ index: Int, into batch: Batch, at b: Int) throws {
        let denseCount = denseFeatureCount, taskCount = tasks.count, record = recordsBase + index * recordSize
        // A binary label is 0 or 1, a regression label and a dense value a finite number:
        // anything else is a damaged or foreign file, named here, never trained on (a label of 7
        // used to train to AUC 0.5).
        for (k, task) in tasks.enumerated() {
            let label = record.loadUnaligned(fromByteOffset: 4 * k, as: Float.self)
            guard task.kind == .binary ? label == 0 || label == 1 : label.isFinite else {
                let rule = task.kind == .binary ? "not 0 or 1" : "not a finite number"
                throw DataError("\(path): record \(index): label \(label)\(taskCount > 1 ? " of task '\(task.name)'" : "") is \(rule)")
            }
            batch.labels[b * taskCount + k] = label
        }
        let dense = batch.dense.base + b * denseCount
        dense.update(from: (record + 4 * taskCount).assumingMemoryBound(to: Float.self), count: denseCount)
        for i in 0..<denseCount where !dense[i].isFinite {
            throw DataError("\(path): record \(index): dense value \(i) is \(dense[i])")
        }
        var idOffset = 4 * taskCount + 4 * denseCount
        for t in 0..<idsPerSample.count {
            let feature = batch.sparse[t], bag = idsPerSample[t], rows = Int32(truncatingIfNeeded: tableRows[t])
            var written = Int(feature.offsets[b])
            if rows == 0 {
                for k in 0..<bag {
                    let key = record.loadUnaligned(fromByteOffset: idOffset + 8 * k, as: UInt64.self)
                    if key == RecordFormat.paddingKey { continue }
                    feature.keys[written] = key
                    feature.ids[written] = 0
                    written += 1
                }
                feature.offsets[b + 1] = Int32(written)
                idOffset += 8 * bag
                continue
            }
            for k in 0..<bag {
                let id = record.loadUnaligned(fromByteOffset: idOffset + 4 * k, as: Int32.self)
                if id == -1 { continue }
                guard id >= 0 && id < rows else {
                    throw DataError("\(path): record \(index): id \(id) of table \(t) is outside its \(rows) rows")
                }
                feature.ids[written] = id
                written += 1
            }
            feature.offsets[b + 1] = Int32(written)
            idOffset += 4 * bag
        }
    }
}

/// Record files made piece by piece (`preprocess` on several ranks), read as one dataset: record
/// i of the whole is record i - first(s) of shard s, in the order the index lists them.
public final class RecordShards: SampleSource, @unchecked Sendable {
    public let shards: [RecordDataset]
    /// Where each shard's records start in the whole, and the total last.
    private let starts: [Int]

    public init(_ shards: [RecordDataset]) throws {
        guard let first = shards.first else { throw DataError("no record shards") }
        for shard in shards where shard.denseFeatureCount != first.denseFeatureCount || shard.idsPerSample != first.idsPerSample
            || shard.tableRows != first.tableRows || shard.tasks != first.tasks {
            throw DataError("\(shard.path): records of another shape than \(first.path)'s")
        }
        self.shards = shards
        var starts = [0]
        for shard in shards { starts.append(starts.last! + shard.count) }
        self.starts = starts
    }

    public var count: Int { starts.last! }
    public var tasks: [PredictionTask] { shards[0].tasks }
    public var denseFeatureCount: Int { shards[0].denseFeatureCount }
    public var idsPerSample: [Int] { shards[0].idsPerSample }
    public var labels: [Float] { shards.flatMap(\.labels) }
    public var plantedLogits: [Float]? { nil }

    public func fill(_ batch: Batch, order: UnsafeBufferPointer<Int>, start: Int, size: Int) throws {
        precondition(size <= batch.capacity, "batch of \(size) exceeds capacity \(batch.capacity)")
        shards[0].prepare(batch, size: size)
        for b in 0..<size {
            let index = order[start + b]
            // The last shard starting at or before `index`.
            var low = 0, high = shards.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if starts[middle] <= index { low = middle } else { high = middle - 1 }
            }
            try shards[low].fillRecord(index - starts[low], into: batch, at: b)
        }
        batch.size = size
    }
}

/// Records collected in memory, in the record format, for training straight from raw files.
public final class RecordBuffer: RecordSink {
    public let tasks: [PredictionTask]
    public let denseCount: Int
    public let bagSizes: [Int]
    public let tableRows: [Int]
    /// The value mapping the records' rows are given by.
    public let valueMapping: Int
    public private(set) var count = 0
    private let recordSize: Int
    /// The records so far; grown by doubling, and handed to the dataset by `build` without a copy.
    private var memory: UnsafeMutableRawPointer?
    private var capacity = 0

    public init(tasks: [PredictionTask] = [.click], denseCount: Int, bagSizes: [Int], tableRows: [Int],
                valueMapping: Int = CategoricalRows.currentMapping) {
        precondition(tableRows.count == bagSizes.count, "RecordBuffer: a row count per table")
        self.valueMapping = valueMapping
        self.tasks = tasks
        self.denseCount = denseCount
        self.bagSizes = bagSizes
        self.tableRows = tableRows
        recordSize = RecordFormat.recordSize(taskCount: tasks.count, denseCount: denseCount, bagSizes: bagSizes, tableRows: tableRows)
    }

    deinit { free(memory) }

    public func append(labels: UnsafePointer<Float>, dense: UnsafePointer<Float>, ids: UnsafePointer<Int32>) {
        if count == capacity {
            capacity = max(1024, capacity * 2)
            guard let grown = realloc(memory, capacity * recordSize) else { fatalError("RecordBuffer: out of memory") }
            memory = grown
        }
        let record = memory! + count * recordSize, labelBytes = 4 * tasks.count
        record.copyMemory(from: labels, byteCount: labelBytes)
        (record + labelBytes).copyMemory(from: dense, byteCount: 4 * denseCount)
        (record + labelBytes + 4 * denseCount).copyMemory(from: ids, byteCount: recordSize - labelBytes - 4 * denseCount)
        count += 1
    }

    /// Appends a record of one label (a single-task buffer).
    public func append(label: Float, dense: UnsafePointer<Float>, ids: UnsafePointer<Int32>) {
        var label = label
        append(labels: &label, dense: dense, ids: ids)
    }

    /// The records as a dataset (named `name` in messages); the buffer is empty afterwards.
    public func build(name: String) -> RecordDataset {
        let records = memory ?? malloc(recordSize)!
        memory = nil
        defer { count = 0; capacity = 0 }
        return RecordDataset(name: name, records: records, count: count, tasks: tasks, denseCount: denseCount, bagSizes: bagSizes,
                             tableRows: tableRows, valueMapping: valueMapping)
    }
}
