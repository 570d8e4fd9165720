import Compute
import DataPipeline
import Testing

@Suite struct SyntheticDataTests {
    func settings() -> SyntheticClickModel.Settings {
        var s = SyntheticClickModel.Settings()
        s.tableRowCounts = [100, 100, 40, 40]
        s.crosses = [[0, 1]]
        return s
    }

    @Test func sameSeedSameData() {
        let a = SyntheticClickModel(settings()).generate(count: 500, stream: 0)
        let b = SyntheticClickModel(settings()).generate(count: 500, stream: 0)
        let c = SyntheticClickModel(settings()).generate(count: 500, stream: 1)
        #expect(a.labels == b.labels && a.ids == b.ids && a.dense == b.dense)
        #expect(a.ids != c.ids)
    }

    /// A second task is planted beside the click: the features and the click labels are those of
    /// one task; the new task's labels follow its own planted logits (correlated with the click's,
    /// not equal to them).
    @Test func aSecondTaskIsPlantedBesideTheClick() {
        var two = settings()
        two.tasks = [.click, PredictionTask(name: "like")]
        let single = SyntheticClickModel(settings()).generate(count: 4000, stream: 0)
        let double = SyntheticClickModel(two).generate(count: 4000, stream: 0)
        #expect(double.tasks == two.tasks && double.count == 4000 && double.labels.count == 8000)
        #expect(double.dense == single.dense && double.ids == single.ids, "the features differ")
        let clicks = stride(from: 0, to: 8000, by: 2).map { double.labels[$0] }
        let likes = stride(from: 1, to: 8000, by: 2).map { double.labels[$0] }
        let plantedLikes = stride(from: 1, to: 8000, by: 2).map { double.plantedLogits![$0] }
        let plantedClicks = stride(from: 0, to: 8000, by: 2).map { double.plantedLogits![$0] }
        #expect(plantedClicks == single.plantedLogits!, "the planted click logits differ")
        #expect(clicks == single.labels, "the clicks differ")
        #expect(clicks != likes)
        // Each planted logit ranks its own labels well above chance.
        func auc(_ scores: [Float], _ labels: [Float]) -> Double {
            let positives = scores.indices.filter { labels[$0] == 1 }, negatives = scores.indices.filter { labels[$0] == 0 }
            var wins = 0.0
            for p in positives { for n in negatives { wins += scores[p] > scores[n] ? 1 : scores[p] == scores[n] ? 0.5 : 0 } }
            return wins / Double(positives.count * negatives.count)
        }
        #expect(auc(plantedLikes, likes) > 0.65)
        #expect(auc(plantedLikes, likes) > auc(plantedClicks, likes))
    }

    @Test func idsAreInRangeAndZipfSkewed() {
        let data = SyntheticClickModel(settings()).generate(count: 20000, stream: 0)
        for (t, rows) in [100, 100, 40, 40].enumerated() {
            #expect(data.ids[t].allSatisfy { $0 >= 0 && $0 < rows })
            var counts = [Int](repeating: 0, count: rows)
            for id in data.ids[t] { counts[Int(id)] += 1 }
            let sorted = counts.sorted(by: >)
            #expect(sorted[0] > 10 * sorted[rows / 2], "the most frequent id dominates the median one")
        }
        let positives = data.labels.reduce(0, +) / Float(data.count)
        #expect(positives > 0.1 && positives < 0.6)
    }

    @Test func multiHotBagsFillCSROffsets() {
        var s = settings()
        s.idsPerSample = 3
        let data = SyntheticClickModel(s).generate(count: 10, stream: 0)
        let order = Array(0..<10)
        let batch = Batch(capacity: 4, denseFeatureCount: 13, tableCount: 4, idsPerSample: 3)
        order.withUnsafeBufferPointer { data.fill(batch, order: $0, start: 2, size: 4) }
        #expect(batch.size == 4)
        #expect((0...4).map { batch.sparse[1].offsets[$0] } == [0, 3, 6, 9, 12])
        #expect((0..<3).map { batch.sparse[1].ids[$0] } == Array(data.ids[1][6..<9]))
        #expect(batch.labels[0] == data.labels[2])
    }

    @Test func loaderShufflesEachEpochAndCoversEverySample() throws {
        var s = settings()
        s.tableRowCounts = [1000]
        s.crosses = []
        let data = SyntheticClickModel(s).generate(count: 100, stream: 0)
        // Tag each sample by its dense[0] value to follow it through the loader.
        let loader = BatchLoader(dataset: data, batchSize: 10, shuffleSeed: 3, dropLast: true)
        func epochOrder() throws -> [Float] {
            var seen: [Float] = []
            while try loader.next() { seen += (0..<10).map { loader.batch.dense[$0 * 13] } }
            return seen
        }
        let first = try epochOrder(), second = try epochOrder()
        #expect(first.count == 100 && Set(first) == Set(data.dense.enumerated().filter { $0.offset % 13 == 0 }.map(\.element)))
        #expect(first != second, "a new order every epoch")
        #expect(loader.epoch == 2)
    }
}

extension SyntheticDataTests {
    @Test func prefetchingLoadsTheSameBatchesOverEpochs() throws {
        var s = settings()
        s.tableRowCounts = [500, 50]
        s.crosses = []
        let data = SyntheticClickModel(s).generate(count: 1000, stream: 0)
        for (rank, worldSize) in [(0, 1), (1, 3)] {
            let plain = BatchLoader(dataset: data, batchSize: 96, shuffleSeed: 5, dropLast: true, rank: rank, worldSize: worldSize)
            let prefetching = BatchLoader(dataset: data, batchSize: 96, shuffleSeed: 5, dropLast: true, rank: rank, worldSize: worldSize,
                                          prefetch: true)
            for _ in 0..<25 {  // more than two epochs of 10 batches
                let more = try plain.next()
                #expect(try prefetching.next() == more)
                guard more else { continue }
                #expect(plain.batch.size == prefetching.batch.size)
                #expect(plain.batch.labels.toArray() == prefetching.batch.labels.toArray())
                #expect(plain.batch.dense.toArray() == prefetching.batch.dense.toArray())
                #expect((0..<plain.batch.size).map { plain.batch.sparse[0].ids[$0] }
                        == (0..<prefetching.batch.size).map { prefetching.batch.sparse[0].ids[$0] })
            }
        }
    }
}
