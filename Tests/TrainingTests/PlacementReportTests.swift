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
