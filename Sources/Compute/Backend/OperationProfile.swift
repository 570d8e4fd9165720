#if canImport(Glibc)
import Glibc
#endif

/// Wall time spent in each backend operation, by name (a GEMM by its shape), with the calls and
/// the floating-point operations of those that declare them: `bench --profile`'s table of where a
/// step's time goes. The rank's threads may add at once (the blocks of a product).
public final class OperationProfile: @unchecked Sendable {
    public struct Row: Sendable, Equatable, Codable {
        public var name: String
        public var seconds: Double
        public var calls: Int
        /// Floating-point operations done (0 where not counted).
        public var flops: Double
    }

    private var rows: [String: Row] = [:]
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() { pthread_mutex_init(lock, nil) }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Runs `body`, adding its wall time (and `flops`) to the row `name`. A call made on the
    /// rank's threads at once (the tables dealt out to them) goes to the row "`name` (threads'
    /// time, summed)": those calls overlap, so their times add up to more than the step spent.
    @inline(__always)
    public func measure<T>(_ name: @autoclosure () -> String, flops: Double = 0, _ body: () throws -> T) rethrows -> T {
        let start = Self.now(), overlapping = RowThreads.inParallelPart
        defer { add(overlapping ? name() + Self.overlappingSuffix : name(), seconds: Self.now() - start, flops: flops) }
        return try body()
    }

    /// The end of the name of a row whose calls overlapped on the rank's threads.
    public static let overlappingSuffix = " (threads' time, summed)"

    /// Adds one call of `seconds` to the row `name`.
    public func add(_ name: String, seconds: Double, flops: Double = 0) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        rows[name, default: Row(name: name, seconds: 0, calls: 0, flops: 0)].seconds += seconds
        rows[name]!.calls += 1
        rows[name]!.flops += flops
    }

    /// Forgets everything measured (the end of the warm-up).
    public func reset() {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        rows.removeAll(keepingCapacity: true)
    }

    /// Every row, the most time first.
    public var table: [Row] {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return rows.values.sorted { ($0.seconds, $1.name) > ($1.seconds, $0.name) }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
