import Dispatch
import Distributed

/// The steps since the last progress line: their loss (and with several tasks each task's) and
/// samples, summed over ranks when the window closes.
struct LossWindow {
    private var lossSum = 0.0, localSamples = 0, globalSamples = 0
    /// Per task, with several tasks (empty with one: the loss is the task's).
    private var taskLossSums: [Double] = []
    private var opened = DispatchTime.now()

    /// Adds a step: its mean loss over this rank's `localSamples`, of `globalSamples` in all,
    /// and each task's part of it.
    mutating func add(loss: Double, taskLosses: [Double] = [], localSamples: Int, globalSamples: Int) {
        lossSum += loss * Double(localSamples)
        if taskLosses.count > 1 {
            if taskLossSums.isEmpty { taskLossSums = Array(repeating: 0, count: taskLosses.count) }
            for (k, taskLoss) in taskLosses.enumerated() { taskLossSums[k] += taskLoss * Double(localSamples) }
        }
        self.localSamples += localSamples
        self.globalSamples += globalSamples
    }

    /// The mean loss of this rank's samples so far (for the live line; no communication).
    var localMeanLoss: Double { lossSum / Double(max(localSamples, 1)) }

    /// Closes the window (collective): the mean loss over every rank's samples, each task's
    /// (with several), and the samples per second since it opened; the next window opens now.
    mutating func close(communicator: Communicator) throws -> (loss: Double, taskLosses: [Double], samplesPerSecond: Double) {
        let sums = try communicator.allReduceSum([lossSum] + taskLossSums).map { $0 / Double(globalSamples) }
        let rate = Double(globalSamples) / max(seconds(since: opened), 1e-9)
        self = LossWindow()
        return (sums[0], Array(sums.dropFirst()), rate)
    }
}
