@testable import Compute
import Foundation
import Synchronization
import Testing

/// The rank's thread pool: every part of every piece of work runs exactly once, on pieces of
/// any size up to the pool's, back to back (workers spinning) and after a pause (workers asleep);
/// a piece started inside another runs on its caller's thread.
@Suite struct SpinningThreadPoolTests {
    @Test func everyPartRunsOnceWhateverThePieceSize() {
        let pool = SpinningThreadPool(workers: 3)
        let slots = 4
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: slots)
        counts.initialize(repeating: 0, count: slots)
        defer { counts.deallocate() }
        var expected = [Int](repeating: 0, count: slots)
        for piece in 0..<20_000 {
            let parts = 1 + piece % slots
            for part in 0..<parts { expected[part] += 1 }
            // Each part writes its own slot only.
            pool.run(parts: parts) { part in counts[part] += 1 }
            if piece % 5_000 == 4_999 { usleep(5_000) }  // the workers go to sleep and must wake
        }
        #expect(Array(UnsafeBufferPointer(start: counts, count: slots)) == expected)
    }

    @Test func aPieceStartedInsideAnotherRunsOnItsCallersThread() {
        let pool = SpinningThreadPool(workers: 1)
        let inner = Atomic<Int>(0)
        pool.run(parts: 2) { _ in
            pool.run(parts: 2) { _ in inner.add(1, ordering: .relaxed) }
        }
        #expect(inner.load(ordering: .relaxed) == 4)
    }
}
