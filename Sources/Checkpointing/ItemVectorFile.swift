import Foundation

/// A retriever's item vectors, for serving with a vector index: an HDF5 file with `/item_ids`
/// int64 [N, 1] (each item's id: its row in the item table, as the model's inputs name items)
/// and `/vectors` float32 [N, width] (the item tower's outputs, on the unit sphere; a user's
/// score for an item is the dot product of their vectors), each with its CRC-32C; attribute
/// `format` "recsys-dist item vectors".
public enum ItemVectorFile {
    public static let format = "recsys-dist item vectors"

    /// Writes `vectors` (`items.count` rows of `width`) to `path`, through a temporary file
    /// renamed into place (an interrupted write leaves no partial file).
    public static func write(path: String, items: [Int32], vectors: [Float], width: Int) throws {
        precondition(vectors.count == items.count * width, "ItemVectorFile: \(vectors.count) values for \(items.count) items of \(width)")
        let temporary = path + ".partial"
        let file = try HDF5File.create(temporary)
        try file.writeAttribute("format", string: format)
        try items.map(Int64.init).withUnsafeBufferPointer { try file.write("item_ids", shape: [items.count, 1], values: $0) }
        try vectors.withUnsafeBufferPointer { try file.write("vectors", shape: [items.count, width], values: $0) }
        try file.closeAndSync()
        guard rename(temporary, path) == 0 else { throw FileSystemError.current(path) }
    }

    /// The items and vectors of `path`, checked against their CRC-32Cs.
    public static func read(path: String) throws -> (items: [Int64], vectors: [Float], width: Int) {
        let file = try HDF5File.open(path)
        guard file.hasAttribute("format"), try file.readStringAttribute("format") == format else {
            throw CheckpointError.missing(path: path, object: "@format \"\(format)\" (not a file of item vectors)")
        }
        guard let shape = file.shape(of: "vectors"), shape.count == 2 else { throw CheckpointError.missing(path: path, object: "vectors") }
        let (count, width) = (shape[0], shape[1])
        var items = [Int64](repeating: 0, count: count), vectors = [Float](repeating: 0, count: count * width)
        try file.readVerifiedRows("item_ids", rows: count, columns: 1) { (rows: Range<Int>, values: UnsafePointer<Int64>) in
            for r in rows { items[r] = values[r - rows.lowerBound] }
        }
        try file.readVerifiedRows("vectors", rows: count, columns: width) { (rows: Range<Int>, values: UnsafePointer<Float>) in
            for i in 0..<(rows.count * width) { vectors[rows.lowerBound * width + i] = values[i] }
        }
        return (items, vectors, width)
    }
}
