import Compute

/// Central finite differences, the reference every hand-written backward is checked against.
public enum FiniteDifference {
    /// dL/dp[i] ~ (L(p + h e_i) - L(p - h e_i)) / 2h for the given indices of `parameters`.
    /// `loss` must recompute the forward pass from the current parameter values and accumulate
    /// in Double, so that only the Float forward pass limits the accuracy.
    public static func gradient(of loss: () -> Double, parameters: TensorView, indices: [Int],
                                step: Float = 1e-2) -> [Double] {
        indices.map { i in
            let saved = parameters[i]
            parameters[i] = saved + step
            let plus = loss()
            parameters[i] = saved - step
            let minus = loss()
            parameters[i] = saved
            // The step actually taken in Float arithmetic.
            let taken = Double(saved + step) - Double(saved - step)
            return (plus - minus) / taken
        }
    }

    /// Whether analytic and numeric gradients agree within `absolute + relative * |numeric|`.
    public static func mismatches(analytic: [Double], numeric: [Double], absolute: Double = 1e-3,
                                  relative: Double = 1e-2) -> [(index: Int, analytic: Double, numeric: Double)] {
        zip(analytic, numeric).enumerated().compactMap { index, pair in
            abs(pair.0 - pair.1) <= absolute + relative * abs(pair.1) ? nil : (index, pair.0, pair.1)
        }
    }

    /// Up to `limit` indices spread over 0..<count (all of them when count <= limit).
    public static func sampleIndices(count: Int, limit: Int, seed: UInt64) -> [Int] {
        guard count > limit else { return Array(0..<count) }
        var generator = SeededGenerator(seed: seed)
        return (0..<limit).map { _ in Int(generator.next() % UInt64(count)) }
    }
}

/// Fills buffers with seeded random values for tests.
public struct TestRandom {
    public var generator: SeededGenerator
    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    public mutating func fill(_ view: TensorView, scale: Double = 1) {
        for i in 0..<view.count { view[i] = Float(generator.nextNormal() * scale) }
    }

    public mutating func normals(_ count: Int, scale: Double = 1) -> [Double] {
        (0..<count).map { _ in generator.nextNormal() * scale }
    }
}
