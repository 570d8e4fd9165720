import Compute
import Foundation

/// A planted click model that generates Criteo-shaped data with a known ground truth.
///
/// logit = bias + w . (dense - 1.3)
///       + sum over tables of effect_t[id]          (non-zero for the `plantedIDsPerTable`
///                                                    most frequent ids of each table only)
///       + sum over crosses (a, b) of s * f_a[id_a] * f_b[id_b]   (a factorised feature cross)
/// label ~ Bernoulli(sigmoid(logit)).
///
/// Dense features are log(1 + lognormal counts), as Criteo's after the usual transform; ids
/// follow a Zipf law over the rows, scattered over the table by a fixed bijection. The planted
/// logits are kept with the data, so their AUC is the ceiling for a trained model.
///
/// With several `tasks`, task 0 is the click above and task k > 0 a correlated one (a like, a
/// purchase): `logit_k = bias + 0.6 (logit_0 - bias) + 0.8 own_k`, where `own_k` is a planted
/// model of its own (dense weights and id effects, no crosses) over the same features; each label
/// is drawn from its own logit (from a random stream of their own: the features and the clicks
/// are those of one task).
public struct SyntheticClickModel: Sendable {
    public struct Settings: Sendable, Equatable {
        public var denseFeatureCount = 13
        public var tableRowCounts: [Int] = Array(repeating: 1000, count: 26)
        public var idsPerSample = 1
        public var zipfExponent = 1.05
        public var plantedIDsPerTable = 8
        public var idEffectScale = 0.8
        public var denseEffectScale = 0.6
        /// Pairs of tables whose ids interact.
        public var crosses: [[Int]] = [[0, 1], [2, 3]]
        public var crossScale = 1.0
        public var bias = -1.2
        public var seed: UInt64 = 1
        /// Per table, whether its ids go to a dynamic table (as raw ids; default: none).
        public var keyedTables: [Bool] = []
        /// The labels of each sample: binary tasks, task 0 the click.
        public var tasks: [PredictionTask] = [.click]

        public init() {}
    }

    public let settings: Settings
    private let effects: PlantedEffects
    /// Per task after the first: its own planted effects.
    private let taskEffects: [PlantedEffects]
    /// Zipf CDF and scatter multiplier per distinct row count.
    private let cumulative: [Int: [Double]]
    private let multipliers: [Int: Int]

    public init(_ settings: Settings) {
        self.settings = settings
        var generator = SeededGenerator(seed: settings.seed, stream: 100)
        effects = PlantedEffects(generator: &generator, denseCount: settings.denseFeatureCount,
                                 denseEffectScale: settings.denseEffectScale, tableSizes: settings.tableRowCounts,
                                 planted: settings.plantedIDsPerTable, idEffectScale: settings.idEffectScale,
                                 crosses: settings.crosses)
        taskEffects = (1..<max(settings.tasks.count, 1)).map { k in
            var generator = SeededGenerator(seed: settings.seed, stream: 100 + UInt64(k))
            return PlantedEffects(generator: &generator, denseCount: settings.denseFeatureCount,
                                  denseEffectScale: settings.denseEffectScale, tableSizes: settings.tableRowCounts,
                                  planted: settings.plantedIDsPerTable, idEffectScale: settings.idEffectScale, crosses: [])
        }
        var cumulative: [Int: [Double]] = [:]
        for rows in Set(settings.tableRowCounts) {
            var cdf = [Double](repeating: 0, count: rows)
            var total = 0.0
            for k in 0..<rows {
                total += pow(Double(k + 1), -settings.zipfExponent)
                cdf[k] = total
            }
            cumulative[rows] = cdf.map { $0 / total }
        }
        self.cumulative = cumulative
        multipliers = Dictionary(uniqueKeysWithValues: Set(settings.tableRowCounts).map { ($0, Self.multiplier(rows: $0)) })
    }

    /// Draws `count` samples from sub-stream `stream` (use different streams for train and test).
    public func generate(count: Int, stream: UInt64) -> InMemoryDataset {
        let s = settings, tableCount = s.tableRowCounts.count, bag = s.idsPerSample, taskCount = s.tasks.count
        var generator = SeededGenerator(seed: s.seed, stream: 1000 + stream)
        // The other tasks' labels come from a stream of their own: the features and the clicks
        // are the same whatever the number of tasks.
        var taskGenerator = SeededGenerator(seed: s.seed, stream: 2000 + stream)
        var labels = [Float](repeating: 0, count: count * taskCount)
        var dense = [Float](repeating: 0, count: count * s.denseFeatureCount)
        var ids = (0..<tableCount).map { _ in [Int32](repeating: 0, count: count * bag) }
        var logits = [Float](repeating: 0, count: count * taskCount)
        var own = [Double](repeating: 0, count: taskCount)
        var ranks = [Int](repeating: 0, count: tableCount * bag)

        for n in 0..<count {
            var logit = s.bias
            for k in 1..<max(taskCount, 1) { own[k] = 0 }
            for j in 0..<s.denseFeatureCount {
                let raw = exp(1.0 + 1.5 * generator.nextNormal())
                let value = log1p(raw)
                dense[n * s.denseFeatureCount + j] = Float(value)
                logit += effects.denseWeights[j] * (value - 1.3)
                for k in 1..<max(taskCount, 1) { own[k] += taskEffects[k - 1].denseWeights[j] * (value - 1.3) }
            }
            for t in 0..<tableCount {
                let rows = s.tableRowCounts[t]
                let cdf = cumulative[rows]!, multiplier = multipliers[rows]!
                for k in 0..<bag {
                    let rank = Self.zipfRank(cdf, uniform: generator.nextUniform())
                    ranks[t * bag + k] = rank
                    ids[t][n * bag + k] = Int32((rank * multiplier + 12_345) % rows)
                    if rank < effects.idEffects[t].count { logit += effects.idEffects[t][rank] }
                    for k in 1..<max(taskCount, 1) where rank < taskEffects[k - 1].idEffects[t].count {
                        own[k] += taskEffects[k - 1].idEffects[t][rank]
                    }
                }
            }
            for (c, pair) in s.crosses.enumerated() {
                let (fa, fb) = effects.crossFactors[c]
                for ka in 0..<bag {
                    let ra = ranks[pair[0] * bag + ka]
                    guard ra < fa.count else { continue }
                    for kb in 0..<bag {
                        let rb = ranks[pair[1] * bag + kb]
                        if rb < fb.count { logit += s.crossScale * fa[ra] * fb[rb] }
                    }
                }
            }
            logits[n * taskCount] = Float(logit)
            labels[n * taskCount] = generator.nextUniform() < 1 / (1 + exp(-logit)) ? 1 : 0
            for k in 1..<max(taskCount, 1) {
                let taskLogit = s.bias + 0.6 * (logit - s.bias) + 0.8 * own[k]
                logits[n * taskCount + k] = Float(taskLogit)
                labels[n * taskCount + k] = taskGenerator.nextUniform() < 1 / (1 + exp(-taskLogit)) ? 1 : 0
            }
        }
        var dataset = InMemoryDataset(denseFeatureCount: s.denseFeatureCount, idsPerSample: Array(repeating: bag, count: tableCount),
                                      labels: labels, dense: dense, ids: ids, plantedLogits: logits, tasks: s.tasks)
        dataset.keyedTables = s.keyedTables
        return dataset
    }

    /// Inverse-CDF draw of a Zipf rank (0-based) by binary search.
    static func zipfRank(_ cdf: [Double], uniform: Double) -> Int {
        var low = 0, high = cdf.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cdf[mid] < uniform { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// A multiplier coprime with `rows`: rank -> (rank * m + c) mod rows is a fixed bijection that
    /// spreads the frequent ids over the table, as hashing does.
    static func multiplier(rows: Int) -> Int {
        var multiplier = 2_654_435_761 % rows
        while multiplier == 0 || gcd(multiplier, rows) != 1 { multiplier += 1 }
        return multiplier
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
}
