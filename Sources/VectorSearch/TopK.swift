/// The `k` highest-scoring items seen so far (a min-heap on the score; ties keep the smaller
/// id), for one user.
public struct TopK: Sendable {
    public let k: Int
    /// Heap order: the weakest candidate at 0.
    private(set) var scores: [Float] = []
    private(set) var items: [Int32] = []

    public init(k: Int) {
        self.k = k
        scores.reserveCapacity(k)
        items.reserveCapacity(k)
    }

    /// A score below this cannot enter (the weakest kept once k are kept; -inf before).
    public var threshold: Float { scores.count < k ? -.infinity : scores[0] }

    /// Whether (a, ia) ranks below (b, ib): a lower score, or the same score and a larger id.
    @inline(__always)
    private static func weaker(_ a: Float, _ ia: Int32, than b: Float, _ ib: Int32) -> Bool {
        a < b || (a == b && ia > ib)
    }

    public mutating func offer(_ score: Float, _ item: Int32) {
        if scores.count < k {
            scores.append(score)
            items.append(item)
            var i = scores.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard Self.weaker(scores[i], items[i], than: scores[parent], items[parent]) else { break }
                scores.swapAt(i, parent)
                items.swapAt(i, parent)
                i = parent
            }
            return
        }
        guard k > 0, Self.weaker(scores[0], items[0], than: score, item) else { return }
        scores[0] = score
        items[0] = item
        var i = 0
        while true {
            let left = 2 * i + 1, right = left + 1
            var weakest = i
            if left < k && Self.weaker(scores[left], items[left], than: scores[weakest], items[weakest]) { weakest = left }
            if right < k && Self.weaker(scores[right], items[right], than: scores[weakest], items[weakest]) { weakest = right }
            guard weakest != i else { break }
            scores.swapAt(i, weakest)
            items.swapAt(i, weakest)
            i = weakest
        }
    }

    /// The candidates, best first.
    public func sorted() -> [(score: Float, item: Int32)] {
        zip(scores, items).map { (score: $0, item: $1) }.sorted { Self.weaker($1.score, $1.item, than: $0.score, $0.item) }
    }
}
