import Compute

extension Batch {
    /// Sets every table's bags (`bags[t][b]`: sample b's ids in table t) and the batch's size.
    public func setBags(_ bags: [[[Int32]]]) {
        for (t, tableBags) in bags.enumerated() {
            var k = 0
            sparse[t].offsets[0] = 0
            for (b, bag) in tableBags.enumerated() {
                for id in bag {
                    sparse[t].ids[k] = id
                    k += 1
                }
                sparse[t].offsets[b + 1] = Int32(k)
            }
        }
        size = bags.first?.count ?? 0
    }
}
