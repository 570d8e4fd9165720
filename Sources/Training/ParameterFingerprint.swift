import Distributed
import NeuralNetwork

/// Order-sensitive fingerprints of a model's parameters, equal for equal models whatever the
/// number of ranks (up to floating-point rounding), so runs with different world sizes can be
/// compared: sum over parameters of value * c, with c a fixed pseudo-random weight in [-1, 1]
/// drawn from the parameter's position (dense: arena index; embeddings: table name, global
/// row, column). Parameters are read through host copies.
public enum ParameterFingerprint {
    /// The dense replica's fingerprint (local: every rank holds all dense parameters).
    public static func dense(_ model: RecommendationModel) -> Double {
        let values = model.arena.values.toArray()
        var total = 0.0
        for entry in model.arena.entries {
            for i in entry.offset..<(entry.offset + entry.count) {
                total += Double(values[i]) * weight(UInt64(i), 0x5EED)
            }
        }
        return total
    }

    /// The fingerprint of all embedding tables, summed over the ranks' shards (replicated
    /// tables counted once).
    public static func embeddings(_ model: RecommendationModel, communicator: Communicator) throws -> Double {
        var total = 0.0
        for table in model.embeddingTables where !(table.isReplica && !communicator.isRoot) {
            let salt = nameHash(table.name), d = table.dimension
            let rowsPerBlock = max(1, (1 << 20) / d)
            for first in stride(from: 0, to: table.rowCount, by: rowsPerBlock) {
                let rows = min(rowsPerBlock, table.rowCount - first)
                let values = table.readRows(first..<(first + rows))
                for row in 0..<rows {
                    let globalRow = UInt64(table.firstRow + first + row)
                    for k in 0..<d { total += Double(values[row * d + k]) * weight(globalRow &* 4096 &+ UInt64(k), salt) }
                }
            }
        }
        return try communicator.allReduceSum([total])[0]
    }

    /// Whether every rank's dense parameters are bit-for-bit the same.
    public static func replicasAreIdentical(_ model: RecommendationModel, communicator: Communicator) throws -> Bool {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        let values = model.arena.values.toArray()
        for i in 0..<values.count { hash = (hash ^ UInt64(values[i].bitPattern)) &* 0x100_0000_01B3 }
        // Compare as two exactly representable halves.
        let halves = [Double(hash >> 32), Double(hash & 0xFFFF_FFFF)]
        return try communicator.allReduceMax(halves) == communicator.allReduceMin(halves)
    }

    static func weight(_ position: UInt64, _ salt: UInt64) -> Double {
        var z = position &+ salt &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1.0p-52 - 1
    }

    static func nameHash(_ name: String) -> UInt64 {
        name.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}
