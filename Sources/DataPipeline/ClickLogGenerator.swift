import Compute
import Foundation

/// Synthetic Criteo click logs of any size, line by line in O(1) memory: a label, 13 counts and
/// 26 categorical fields of 8 hex digits, tab-separated, as Criteo's Kaggle and Terabyte files.
///
/// Field t draws a Zipf rank in 1...cardinalities[t] (`ZipfSampler`) and writes it through a
/// bijection of 32-bit numbers (so each rank is its own value, scattered). The label comes from a
/// planted model over what training sees (counts as log(1 + x), missing as 0):
///
///     logit = bias + w . (dense - 1.3) + sum_t effect_t[rank_t]   (the `plantedIDsPerTable`
///             most frequent ranks of each field) + sum over crosses (a, b) of s * f_a * f_b
///
/// Line i comes from its own random stream (the seed's stream i), so a file of lines
/// [first, last) is the same whoever writes it: N ranks writing N consecutive ranges produce the
/// bytes of one rank writing them all.
public struct ClickLogGenerator: Sendable {
    public struct Settings: Sendable, Equatable {
        public var cardinalities: [Int] = ClickLogGenerator.terabyteCardinalities
        public var zipfExponent = 1.05
        public var plantedIDsPerTable = 256
        public var idEffectScale = 0.5
        public var denseEffectScale = 0.6
        public var crosses: [[Int]] = [[0, 1], [2, 3]]
        public var crossScale = 0.8
        public var bias = -1.6
        /// Chance that a count, or a categorical value, is missing (an empty field).
        public var missingDense = 0.1
        public var missingCategorical = 0.03
        public var seed: UInt64 = 7

        public init() {}
    }

    /// Distinct values per categorical field of Criteo Terabyte (the DLRM reference's and
    /// MLPerf's counts, days 0-23).
    public static let terabyteCardinalities = [227_605_432, 39_060, 17_295, 7_424, 20_265, 3, 7_122, 1_543, 63, 130_229_467,
                                               3_067_956, 405_282, 10, 2_209, 11_938, 155, 4, 976, 14, 292_775_614,
                                               40_790_948, 187_188_510, 590_152, 12_973, 108, 36]
    /// Distinct values per categorical field of the Criteo Kaggle (Display Advertising) data.
    public static let kaggleCardinalities = [1_460, 583, 10_131_227, 2_202_608, 305, 24, 12_517, 633, 3, 93_145, 5_683,
                                             8_351_593, 3_194, 27, 14_992, 5_461_306, 10, 5_652, 2_173, 4, 7_046_547, 18,
                                             15, 286_181, 105, 142_572]

    public let settings: Settings
    private let samplers: [ZipfSampler]
    private let effects: PlantedEffects
    /// Per field, the value a rank's bijection is offset by.
    private let salts: [UInt32]

    public init(_ settings: Settings) {
        precondition(settings.cardinalities.count == CriteoLineParser.categoricalCount
                     && settings.cardinalities.allSatisfy { (1...Int(UInt32.max)).contains($0) },
                     "ClickLogGenerator: 26 cardinalities in 1...2^32-1")
        self.settings = settings
        samplers = settings.cardinalities.map { ZipfSampler(count: $0, exponent: settings.zipfExponent) }
        var generator = SeededGenerator(seed: settings.seed, stream: 100)
        effects = PlantedEffects(generator: &generator, denseCount: CriteoLineParser.denseCount,
                                 denseEffectScale: settings.denseEffectScale, tableSizes: settings.cardinalities,
                                 planted: settings.plantedIDsPerTable, idEffectScale: settings.idEffectScale,
                                 crosses: settings.crosses)
        salts = (0..<CriteoLineParser.categoricalCount).map { _ in UInt32(truncatingIfNeeded: generator.next()) }
    }

    /// Appends line `index` (ending in a newline) to `output`; returns its planted logit and label.
    public func appendLine(_ index: Int, to output: inout [UInt8]) -> (logit: Double, label: Bool) {
        let s = settings
        var generator = SeededGenerator(seed: s.seed, stream: 1_000_000 + UInt64(index))
        var logit = s.bias
        let labelAt = output.count
        output.append(48)  // the label, known at the end
        for j in 0..<CriteoLineParser.denseCount {
            output.append(9)
            guard generator.nextUniform() >= s.missingDense else { continue }
            let count = Int(exp(1.0 + 1.5 * generator.nextNormal()))
            Self.appendDecimal(count, to: &output)
            logit += effects.denseWeights[j] * (log1p(Double(count)) - 1.3)
        }
        // Each cross's two ranks (Int.max: missing or not planted).
        var crossRanks = [(Int, Int)](repeating: (.max, .max), count: s.crosses.count)
        for t in 0..<CriteoLineParser.categoricalCount {
            output.append(9)
            guard generator.nextUniform() >= s.missingCategorical else { continue }
            let rank = samplers[t].next(using: &generator) - 1
            Self.appendHex(UInt32(truncatingIfNeeded: rank) &* 0x9E37_79B1 ^ salts[t], to: &output)
            if rank < effects.idEffects[t].count { logit += effects.idEffects[t][rank] }
            for (c, pair) in s.crosses.enumerated() {
                if pair[0] == t { crossRanks[c].0 = rank }
                if pair[1] == t { crossRanks[c].1 = rank }
            }
        }
        for (c, (a, b)) in crossRanks.enumerated() where a < effects.crossFactors[c].0.count && b < effects.crossFactors[c].1.count {
            logit += s.crossScale * effects.crossFactors[c].0[a] * effects.crossFactors[c].1[b]
        }
        let label = generator.nextUniform() < 1 / (1 + exp(-logit))
        if label { output[labelAt] = 49 }
        output.append(10)
        return (logit, label)
    }

    private static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            output.append(48 + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    private static func appendHex(_ value: UInt32, to output: inout [UInt8]) {
        for shift in stride(from: 28, through: 0, by: -4) {
            let digit = UInt8((value >> UInt32(shift)) & 15)
            output.append(digit < 10 ? 48 + digit : 87 + digit)
        }
    }
}

/// The planted model's held-out metrics over a stream of (logit, label), in O(1) memory: the
/// logits fall into fine bins (AUC exact up to ties inside a bin), the log loss is summed.
/// Partial metrics of several writers add up (`counts`, `logLossSum`).
public struct PlantedMetrics: Sendable {
    static let bins = 20_000, range = 12.0
    /// Positives then negatives per bin.
    public var counts = [Double](repeating: 0, count: 2 * PlantedMetrics.bins)
    public var logLossSum = 0.0

    public init() {}

    public mutating func add(logit: Double, label: Bool) {
        let clamped = min(max(logit, -Self.range), Self.range * 0.999_999)
        let bin = Int((clamped + Self.range) / (2 * Self.range) * Double(Self.bins))
        counts[(label ? 0 : Self.bins) + bin] += 1
        // -log sigmoid(+-logit), stably.
        let z = label ? -logit : logit
        logLossSum += max(z, 0) + log1p(exp(-abs(z)))
    }

    public var count: Double { counts.reduce(0, +) }

    /// Area under the ROC curve (ties within a bin count one half).
    public var auc: Double {
        let positives = counts[0..<Self.bins].reduce(0, +), negatives = counts[Self.bins...].reduce(0, +)
        guard positives > 0, negatives > 0 else { return 0.5 }
        var below = 0.0, area = 0.0
        for bin in 0..<Self.bins {
            let p = counts[bin], n = counts[Self.bins + bin]
            area += p * (below + 0.5 * n)
            below += n
        }
        return area / (positives * negatives)
    }

    public var logLoss: Double { logLossSum / max(count, 1) }
}
