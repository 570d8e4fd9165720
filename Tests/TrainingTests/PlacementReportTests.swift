import Configuration
import Distributed
import Planning
import Testing
import Training

@Suite struct PlacementReportTests {
    func configuration(_ architecture: String, _ overrides: [String] = []) throws -> TrainingConfiguration {
        try ConfigurationLoader.parse("""
            model:
              architecture: \(architecture)
              embedding_dimension: 4
              table_count: 3
              table_rows: [10, 500, 2000]
              bottom_mlp: [8, 4]
              top_mlp: [6, 1]
              deep_mlp: [5, 1]
            training:
              batch_size: 64
              optimizer:
                algorithm: adagrad
            distributed:
              replicate_max_rows: 10
              row_wise_min_rows: 2000
            """, source: "plan.yaml", overrides: overrides)
    }

    @Test(arguments: ["dlrm", "wide_deep", "dcnv2", "deepfm", "bst", "shared_bottom", "mmoe", "ple"])
    func countsMatchTheModelThatIsBuilt(architecture: String) throws {
        let c = try configuration(architecture)
        let model = try ModelFactory.makeModel(c, batchCapacity: 64)
        let report = try PlacementReport(c, ranks: 1)
        #expect(report.denseParameterCount == model.arena.entries.reduce(0) { $0 + $1.count })
        let weights = model.embeddingTables.reduce(0) { $0 + $1.valueCount }
        let rowSums = model.embeddingTables.reduce(0) { $0 + $1.rowCount }  // row-wise Adagrad: one float per row
        #expect(report.loads[0].embeddingBytes == 4 * (weights + rowSums))
        #expect(report.loads[0].allToAllBytesPerStep == 0 && report.allReduceBytesPerStep == 0)
    }

    /// bf16 tables hold 2 bytes a value (their optimizer state 4, or 2 by its key): the tables'
    /// bytes are half of fp32's, as in the model that is built, and rows cross the exchange in 2 bytes.
    @Test(arguments: ["dlrm", "wide_deep"])
    func bfloat16TablesHalveTheTableBytes(architecture: String) throws {
        let sgd = ["training.optimizer.algorithm=sgd"], bf16 = ["model.table_precision=bf16"]
        let fp32Report = try PlacementReport(try configuration(architecture, sgd), ranks: 1)
        let c = try configuration(architecture, sgd + bf16)
        let report = try PlacementReport(c, ranks: 1)
        #expect(2 * report.loads[0].embeddingBytes == fp32Report.loads[0].embeddingBytes)
        let model = try ModelFactory.makeModel(c, batchCapacity: 64)
        #expect(model.embeddingTables.allSatisfy { $0.precision == .bf16 })
        #expect(report.loads[0].embeddingBytes == 2 * model.embeddingTables.reduce(0) { $0 + $1.valueCount })
        let adagrad = try PlacementReport(try configuration(architecture, bf16), ranks: 1)
        let rowSums = model.embeddingTables.reduce(0) { $0 + $1.rowCount }
        #expect(adagrad.loads[0].embeddingBytes == report.loads[0].embeddingBytes + 4 * rowSums)
        let halfState = try PlacementReport(try configuration(architecture, bf16 + ["training.optimizer.table_state_precision=bf16"]), ranks: 1)
        #expect(halfState.loads[0].embeddingBytes == report.loads[0].embeddingBytes + 2 * rowSums)
        let spread = try PlacementReport(c, ranks: 3), fp32Spread = try PlacementReport(try configuration(architecture, sgd), ranks: 3)
        #expect(spread.loads[0].allToAllBytesPerStep < fp32Spread.loads[0].allToAllBytesPerStep)
    }

    @Test func placementsAndShardsAddUp() throws {
        let report = try PlacementReport(try configuration("dlrm"), ranks: 3)
        let plan = report.collections[0].plan
        #expect(plan.tables.map(\.placement) == [.replicated, .tableWise(owner: 0), .rowWise])
        // Replicated rows on every rank, the 500-row table once, the 2000 rows split three ways.
        let heldRows: Int = report.loads.map(\.embeddingRows).reduce(0, +)
        let expectedRows: Int = 3 * 10 + 500 + 2000
        #expect(heldRows == expectedRows)
        #expect(report.loads[0].allToAllBytesPerStep > 0)
        #expect(report.allReduceBytesPerStep == 4 * report.denseParameterCount)
    }
}
