import Foundation

/// A run that cannot fit where it is launched, found before anything is allocated.
public enum PlanningError: Error, CustomStringConvertible {
    /// Bytes as Double: an absurd config can ask for more than an Int holds.
    /// `dataBytes`: the part of `needed` that is batch buffers and synthetic samples.
    case notEnoughMemory(rank: Int, needed: Double, dataBytes: Double, available: Double, ranksOnHost: Int)
    /// The model and its batch buffers past what the rank's GPU has free.
    case notEnoughDeviceMemory(rank: Int, needed: Double, free: Double, device: String)

    public var description: String {
        switch self {
        case .notEnoughMemory(let rank, let needed, let dataBytes, let available, let ranksOnHost):
            let megabytes = { (bytes: Double) in bytes < 1e15 ? "\(Int(bytes / 1e6))" : String(format: "%.3g", bytes / 1e6) }
            let data = dataBytes > 0 ? "; batch buffers and synthetic samples \(megabytes(dataBytes)) MB of it" : ""
            return "rank \(rank): the model needs \(megabytes(needed)) MB on this rank (tables, optimizer state, workspaces, "
                + "dense replica; see recsys-dist plan\(data)) but \(megabytes(available)) MB are available to it"
                + (ranksOnHost > 1 ? " (this host's available memory shared by its \(ranksOnHost) ranks)" : "")
                + (dataBytes > needed / 2 ? ": use a smaller batch or fewer synthetic samples" : ": use more hosts or smaller tables")
        case .notEnoughDeviceMemory(let rank, let needed, let free, let device):
            let megabytes = { (bytes: Double) in bytes < 1e15 ? "\(Int(bytes / 1e6))" : String(format: "%.3g", bytes / 1e6) }
            return "rank \(rank): the model needs \(megabytes(needed)) MB of GPU memory on this rank (tables, optimizer state, "
                + "workspaces, dense replica, batch buffers; see recsys-dist plan) but \(device) has \(megabytes(free)) MB free: "
                + "use more GPUs, smaller tables or a smaller batch"
        }
    }
}
