import Compute
import NeuralNetwork

/// Tables placed whole on one rank each. The owner looks its table up locally and applies its
/// own gradients before those the other ranks send; the other ranks request the rows.
final class TableWiseTables: TablePlacement {
    /// (table index, this rank's copy) of the tables placed here.
    private let held: [(index: Int, table: EmbeddingTable)]
    /// Indices of the tables placed on other ranks.
    private let elsewhere: [Int]
    private let requested: RequestedRows

    init(held: [(index: Int, table: EmbeddingTable)], elsewhere: [Int], requested: RequestedRows) {
        self.held = held
        self.elsewhere = elsewhere
        self.requested = requested
    }

    func pool(_ batch: DeviceBatch, output: DeviceSlice<Float>, layout: PooledLayout) {
        for (t, table) in held {
            table.forward(batch.bags(t), output: layout.start(ofTable: t, in: output), outputStride: layout.rowStride)
        }
        for t in elsewhere {
            requested.pool(table: t, batch, output: layout.start(ofTable: t, in: output), stride: layout.rowStride)
        }
    }

    func addScalars(_ batch: DeviceBatch, output: DeviceSlice<Float>) {
        for (t, table) in held { table.forwardAddingScalars(batch.bags(t), output: output) }
        for t in elsewhere { requested.addScalars(table: t, batch, output: output) }
    }

    func addRequestGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout) {
        for t in elsewhere {
            requested.addGradient(table: t, batch, outputGradient: layout.start(ofTable: t, in: outputGradient), stride: layout.rowStride)
        }
    }

    func applyOwnGradients(_ batch: DeviceBatch, outputGradient: DeviceSlice<Float>, layout: PooledLayout,
                           mode: EmbeddingBackwardMode) {
        for (t, table) in held {
            table.applyGradients(batch.bags(t), outputGradient: layout.start(ofTable: t, in: outputGradient),
                                 gradientStride: layout.rowStride, mode: mode)
        }
    }
}
