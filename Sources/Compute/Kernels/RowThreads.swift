import Dispatch

/// The threads of a rank for the work between matrix products (embedding bags, the interaction,
/// bias and activation passes): a batch's rows split into one contiguous range per thread. Each
/// range writes only its own rows, so results are the same bits whatever the thread count.
/// `BLAS.setThreadCount` sets the count with OpenBLAS's.
public enum RowThreads {
    nonisolated(unsafe) public private(set) static var count = 1

    public static func setCount(_ threads: Int) { count = max(1, threads) }

    /// Runs `body` over `0..<rows` in up to `count` ranges at once; ranges of fewer than
    /// `minimumRows` rows are not worth a thread, so small batches stay on the caller's.
    @inline(__always)
    public static func forEachRange(_ rows: Int, minimumRows: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(count, rows / max(minimumRows, 1))
        guard parts > 1 else {
            body(0..<rows)
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                shared.value((part * rows / parts)..<((part + 1) * rows / parts))
            }
        }
    }
}

/// A value handed to other threads whose safety the caller sees to (disjoint rows).
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
