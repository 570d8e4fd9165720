import Backends
import Configuration
import Distributed
import Models

/// Refuses, before anything is allocated, a run whose share on this rank exceeds this rank's
/// share of what the host can still give (the available memory, capped by a cgroup limit,
/// divided among the job's ranks on this host): the model as `recsys-dist plan` counts it, its
/// batch-sized buffers, and the synthetic samples every rank generates. Every command that builds a model calls it, so an
/// absurd size is one line, never an abort in an allocation or the host's OOM killer.
public enum MemoryCheck {
    /// With a GPU backend the model and its batch buffers are held to the rank's GPU (its free
    /// memory), the synthetic samples to the host.
    public static func require(_ configuration: TrainingConfiguration, communicator: Communicator) throws {
        let model = Double(try PlacementReport(configuration, ranks: communicator.size).loads[communicator.rank].totalBytes)
        let batch = batchBytes(configuration, ranks: communicator.size), samples = syntheticDataBytes(configuration)
        // What the host holds: everything, or the samples alone when a GPU holds the model.
        var hostModel = model, hostData = batch + samples
        if let device = try BackendRegistry.deviceMemory(backend: configuration.training.backend) {
            guard model + batch <= Double(device.free) else {
                throw PlanningError.notEnoughDeviceMemory(rank: communicator.rank, needed: model + batch, free: Double(device.free),
                                                          device: device.device)
            }
            hostModel = 0
            hostData = samples
        }
        guard let available = MemoryInformation.availableBytes() else { return }
        let ranksHere = MemoryInformation.ranksOnThisHost, share = Double(available / ranksHere)
        guard hostModel + hostData <= share else {
            throw PlanningError.notEnoughMemory(rank: communicator.rank, needed: hostModel + hostData, dataBytes: hostData,
                                                available: share, ranksOnHost: ranksHere)
        }
    }

    /// Bytes that grow with the local batch, a lower bound: the loader's two batches and the
    /// backend's copy of the inputs, and each MLP layer's activations with their gradients.
    static func batchBytes(_ configuration: TrainingConfiguration, ranks: Int) -> Double {
        let t = configuration.training, m = configuration.model, d = configuration.data
        let batch = Double(max(t.batchSize, configuration.evaluation.batchSize)) / Double(max(ranks, 1))
        let inputs = Double(d.denseFeatures) + Double(m.tableCount) * Double(d.idsPerSample) + 1
        let widths = Double(m.definition.layerWidths.reduce(0, +))
        return batch * 4 * (3 * inputs + 2 * widths)
    }

    /// Bytes of the synthetic train and held-out samples (label, planted logit, dense values,
    /// ids), which every rank generates whole; 0 for data read from files.
    static func syntheticDataBytes(_ configuration: TrainingConfiguration) -> Double {
        guard configuration.data.source == .synthetic else { return 0 }
        let d = configuration.data, samples = Double(d.synthetic.trainSamples) + Double(d.synthetic.evalSamples)
        let ids = Double(configuration.model.tableCount) * Double(d.idsPerSample)
        return samples * (8 + 4 * Double(d.denseFeatures) + 4 * ids)
    }
}
