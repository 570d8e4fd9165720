import CHDF5
import Compute
import Foundation

/// Errors reading or writing checkpoints; each names the file and what is wrong.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String)
    case cannotOpen(path: String)
    case notHDF5(path: String)
    case missing(path: String, object: String)
    case shapeMismatch(path: String, object: String, found: [Int], expected: [Int])
    case writeFailed(path: String, object: String)
    case readFailed(path: String, object: String)
    case notACheckpoint(path: String)
    case versionMismatch(path: String, found: Int, expected: Int)
    case modelMismatch(path: String, detail: String)
    case missingFile(path: String)
    case checksumMismatch(path: String, object: String)
    case folderInUse(path: String, holder: String)
    case noSpace(path: String, needed: Int, free: Int)
    case noSuchFolder(path: String)
    case mixedCheckpoints(path: String, detail: String)
    case otherLineage(path: String, lineage: String)
    case pruned(path: String)

    public var description: String {
        switch self {
        case .cannotCreate(let path): return "\(path): cannot create the HDF5 file"
        case .cannotOpen(let path): return "\(path): cannot open as HDF5 (missing, unreadable or truncated)"
        case .notHDF5(let path): return "\(path): not an HDF5 file"
        case .missing(let path, let object): return "\(path): '\(object)' is missing"
        case .shapeMismatch(let path, let object, let found, let expected):
            return "\(path): '\(object)' has shape \(found), the model expects \(expected)"
        case .writeFailed(let path, let object): return "\(path): writing '\(object)' failed"
        case .readFailed(let path, let object): return "\(path): reading '\(object)' failed"
        case .notACheckpoint(let path): return "\(path): not a recsys-dist checkpoint (no format attribute)"
        case .versionMismatch(let path, let found, let expected):
            return "\(path): checkpoint format version \(found), this build reads version \(expected)"
        case .modelMismatch(let path, let detail): return "\(path): checkpoint is from another model: \(detail)"
        case .missingFile(let path): return "\(path): missing (the checkpoint lists it; the checkpoint is incomplete)"
        case .checksumMismatch(let path, let object):
            return "\(path): '\(object)' does not match its checksum (the file is damaged)"
        case .folderInUse(let path, let holder):
            return "\(path): checkpoint folder in use by another run (\(holder)); choose another checkpoint.run_name"
        case .noSpace(let path, let needed, let free):
            return "\(path): no space left for the checkpoint (needs \(needed / 1_000_000) MB, \(free / 1_000_000) MB free)"
        case .noSuchFolder(let path): return "\(path): no such checkpoint folder"
        case .pruned(let path): return "\(path): removed (keep_last) while it was being opened; try again"
        case .otherLineage(let path, let lineage):
            return "\(path): holds a checkpoint of another run (lineage \(lineage)); refusing to overwrite it"
        case .mixedCheckpoints(let path, let detail): return "\(path): belongs to another checkpoint (\(detail)); refusing to mix them"
        }
    }
}

/// The element types of datasets: floats (weights, optimizer state) and the unsigned integers
/// of dynamic tables' maps (keys, stamps, counters).
protocol HDF5Scalar {
    static var hdf5Type: hid_t { get }
}

extension Float: HDF5Scalar { static var hdf5Type: hid_t { recsys_h5t_native_float() } }
extension Int64: HDF5Scalar { static var hdf5Type: hid_t { recsys_h5t_native_int64() } }
extension UInt64: HDF5Scalar { static var hdf5Type: hid_t { recsys_h5t_native_uint64() } }
extension UInt32: HDF5Scalar { static var hdf5Type: hid_t { recsys_h5t_native_uint32() } }
extension UInt8: HDF5Scalar { static var hdf5Type: hid_t { recsys_h5t_native_uint8() } }

/// One open HDF5 file: numeric datasets addressed by "/"-joined paths (groups made on the way)
/// and scalar attributes on the root group. Every HDF5 call of recsys-dist goes through here.
final class HDF5File {
    let path: String
    private let handle: hid_t

    /// HDF5 prints its error stack by default; recsys-dist reports errors itself. The setting is
    /// per thread in a thread-safe HDF5, so it is made before every open.
    private static func silenceErrorStack() { H5Eset_auto2(recsys_h5e_default(), nil, nil) }

    private init(path: String, handle: hid_t) {
        self.path = path
        self.handle = handle
    }

    static func create(_ path: String) throws -> HDF5File {
        silenceErrorStack()
        let handle = H5Fcreate(path, recsys_h5f_acc_trunc(), recsys_h5p_default(), recsys_h5p_default())
        guard handle >= 0 else { throw CheckpointError.cannotCreate(path: path) }
        return HDF5File(path: path, handle: handle)
    }

    static func open(_ path: String) throws -> HDF5File {
        silenceErrorStack()
        // Check the signature first: a failed H5Fopen leaves state behind in HDF5 1.10.
        guard let file = FileHandle(forReadingAtPath: path) else { throw CheckpointError.cannotOpen(path: path) }
        let signature = (try? file.read(upToCount: 8)) ?? Data()
        try? file.close()
        guard signature == Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw CheckpointError.notHDF5(path: path)
        }
        let handle = H5Fopen(path, recsys_h5f_acc_rdonly(), recsys_h5p_default())
        guard handle >= 0 else { throw CheckpointError.cannotOpen(path: path) }
        return HDF5File(path: path, handle: handle)
    }

    private var isOpen = true

    deinit { close() }

    /// Closes the file (flushing it); further use is an error. Idempotent. Returns false when
    /// the flush failed.
    @discardableResult
    func close() -> Bool {
        defer { isOpen = false }
        return isOpen ? H5Fclose(handle) >= 0 : true
    }

    /// Closes the file and asks the OS to put it on disk (fsync); a failed flush is an error.
    func closeAndSync() throws {
        guard close() else { throw CheckpointError.writeFailed(path: path, object: "the file's last blocks (close)") }
        try HDF5File.sync(path)
    }

    /// fsync of a file or folder.
    static func sync(_ path: String) throws {
        let descriptor = Foundation.open(path, O_RDONLY)
        guard descriptor >= 0 else { throw FileSystemError.current(path) }
        defer { Foundation.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw FileSystemError.current(path) }
    }

    /// The shape of dataset `name`, or nil when there is none.
    func shape(of name: String) -> [Int]? {
        guard exists(name) else { return nil }
        let dataset = H5Dopen2(handle, name, recsys_h5p_default())
        guard dataset >= 0 else { return nil }
        defer { H5Dclose(dataset) }
        let space = H5Dget_space(dataset)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: max(rank, 0))
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    /// A virtual dataset `name` of shape (rows, columns) stitched from row blocks of datasets in
    /// other files (`file` relative to this file's folder): readable whole by any HDF5 tool.
    func writeVirtualRows<T: HDF5Scalar>(_ name: String, rows: Int, columns: Int, of type: T.Type = Float.self,
                                         sources: [(file: String, dataset: String, rows: Range<Int>)]) throws {
        let dims = [hsize_t(rows), hsize_t(columns)]
        let space = H5Screate_simple(2, dims, nil)
        defer { H5Sclose(space) }
        let properties = H5Pcreate(recsys_h5p_dataset_create())
        defer { H5Pclose(properties) }
        for source in sources where !source.rows.isEmpty {
            let start = [hsize_t(source.rows.lowerBound), 0], count = [hsize_t(source.rows.count), hsize_t(columns)]
            H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nil, count, nil)
            let sourceSpace = H5Screate_simple(2, count, nil)
            defer { H5Sclose(sourceSpace) }
            guard H5Pset_virtual(properties, space, source.file, source.dataset, sourceSpace) >= 0 else {
                throw CheckpointError.writeFailed(path: path, object: name)
            }
        }
        H5Sselect_all(space)
        let linkProperties = H5Pcreate(recsys_h5p_link_create())
        defer { H5Pclose(linkProperties) }
        H5Pset_create_intermediate_group(linkProperties, 1)
        let dataset = H5Dcreate2(handle, name, T.hdf5Type, space, linkProperties, properties, recsys_h5p_default())
        guard dataset >= 0 else { throw CheckpointError.writeFailed(path: path, object: name) }
        H5Dclose(dataset)
    }

    /// Reads rows `rows` of the 2-D dataset `name` (which must have `columns` columns) into
    /// `values`: a shard of a table, whatever shards wrote it.
    func readRows<T: HDF5Scalar>(_ name: String, rows: Range<Int>, columns: Int, into values: UnsafeMutablePointer<T>) throws {
        guard let found = shape(of: name) else { throw CheckpointError.missing(path: path, object: name) }
        guard found.count == 2, found[1] == columns, found[0] >= rows.upperBound else {
            throw CheckpointError.shapeMismatch(path: path, object: name, found: found, expected: [rows.upperBound, columns])
        }
        guard !rows.isEmpty else { return }
        let dataset = H5Dopen2(handle, name, recsys_h5p_default())
        guard dataset >= 0 else { throw CheckpointError.readFailed(path: path, object: name) }
        defer { H5Dclose(dataset) }
        let fileSpace = H5Dget_space(dataset)
        defer { H5Sclose(fileSpace) }
        let start = [hsize_t(rows.lowerBound), 0], count = [hsize_t(rows.count), hsize_t(columns)]
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, count, nil)
        let memorySpace = H5Screate_simple(2, count, nil)
        defer { H5Sclose(memorySpace) }
        guard H5Dread(dataset, T.hdf5Type, memorySpace, fileSpace, recsys_h5p_default(), values) >= 0 else {
            throw CheckpointError.readFailed(path: path, object: name)
        }
    }

    /// Writes the floats of `shape` at `values` as a dataset at `name` ("a/b/c"), creating groups,
    /// with their CRC-32C (of the little-endian bytes) as the dataset's `crc32c` attribute.
    func writeFloats(_ name: String, shape: [Int], from slice: DeviceSlice<Float>) throws {
        precondition(slice.count == shape.reduce(1, *), "writeFloats: \(name) holds \(slice.count) values, not \(shape)")
        try slice.withHostMemory(writesBack: false) { try write(name, shape: shape, from: $0.baseAddress!) }
    }

    /// Writes a (rows, columns) float dataset at `name` a block of rows at a time, as
    /// `writeFloats` does (the same CRC-32C attribute): `fill` writes each block's values. For
    /// values that are not stored as fp32 floats (a bf16 table's rows, widened): memory, one block.
    func writeFloatRows(_ name: String, rows: Int, columns: Int, rowsPerBlock: Int = 1 << 16,
                        fill: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) throws {
        let space = H5Screate_simple(2, [hsize_t(rows), hsize_t(columns)], nil)
        defer { H5Sclose(space) }
        let dataset = try createDataset(name, type: recsys_h5t_native_float(), space: space)
        defer { H5Dclose(dataset) }
        let blockRows = max(1, min(rows, rowsPerBlock))
        let block = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * columns)
        defer { block.deallocate() }
        var checksum = CRC32C()
        for first in stride(from: 0, to: rows, by: blockRows) {
            let range = first..<min(rows, first + blockRows)
            fill(range, block)
            let start = [hsize_t(first), 0], count = [hsize_t(range.count), hsize_t(columns)]
            H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nil, count, nil)
            let memorySpace = H5Screate_simple(2, count, nil)
            defer { H5Sclose(memorySpace) }
            guard H5Dwrite(dataset, recsys_h5t_native_float(), memorySpace, space, recsys_h5p_default(), block) >= 0 else {
                throw CheckpointError.writeFailed(path: path, object: name)
            }
            checksum.update(UnsafeRawBufferPointer(start: block, count: 4 * range.count * columns))
        }
        try writeChecksum(checksum.value, on: dataset, name: name)
    }

    /// A new dataset `name` ("a/b/c", groups created) of `type` and `space`; the caller closes it.
    private func createDataset(_ name: String, type: hid_t, space: hid_t) throws -> hid_t {
        let linkProperties = H5Pcreate(recsys_h5p_link_create())
        defer { H5Pclose(linkProperties) }
        H5Pset_create_intermediate_group(linkProperties, 1)
        let dataset = H5Dcreate2(handle, name, type, space, linkProperties, recsys_h5p_default(), recsys_h5p_default())
        guard dataset >= 0 else { throw CheckpointError.writeFailed(path: path, object: name) }
        return dataset
    }

    /// Stores `checksum` as dataset `name`'s `crc32c` attribute.
    private func writeChecksum(_ checksum: UInt32, on dataset: hid_t, name: String) throws {
        var value = Int64(checksum)
        try withAttribute(checksumAttribute, on: dataset, object: name, type: recsys_h5t_native_int64()) {
            H5Awrite($0, recsys_h5t_native_int64(), &value)
        }
    }

    /// Writes `values`, of `shape`, as `writeFloats` does floats.
    func write<T: HDF5Scalar>(_ name: String, shape: [Int], values: UnsafeBufferPointer<T>) throws {
        precondition(values.count == shape.reduce(1, *), "write: \(name) holds \(values.count) values, not \(shape)")
        try write(name, shape: shape, from: values.baseAddress!)
    }

    private func write<T: HDF5Scalar>(_ name: String, shape: [Int], from values: UnsafePointer<T>) throws {
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let dataset = try createDataset(name, type: T.hdf5Type, space: space)
        defer { H5Dclose(dataset) }
        guard H5Dwrite(dataset, T.hdf5Type, recsys_h5s_all(), recsys_h5s_all(), recsys_h5p_default(), values) >= 0 else {
            throw CheckpointError.writeFailed(path: path, object: name)
        }
        try writeChecksum(CRC32C.checksum(UnsafeRawBufferPointer(start: values, count: MemoryLayout<T>.stride * shape.reduce(1, *))),
                          on: dataset, name: name)
    }

    /// The attribute of every dataset holding its CRC-32C.
    let checksumAttribute = "crc32c"

    /// The stored CRC-32C of dataset `name`.
    private func storedChecksum(_ name: String) throws -> UInt32 {
        let dataset = H5Dopen2(handle, name, recsys_h5p_default())
        guard dataset >= 0 else { throw CheckpointError.readFailed(path: path, object: name) }
        defer { H5Dclose(dataset) }
        return UInt32(truncatingIfNeeded: try readIntegerAttribute(checksumAttribute, on: dataset, object: "\(name)@\(checksumAttribute)"))
    }

    /// Reads the whole 2-D dataset `name` of shape (rows, columns) in blocks of rows, checking
    /// it against its stored CRC-32C: `visit` sees each block (its rows, its values) as it is
    /// read; the mismatch, if any, is thrown after the last block. Memory: one block.
    func readVerifiedRows<T: HDF5Scalar>(_ name: String, rows: Int, columns: Int, rowsPerBlock: Int = 1 << 16,
                                         visit: (Range<Int>, UnsafePointer<T>) throws -> Void) throws {
        guard let found = shape(of: name) else { throw CheckpointError.missing(path: path, object: name) }
        guard found == [rows, columns] else {
            throw CheckpointError.shapeMismatch(path: path, object: name, found: found, expected: [rows, columns])
        }
        let expected = try storedChecksum(name)
        let blockRows = max(1, min(rows, rowsPerBlock))
        let block = UnsafeMutablePointer<T>.allocate(capacity: blockRows * columns)
        defer { block.deallocate() }
        var checksum = CRC32C()
        for first in stride(from: 0, to: rows, by: blockRows) {
            let range = first..<min(rows, first + blockRows)
            try readRows(name, rows: range, columns: columns, into: block)
            checksum.update(UnsafeRawBufferPointer(start: block, count: MemoryLayout<T>.stride * range.count * columns))
            try visit(range, block)
        }
        guard checksum.value == expected else { throw CheckpointError.checksumMismatch(path: path, object: name) }
    }

    /// Reads the dataset at `name` into `slice`, which must hold exactly `shape`, and checks it
    /// against its stored CRC-32C.
    func readFloats(_ name: String, shape: [Int], into slice: DeviceSlice<Float>) throws {
        precondition(slice.count == shape.reduce(1, *), "readFloats: \(name) into \(slice.count) values, not \(shape)")
        try slice.withHostMemory(writesBack: true) { try readFloats(name, shape: shape, into: $0.baseAddress!) }
    }

    private func readFloats(_ name: String, shape: [Int], into values: UnsafeMutablePointer<Float>) throws {
        guard let found = self.shape(of: name) else { throw CheckpointError.missing(path: path, object: name) }
        guard found == shape else {
            throw CheckpointError.shapeMismatch(path: path, object: name, found: found, expected: shape)
        }
        let dataset = H5Dopen2(handle, name, recsys_h5p_default())
        guard dataset >= 0 else { throw CheckpointError.readFailed(path: path, object: name) }
        defer { H5Dclose(dataset) }
        guard H5Dread(dataset, recsys_h5t_native_float(), recsys_h5s_all(), recsys_h5s_all(), recsys_h5p_default(),
                      values) >= 0 else {
            throw CheckpointError.readFailed(path: path, object: name)
        }
        let checksum = CRC32C.checksum(UnsafeRawBufferPointer(start: values, count: 4 * shape.reduce(1, *)))
        guard checksum == (try storedChecksum(name)) else { throw CheckpointError.checksumMismatch(path: path, object: name) }
    }

    /// Whether every link along `name` exists.
    func exists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            guard H5Lexists(handle, prefix, recsys_h5p_default()) > 0 else { return false }
        }
        return true
    }

    /// A variable-length UTF-8 string attribute on the root group (h5py reads it as `str`).
    func writeAttribute(_ name: String, string value: String) throws {
        let type = H5Tcopy(recsys_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, recsys_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        try withAttribute(name, on: handle, object: "@\(name)", type: type) { attribute in
            value.withCString { pointer in
                var address: UnsafePointer<CChar>? = pointer
                return H5Awrite(attribute, type, &address)
            }
        }
    }

    func writeAttribute(_ name: String, integer value: Int) throws {
        var value64 = Int64(value)
        try withAttribute(name, on: handle, object: "@\(name)", type: recsys_h5t_native_int64()) {
            H5Awrite($0, recsys_h5t_native_int64(), &value64)
        }
    }

    /// Creates the scalar attribute `name` of `type` on the file or dataset `owner` and writes it
    /// (`object` names it in errors).
    private func withAttribute(_ name: String, on owner: hid_t, object: String, type: hid_t, _ write: (hid_t) -> herr_t) throws {
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(owner, name, type, space, recsys_h5p_default(), recsys_h5p_default())
        guard attribute >= 0 else { throw CheckpointError.writeFailed(path: path, object: object) }
        defer { H5Aclose(attribute) }
        guard write(attribute) >= 0 else { throw CheckpointError.writeFailed(path: path, object: object) }
    }

    /// Whether the file carries the attribute `name`.
    func hasAttribute(_ name: String) -> Bool {
        H5Aexists(handle, name) > 0
    }

    func readStringAttribute(_ name: String) throws -> String {
        let attribute = try openAttribute(name, on: handle, object: "@\(name)")
        defer { H5Aclose(attribute) }
        let type = H5Tcopy(recsys_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, recsys_h5t_variable())
        H5Tset_cset(type, H5T_CSET_UTF8)
        var address: UnsafeMutablePointer<CChar>?
        guard H5Aread(attribute, type, &address) >= 0, let address else {
            throw CheckpointError.readFailed(path: path, object: "@\(name)")
        }
        defer { H5free_memory(address) }
        return String(cString: address)
    }

    func readIntegerAttribute(_ name: String) throws -> Int {
        try readIntegerAttribute(name, on: handle, object: "@\(name)")
    }

    /// The integer attribute `name` of the file or dataset `owner` (`object` names it in errors).
    private func readIntegerAttribute(_ name: String, on owner: hid_t, object: String) throws -> Int {
        let attribute = try openAttribute(name, on: owner, object: object)
        defer { H5Aclose(attribute) }
        var value: Int64 = 0
        guard H5Aread(attribute, recsys_h5t_native_int64(), &value) >= 0 else {
            throw CheckpointError.readFailed(path: path, object: object)
        }
        return Int(value)
    }

    private func openAttribute(_ name: String, on owner: hid_t, object: String) throws -> hid_t {
        guard H5Aexists(owner, name) > 0 else { throw CheckpointError.missing(path: path, object: object) }
        let attribute = H5Aopen(owner, name, recsys_h5p_default())
        guard attribute >= 0 else { throw CheckpointError.readFailed(path: path, object: object) }
        return attribute
    }
}
