import Dispatch
import Distributed

/// The steps since the last progress line: their loss and samples, summed over ranks when the
/// window closes.
struct LossWindow {
    private var lossSum = 0.0, localSamples = 0, globalSamples = 0
    private var opened = DispatchTime.now()

    /// Adds a step: its mean loss over this rank's `localSamples`, of `globalSamples` in all.
    mutating func add(loss: Double, localSamples: Int, globalSamples: Int) {
        lossSum += loss * Double(localSamples)
        self.localSamples += localSamples
        self.globalSamples += globalSamples
    }

    /// The mean loss of this rank's samples so far (for the live line; no communication).
    var localMeanLoss: Double { lossSum / Double(max(localSamples, 1)) }

    /// Closes the window (collective): the mean loss over every rank's samples and the samples
    /// per second since it opened; the next window opens now.
    mutating func close(communicator: Communicator) throws -> (loss: Double, samplesPerSecond: Double) {
        let loss = try communicator.allReduceSum([lossSum])[0] / Double(globalSamples)
        let rate = Double(globalSamples) / max(seconds(since: opened), 1e-9)
        self = LossWindow()
        return (loss, rate)
    }
}
