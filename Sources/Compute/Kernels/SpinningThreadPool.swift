import CIntrinsics
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The worker threads of a rank for `RowThreads`: started once, they spin for a while after each
/// piece of work, so the next one (a step runs dozens, microseconds apart) starts without a
/// wake-up; idle longer, they sleep on a condition variable. Waking a thread from sleep for each
/// piece cost more than many pieces take, and the caller then often ran every part itself.
final class SpinningThreadPool: @unchecked Sendable {
    /// Worker threads (the caller is one more).
    let workerCount: Int
    /// A new value for each piece of work: a counter above 8 bits, the piece's number of parts
    /// in them (read with the counter, so a worker that looks late never takes a later piece's
    /// count for its own). A worker runs part `index + 1` of a piece that has it.
    private let announcement = Atomic<Int>(0)
    /// Parts still running on workers.
    private let unfinished = Atomic<Int>(0)
    /// The piece's body: set before it is announced, cleared once its workers are done.
    private var job: ((Int) -> Void)?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var sleepers = 0
    /// Whether a piece of work is running (one started inside it runs on its caller's thread).
    private let running = Atomic<Bool>(false)
    /// How long a worker spins before it sleeps (PAUSE instructions, ~100 µs).
    private static let spinLimit = 4_000

    init(workers: Int) {
        workerCount = workers
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for index in 0..<workers {
            let thread = Thread { [unowned self] in self.work(index: index) }
            thread.start()
        }
    }

    /// Runs `body(part)` for part in 0..<parts (at most `workerCount + 1`): part 0 on the
    /// caller's thread, the others on workers; returns when all have. Called while another
    /// piece runs (from inside it), runs every part on the caller's thread.
    func run(parts: Int, _ body: (Int) -> Void) {
        precondition(parts >= 1 && parts <= workerCount + 1 && parts < 256,
                     "SpinningThreadPool: \(parts) parts for \(workerCount + 1) threads")
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { body(part) }
            return
        }
        defer { running.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            job = body
            unfinished.store(parts - 1, ordering: .relaxed)
            let counter = announcement.load(ordering: .relaxed) >> 8
            announcement.store((counter + 1) << 8 | parts, ordering: .releasing)
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(wake) }
            pthread_mutex_unlock(mutex)
            body(0)
            var spins = 0
            while unfinished.load(ordering: .acquiring) > 0 {
                spins += 1
                // A worker not running (more threads than cores): give it the core.
                if spins < Self.spinLimit { recsys_spin_pause() } else { sched_yield() }
            }
            job = nil
        }
    }

    private func work(index: Int) {
        var seen = 0
        while true {
            var current = announcement.load(ordering: .acquiring), spins = 0
            while current == seen {
                spins += 1
                if spins < Self.spinLimit {
                    recsys_spin_pause()
                } else {
                    pthread_mutex_lock(mutex)
                    sleepers += 1
                    while announcement.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
                    sleepers -= 1
                    pthread_mutex_unlock(mutex)
                }
                current = announcement.load(ordering: .acquiring)
            }
            seen = current
            if index + 1 < current & 0xFF {
                job!(index + 1)
                unfinished.subtract(1, ordering: .releasing)
            }
        }
    }
}
