import Compute

/// Central finite differences, the reference every hand-written backward is checked against.
public enum FiniteDifference {
    /// dL/dp[i] ~ (L(p + h e_i) - L(p - h e_i)) / 2h for the given indices of `parameters`.
    /// `loss` must recompute the forward pass from the current parameter values and accumulate
    /// in Double, so that only the Float forward pass limits the accuracy.
    /// Parameters are read and written one at a time through the backend's copies.
    public static func gradient(of loss: () -> Double, parameters: DeviceSlice<Float>, indices: [Int],
                                step: Float = 1e-2) -> [Double] {
        indices.map { i in
            let element = parameters.slice(i, 1)
            let saved = element.toArray()[0]
            element.copy(from: [saved + step])
            let plus = loss()
            element.copy(from: [saved - step])
            let minus = loss()
            element.copy(from: [saved])
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

    public mutating func fill(_ slice: DeviceSlice<Float>, scale: Double = 1) {
        slice.copy(from: (0..<slice.count).map { _ in Float(generator.nextNormal() * scale) })
    }

    public mutating func normals(_ count: Int, scale: Double = 1) -> [Double] {
        (0..<count).map { _ in generator.nextNormal() * scale }
    }
}

/// The backends every backend-independent test runs on, by name.
public enum TestBackends {
    public static let names = ["cpu", "separate-memory"]

    public static func make(_ name: String) -> any ComputeBackend {
        switch name {
        case "cpu": CPUBackend()
        case "separate-memory": SeparateMemoryBackend()
        default: fatalError("no test backend \(name)")
        }
    }
}
