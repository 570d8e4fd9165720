import Compute
import NeuralNetwork

/// Tables split by rows over the ranks. Every lookup is requested from the owner of its row
/// (this rank included, through the exchange), so a shard changes only by the gradients its
/// owner receives.
final class RowWiseTables: TablePlacement {
    /// Indices of the row-wise tables.
    private let tables: [Int]
    private let requested: RequestedRows

    init(tables: [Int], requested: RequestedRows) {
        self.tables = tables
        self.requested = requested
    }

    func pool(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) {
        for t in tables {
            requested.pool(table: t, batch, output: layout.start(ofTable: t, in: output), stride: layout.rowStride)
        }
    }

    func addScalars(_ batch: DeviceBatch, output: DeviceSlice<Float>) {
        for t in tables { requested.addScalars(table: t, batch, output: output) }
    }

    func addRequestGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout) {
        for t in tables {
            requested.addGradient(table: t, batch, outputGradient: layout.start(ofTable: t, in: outputGradient), stride: layout.rowStride)
        }
    }

    func applyOwnGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                           mode: EmbeddingBackwardMode) {}
}
