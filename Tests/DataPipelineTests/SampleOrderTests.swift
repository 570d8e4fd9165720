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

    /// A windowed order visits every sample once, each window's samples from the window's
    /// sixteen blocks only (consecutive samples, read together), the blocks in a shuffled order
    /// and the samples shuffled within their window; a window as large as the data is the whole
    /// shuffle.
    @Test(arguments: [0, 123])
    func windowedOrdersStayInTheirBlocks(tail: Int) {
        let block = SampleOrder.minimumBlock, blocks = 40, count = blocks * block + tail, window = 16 * block
        let order = SampleOrder(count: count, seed: 5, epoch: 2, window: window)
        #expect(order.blockSize == block)
        let samples = (0..<count).map { order.sample(at: $0) }
        #expect(Set(samples).count == count && samples.allSatisfy { (0..<count).contains($0) })
        var blockOrder: [Int] = []
        for start in stride(from: 0, to: count, by: window) {
            let inWindow = samples[start..<min(start + window, count)]
            let used = Set(inWindow.map { $0 / block })
            #expect(used.count == min(16, (count - start + block - 1) / block), "window at \(start): blocks \(used.sorted())")
            blockOrder += inWindow.map { $0 / block }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
            // Shuffled inside the window: neighbours in the order are rarely neighbours in the data.
            let steps = zip(inWindow, inWindow.dropFirst()).filter { abs($0 - $1) == 1 }.count
            #expect(steps < 20, "\(steps) consecutive samples in order")
        }
        #expect(Set(blockOrder.prefix(blocks)) == Set(0..<blocks) && Array(blockOrder.prefix(blocks)) != Array(0..<blocks))
        let next = (0..<count).map { SampleOrder(count: count, seed: 5, epoch: 3, window: window).sample(at: $0) }
        #expect(zip(samples, next).filter { $0 == $1 }.count < count / 100)
        let whole = SampleOrder(count: count, seed: 5, epoch: 2), covering = SampleOrder(count: count, seed: 5, epoch: 2, window: count)
        #expect((0..<count).allSatisfy { whole.sample(at: $0) == covering.sample(at: $0) })
        // A large window: blocks of a sixteenth of it.
        #expect(SampleOrder(count: 10_000_000, seed: 1, epoch: 0, window: 1_600_000).blockSize == 100_000)
    }
}
