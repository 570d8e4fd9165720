import Compute

/// The weights of a planted click model, shared by the in-memory synthetic data and `generate`:
/// a weight per dense feature, an effect for each of the `planted` most frequent ranks of every
/// table, and a factor per planted rank of each table of a cross. Drawn from `generator` in that
/// order.
struct PlantedEffects: Sendable {
    let denseWeights: [Double]
    /// Per table: the effect of rank k (0 ..< planted).
    let idEffects: [[Double]]
    /// Per cross: the factors of the planted ranks of its two tables.
    let crossFactors: [([Double], [Double])]

    init(generator: inout SeededGenerator, denseCount: Int, denseEffectScale: Double, tableSizes: [Int], planted: Int,
         idEffectScale: Double, crosses: [[Int]]) {
        let denseScale = denseEffectScale / Double(denseCount).squareRoot()
        denseWeights = (0..<denseCount).map { _ in generator.nextNormal() * denseScale }
        idEffects = tableSizes.map { rows in (0..<min(planted, rows)).map { _ in generator.nextNormal() * idEffectScale } }
        crossFactors = crosses.map { pair in
            let a = (0..<min(planted, tableSizes[pair[0]])).map { _ in generator.nextNormal() }
            let b = (0..<min(planted, tableSizes[pair[1]])).map { _ in generator.nextNormal() }
            return (a, b)
        }
    }
}
