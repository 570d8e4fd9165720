/// The threads of a rank: a batch's rows split into one contiguous range per thread, for the fp32
/// matrix products (`BLAS.gemm`) and the work between them (embedding bags, the interaction,
/// bias and activation passes), and independent items (tables) dealt out to them. Each range or
/// item is written by one thread only, so results are the same bits whatever the thread count.
/// `BLAS.setThreadCount` sets the count.
public enum RowThreads {
    nonisolated(unsafe) public private(set) static var count = 1
    /// The workers beside the caller's thread; grown when the count grows, never shrunk.
    nonisolated(unsafe) private static var pool: SpinningThreadPool?

    public static func setCount(_ threads: Int) {
        count = max(1, threads)
        if count > 1 && (pool?.workerCount ?? 0) < count - 1 { pool = SpinningThreadPool(workers: count - 1) }
    }

    /// Whether the threads are running parts at once now (read by `OperationProfile`: a call
    /// made inside runs beside the others, so its wall time is one thread's).
    nonisolated(unsafe) public private(set) static var inParallelPart = false

    /// Runs `body(part)` for every part of `0..<parts` at once, part 0 on the caller's thread.
    private static func parallel(_ parts: Int, _ body: (Int) -> Void) {
        guard parts > 1, let pool else {
            for part in 0..<parts { body(part) }
            return
        }
        inParallelPart = true
        defer { inParallelPart = false }
        pool.run(parts: parts, body)
    }

    /// Runs `body` over `0..<rows` in up to `count` ranges at once; ranges of fewer than
    /// `minimumRows` rows are not worth a thread, so small batches stay on the caller's.
    @inline(__always)
    public static func forEachRange(_ rows: Int, minimumRows: Int, _ body: (Range<Int>) -> Void) {
        forEachPart(min(count, rows / max(minimumRows, 1)), of: rows, alignment: 1, body)
    }

    /// Runs `body` for every item of `0..<count` (independent pieces of work, such as tables),
    /// dealt round-robin to up to `count` threads: item i on thread i % threads.
    public static func forEachItem(_ count: Int, _ body: (Int) -> Void) {
        let parts = max(1, min(Self.count, count))
        parallel(parts) { part in
            for item in stride(from: part, to: count, by: parts) { body(item) }
        }
    }

    /// Runs `body` over `0..<count` cut into `parts` ranges at once (the caller's thread takes
    /// one); every range but the last starts and ends on a multiple of `alignment`.
    public static func forEachPart(_ parts: Int, of count: Int, alignment: Int, _ body: (Range<Int>) -> Void) {
        forEachPart(parts, of: count, alignment: alignment) { _, range in body(range) }
    }

    /// The same, telling `body` its part too (0 on the caller's thread).
    public static func forEachPart(_ parts: Int, of count: Int, alignment: Int, _ body: (_ part: Int, _ range: Range<Int>) -> Void) {
        guard parts > 1 else {
            body(0, 0..<count)
            return
        }
        func edge(_ part: Int) -> Int {
            part == parts ? count : min(count, (part * count / parts + alignment / 2) / alignment * alignment)
        }
        parallel(parts) { part in body(part, edge(part)..<edge(part + 1)) }
    }
}
