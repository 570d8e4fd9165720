import Compute
import DataPipeline
import Foundation
import Testing

/// Rejection-inversion Zipf sampling against the exact law, small and Terabyte-sized.
struct ZipfSamplerTests {
    /// Sum of k^-s for k in 1...n: exact up to `exact`, then the integral of the tail.
    func harmonic(_ n: Int, _ s: Double, exact: Int = 200_000) -> Double {
        let head = (1...min(n, exact)).reduce(0.0) { $0 + pow(Double($1), -s) }
        guard n > exact else { return head }
        let tail = (pow(Double(n) + 0.5, 1 - s) - pow(Double(exact) + 0.5, 1 - s)) / (1 - s)
        return head + tail
    }

    @Test(arguments: [(10, 1.1), (1000, 1.05), (3, 2.0)])
    func ranksFollowTheExactLaw(count: Int, exponent: Double) {
        let sampler = ZipfSampler(count: count, exponent: exponent)
        var generator = SeededGenerator(seed: 5)
        let draws = 400_000
        var seen = [Int](repeating: 0, count: count + 1)
        for _ in 0..<draws { seen[sampler.next(using: &generator)] += 1 }
        #expect(seen[0] == 0, "ranks start at 1")
        let total = harmonic(count, exponent)
        for k in 1...min(count, 5) {
            let expected = Double(draws) * pow(Double(k), -exponent) / total
            #expect(abs(Double(seen[k]) - expected) < 5 * expected.squareRoot() + 1, "rank \(k): \(seen[k]) vs \(expected)")
        }
    }

    @Test func terabyteSizedFieldsNeedNoTable() {
        let count = 292_775_614, exponent = 1.05
        let sampler = ZipfSampler(count: count, exponent: exponent)
        var generator = SeededGenerator(seed: 9)
        let draws = 400_000
        var first = 0, beyondTenMillion = 0
        for _ in 0..<draws {
            let k = sampler.next(using: &generator)
            #expect(k >= 1 && k <= count)
            if k == 1 { first += 1 }
            if k > 10_000_000 { beyondTenMillion += 1 }
        }
        let total = harmonic(count, exponent)
        let expectedFirst = Double(draws) / total
        #expect(abs(Double(first) - expectedFirst) < 5 * expectedFirst.squareRoot(), "\(first) vs \(expectedFirst)")
        let expectedTail = Double(draws) * (total - harmonic(10_000_000, exponent)) / total
        #expect(abs(Double(beyondTenMillion) - expectedTail) < 5 * expectedTail.squareRoot(), "\(beyondTenMillion) vs \(expectedTail)")
    }
}
