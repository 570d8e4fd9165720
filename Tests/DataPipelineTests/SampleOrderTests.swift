import DataPipeline
import Testing

/// The epoch orders of `BatchLoader`: each a permutation of the samples, from its seed and
/// epoch alone, different from epoch to epoch, in O(1) memory.
struct SampleOrderTests {
    @Test(arguments: [1, 2, 3, 7, 64, 1000, 4097])
    func everyOrderIsAPermutation(count: Int) {
        for epoch in 0..<3 {
            let order = SampleOrder(count: count, seed: 11, epoch: epoch)
            let samples = (0..<count).map { order.sample(at: $0) }
            #expect(Set(samples).count == count && samples.allSatisfy { (0..<count).contains($0) })
        }
        #expect((0..<count).map { SampleOrder(count: count).sample(at: $0) } == Array(0..<count))
    }

    @Test func ordersDependOnSeedAndEpochOnly() {
        let count = 10_000
        let first = (0..<count).map { SampleOrder(count: count, seed: 3, epoch: 0).sample(at: $0) }
        #expect(first == (0..<count).map { SampleOrder(count: count, seed: 3, epoch: 0).sample(at: $0) })
        let next = (0..<count).map { SampleOrder(count: count, seed: 3, epoch: 1).sample(at: $0) }
        let other = (0..<count).map { SampleOrder(count: count, seed: 4, epoch: 0).sample(at: $0) }
        #expect(zip(first, next).filter { $0 == $1 }.count < 50 && zip(first, other).filter { $0 == $1 }.count < 50)
        // Shuffled, not shifted: the first tenth of the order spreads over the whole range.
        let head = first.prefix(count / 10)
        #expect(head.filter { $0 < count / 2 }.count > 400 && head.filter { $0 >= count / 2 }.count > 400)
    }
}
