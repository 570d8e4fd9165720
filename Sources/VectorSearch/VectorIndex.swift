import CFaiss
import Foundation

/// A failure of FAISS, with its message.
public struct VectorIndexError: Error, CustomStringConvertible {
    public let description: String
}

/// An index of item vectors searched by inner product (a retriever's score), through FAISS: an
/// exact scan (`flat`), inverted lists over k-means clusters (`ivf_flat`, and `ivf_pq` with the
/// vectors product-quantized), or a graph (`hnsw`).
public final class VectorIndex {
    public enum Kind: String, CaseIterable, Sendable {
        case flat
        case ivfFlat = "ivf_flat"
        case ivfPQ = "ivf_pq"
        case hnsw
    }

    /// How an index is built: its kind and the sizes FAISS's factory takes.
    public struct Settings: Sendable, Equatable {
        public var kind: Kind
        /// Inverted lists (clusters) of an IVF index; nil: 4 √count, FAISS's rule of thumb.
        public var lists: Int?
        /// Bytes per vector of `ivf_pq` (sub-quantizers of 8 bits; must divide the width).
        public var codeBytes: Int
        /// Neighbours per node of `hnsw`.
        public var neighbors: Int

        public init(kind: Kind, lists: Int? = nil, codeBytes: Int = 16, neighbors: Int = 32) {
            self.kind = kind
            self.lists = lists
            self.codeBytes = codeBytes
            self.neighbors = neighbors
        }

        /// FAISS's factory description for `count` vectors.
        public func description(count: Int) -> String {
            let lists = self.lists ?? max(1, Int((4 * Double(count).squareRoot()).rounded()))
            switch kind {
            case .flat: return "Flat"
            case .ivfFlat: return "IVF\(lists),Flat"
            case .ivfPQ: return "IVF\(lists),PQ\(codeBytes)"
            case .hnsw: return "HNSW\(neighbors)"
            }
        }
    }

    private let handle: OpaquePointer

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { recsys_faiss_free(handle) }

    /// Runs `body` with an error buffer; throws its message when `body` reports failure.
    private static func checked<T>(_ body: (UnsafeMutablePointer<CChar>, Int) -> T?) throws -> T {
        var buffer = [CChar](repeating: 0, count: 512)
        let result = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard let result else { throw VectorIndexError(description: "FAISS: " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        return result
    }

    /// An index of `vectors` (rows of `dimension`), trained on them where its kind needs it;
    /// labels are the rows' positions.
    public static func build(_ settings: Settings, vectors: [Float], dimension: Int) throws -> VectorIndex {
        let count = vectors.count / dimension
        let description = settings.description(count: count)
        if settings.kind == .ivfPQ && dimension % settings.codeBytes != 0 {
            throw VectorIndexError(description: "ivf_pq: \(settings.codeBytes) bytes per vector must divide the width \(dimension)")
        }
        let handle = try checked { error, size in
            vectors.withUnsafeBufferPointer { recsys_faiss_build(description, Int32(dimension), Int64(count), $0.baseAddress, error, size) }
        }
        return VectorIndex(handle: handle)
    }

    /// Reads an index `write` wrote.
    public static func read(path: String) throws -> VectorIndex {
        VectorIndex(handle: try checked { recsys_faiss_read(path, $0, $1) })
    }

    public func write(path: String) throws {
        _ = try Self.checked { recsys_faiss_write(handle, path, $0, $1) == 1 ? true : nil }
    }

    /// Sets a search parameter: `nprobe` (lists an IVF search scans), `efSearch` (HNSW's queue).
    public func setParameter(_ name: String, _ value: Double) throws {
        _ = try Self.checked { recsys_faiss_set_parameter(handle, name, value, $0, $1) == 1 ? true : nil }
    }

    /// Sets how widely a search looks, whatever the kind: `nprobe` of an IVF index, else
    /// `efSearch` of HNSW; an exact index has no such setting (an error).
    public func setSearchBreadth(_ value: Int) throws {
        if (try? setParameter("nprobe", Double(value))) != nil { return }
        do {
            try setParameter("efSearch", Double(value))
        } catch {
            throw VectorIndexError(description: "this index has no search breadth to set (neither IVF's nprobe nor HNSW's efSearch)")
        }
    }

    public var count: Int { Int(recsys_faiss_count(handle)) }
    public var dimension: Int { Int(recsys_faiss_dimension(handle)) }

    /// The `k` best rows for each query (rows of `dimension`), best first: (count, k) scores and
    /// positions, -1 where fewer were found.
    public func search(_ queries: [Float], k: Int) throws -> (scores: [Float], labels: [Int64]) {
        let count = queries.count / dimension
        var scores = [Float](repeating: 0, count: count * k), labels = [Int64](repeating: -1, count: count * k)
        _ = try Self.checked { error, size in
            queries.withUnsafeBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { s in
                    labels.withUnsafeMutableBufferPointer { l in
                        recsys_faiss_search(handle, Int64(count), q.baseAddress, Int32(k), s.baseAddress, l.baseAddress, error, size) == 1
                            ? true : nil
                    }
                }
            }
        }
        return (scores, labels)
    }

    /// FAISS's threads for builds and searches.
    public static func setThreads(_ threads: Int) { recsys_faiss_set_threads(Int32(threads)) }

    /// Vectors an IVF search compared since the last reset (none counted for HNSW).
    public static func resetStatistics() { recsys_faiss_reset_statistics() }
    public static var distancesComputed: Int { Int(recsys_faiss_distances_computed()) }
}
