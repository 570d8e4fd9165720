import Synchronization

/// A request to stop training at the next step boundary: the number of the signal (SIGTERM
/// from Slurm preemption, SIGINT from Ctrl-C) that asked for it, set by the command line's
/// signal handler and read by the trainer after every step. Lock-free, so a signal handler
/// may set it.
public enum StopRequest {
    private static let signal = Atomic<Int32>(0)

    /// Records `signal` as the reason to stop; returns false when a stop was already requested
    /// (the second signal, which should end the process at once).
    public static func record(_ signal: Int32) -> Bool {
        self.signal.compareExchange(expected: 0, desired: signal, ordering: .relaxed).exchanged
    }

    /// The signal that asked for a stop, or 0.
    public static var pending: Int32 { signal.load(ordering: .relaxed) }
}
