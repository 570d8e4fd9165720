import Foundation

/// Zipf-distributed ranks 1...n (P(k) ∝ k^-s) in O(1) memory and O(1) expected time, whatever
/// n: rejection-inversion sampling (Hörmann and Derflinger, "Rejection-inversion to generate
/// variates from monotone discrete distributions", 1996). A table of CDF values, as the
/// in-memory synthetic data uses, would take gigabytes for Criteo Terabyte's 292M-value fields.
///
/// The continuous density h(x) = x^-s is integrated in closed form (H); a uniform draw between
/// H(1.5) - 1 and H(n + 0.5) is inverted, rounded to the nearest rank, and accepted unless it
/// falls in the small sliver between the step function and h.
public struct ZipfSampler: Sendable {
    public let count: Int
    public let exponent: Double
    private let integralOfFirst: Double
    private let integralOfAll: Double
    private let acceptanceBound: Double

    public init(count: Int, exponent: Double) {
        precondition(count >= 1 && exponent > 0, "ZipfSampler: needs at least one rank and a positive exponent")
        self.count = count
        self.exponent = exponent
        integralOfFirst = Self.integral(1.5, exponent) - 1
        integralOfAll = Self.integral(Double(count) + 0.5, exponent)
        acceptanceBound = 2 - Self.inverseIntegral(Self.integral(2.5, exponent) - Self.density(2, exponent), exponent)
    }

    /// A rank in 1...count.
    @inline(__always)
    public func next<G: RandomNumberGenerator>(using generator: inout G) -> Int {
        while true {
            let u = integralOfAll + Double.random(in: 0..<1, using: &generator) * (integralOfFirst - integralOfAll)
            let x = Self.inverseIntegral(u, exponent)
            let k = min(max(Int(x + 0.5), 1), count)
            if Double(k) - x <= acceptanceBound || u >= Self.integral(Double(k) + 0.5, exponent) - Self.density(Double(k), exponent) {
                return k
            }
        }
    }

    /// h(x) = x^-s.
    @inline(__always)
    static func density(_ x: Double, _ s: Double) -> Double { exp(-s * log(x)) }

    /// H(x) = (x^(1-s) - 1) / (1 - s) (log x when s = 1), computed stably near s = 1.
    @inline(__always)
    static func integral(_ x: Double, _ s: Double) -> Double {
        let logX = log(x)
        return expm1OverX((1 - s) * logX) * logX
    }

    /// The inverse of H.
    @inline(__always)
    static func inverseIntegral(_ y: Double, _ s: Double) -> Double {
        let t = max(y * (1 - s), -1)
        return exp(log1pOverX(t) * y)
    }

    /// (e^x - 1) / x, 1 at 0.
    @inline(__always)
    static func expm1OverX(_ x: Double) -> Double {
        abs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x))
    }

    /// log(1 + x) / x, 1 at 0.
    @inline(__always)
    static func log1pOverX(_ x: Double) -> Double {
        abs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x))
    }
}
