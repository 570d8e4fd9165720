/// How a retriever is trained and scored: the in-batch sampled softmax over the global batch's
/// items (Yi et al., RecSys 2019), and which tables identify a sample's user and item.
public struct RetrievalObjective: Sendable, Equatable {
    /// Logits are the vectors' dot products divided by this.
    public var temperature: Float
    /// Whether an item's logit is lowered by the log of its share of the training pairs (the
    /// in-batch sampling probability), so that popular items are not over-penalised as negatives.
    public var logQCorrection: Bool
    /// The table whose id names a sample's user (the user tower's first): its training items
    /// are excluded when it is scored.
    public var userKeyTable: Int
    /// The table whose id names a sample's item (the item tower's first): two columns of one
    /// item are the same item (an accidental hit), and the catalogue holds one vector per id.
    public var itemKeyTable: Int
    /// Every table of the item tower (the others are the user's).
    public var itemTables: [Int]
    /// Items drawn uniformly from the catalogue each step as extra negatives of every user
    /// (mixed negative sampling; 0: in-batch negatives alone).
    public var uniformNegatives: Int

    public init(temperature: Float, logQCorrection: Bool, userKeyTable: Int, itemKeyTable: Int, itemTables: [Int]? = nil,
                uniformNegatives: Int = 0) {
        self.temperature = temperature
        self.logQCorrection = logQCorrection
        self.userKeyTable = userKeyTable
        self.itemKeyTable = itemKeyTable
        self.itemTables = itemTables ?? [itemKeyTable]
        self.uniformNegatives = uniformNegatives
    }
}
