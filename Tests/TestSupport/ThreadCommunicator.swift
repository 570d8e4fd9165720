import Compute
import Distributed
import Foundation

/// N ranks as threads of one process: MPI's collectives over shared memory, so the exchange
/// code (request routing, every placement's all-to-all) gets fast unit tests without mpirun.
///
/// Every collective has each rank post what it sends, wait for all, read what it receives from
/// the others' posts, and wait again before anyone reuses its buffers. Sums are taken in rank
/// order on every rank, so all ranks get bit-identical results, as with MPI. A rank that waits
/// more than a minute at a collective (another rank failed and left) stops the process.
public final class ThreadCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { group.size }
    private let group: Group

    /// What one rank offers in the current collective.
    struct Post {
        var pointer: UnsafeRawPointer?
        var counts: [Int32] = []
        var offsets: [Int32] = []
        var values: [Double] = []
        var integers: [Int32] = []
    }

    /// The state the ranks of one group share.
    final class Group: @unchecked Sendable {
        let size: Int
        /// One post per rank, in memory of its own: each rank writes only its own.
        let posts: UnsafeMutableBufferPointer<Post>
        private let condition = NSCondition()
        private var arrived = 0, generation = 0
        /// Each rank's posts (`Communicator.post`) not yet taken, with their senders.
        private var mailboxes: [[(source: Int, values: [Double])]]
        private let mail = NSCondition()

        init(size: Int) {
            self.size = size
            posts = .allocate(capacity: size)
            posts.initialize(repeating: Post())
            mailboxes = Array(repeating: [], count: size)
        }

        func deliver(_ values: [Double], from source: Int, to destination: Int) {
            mail.lock()
            mailboxes[destination].append((source, values))
            mail.broadcast()
            mail.unlock()
        }

        func take(for rank: Int, wait: Bool) -> (source: Int, values: [Double])? {
            mail.lock()
            defer { mail.unlock() }
            let deadline = Date().addingTimeInterval(60)
            while wait && mailboxes[rank].isEmpty {
                if !mail.wait(until: deadline) && mailboxes[rank].isEmpty {
                    fatalError("ThreadCommunicator: rank \(rank) waited 60 s for a post (did another rank fail?)")
                }
            }
            return mailboxes[rank].isEmpty ? nil : mailboxes[rank].removeFirst()
        }

        deinit {
            posts.deinitialize()
            posts.deallocate()
        }

        func wait(rank: Int) {
            condition.lock()
            defer { condition.unlock() }
            let current = generation
            arrived += 1
            if arrived == size {
                arrived = 0
                generation += 1
                condition.broadcast()
                return
            }
            let deadline = Date().addingTimeInterval(60)
            while current == generation {
                if !condition.wait(until: deadline) && current == generation {
                    fatalError("ThreadCommunicator: rank \(rank) waited 60 s in a collective (did another rank fail?)")
                }
            }
        }
    }

    private init(rank: Int, group: Group) {
        self.rank = rank
        self.group = group
    }

    /// Runs `body` on `ranks` threads, each with its communicator; returns their results in rank
    /// order, or throws the first error a rank threw.
    public static func run<T>(ranks: Int, _ body: @escaping @Sendable (Communicator) throws -> T) throws -> [T] {
        let group = Group(size: ranks)
        let results = ResultBox<T>(count: ranks)
        let finished = DispatchGroup()
        for rank in 0..<ranks {
            finished.enter()
            let thread = Thread {
                results.set(rank, Result { try body(ThreadCommunicator(rank: rank, group: group)) })
                finished.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        finished.wait()
        return try results.values()
    }

    /// Posts this rank's offer, waits for all, runs `read` (which may read every post), waits again.
    private func collective(_ post: Post, read: () throws -> Void) rethrows {
        group.posts[rank] = post
        group.wait(rank: rank)
        defer { group.wait(rank: rank) }
        try read()
    }

    public func barrier() throws {
        collective(Post()) {}
    }

    public func broadcast(_ slice: DeviceSlice<Float>, root: Int) throws {
        slice.withHostMemory(writesBack: rank != root) { values in
            collective(Post(pointer: UnsafeRawPointer(values.baseAddress!))) {
                guard rank != root, let source = group.posts[root].pointer else { return }
                values.baseAddress!.update(from: source.assumingMemoryBound(to: Float.self), count: values.count)
            }
        }
    }

    public func allReduceSum(_ slice: DeviceSlice<Float>) throws {
        let count = slice.count
        let sum = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        defer { sum.deallocate() }
        slice.withHostMemory(writesBack: true) { values in
            collective(Post(pointer: UnsafeRawPointer(values.baseAddress!))) {
                sum.initialize(repeating: 0, count: count)
                for post in group.posts {
                    let addend = post.pointer!.assumingMemoryBound(to: Float.self)
                    for i in 0..<count { sum[i] += addend[i] }
                }
            }
            values.baseAddress!.update(from: sum, count: count)
        }
    }

    public func allReduceSum(_ values: [Double]) throws -> [Double] { reduce(values, +) }
    public func allReduceMax(_ values: [Double]) throws -> [Double] { reduce(values, max) }
    public func allReduceMin(_ values: [Double]) throws -> [Double] { reduce(values, min) }

    private func reduce(_ values: [Double], _ combine: (Double, Double) -> Double) -> [Double] {
        var result: [Double] = []
        collective(Post(values: values)) {
            result = group.posts.dropFirst().reduce(group.posts[0].values) { zip($0, $1.values).map(combine) }
        }
        return result
    }

    public func allToAll(_ values: [Int32]) throws -> [Int32] {
        var result: [Int32] = []
        collective(Post(integers: values)) { result = group.posts.map { $0.integers[rank] } }
        return result
    }

    public func allToAllV(send: UnsafePointer<Int32>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: UnsafeMutablePointer<Int32>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        exchange(send: UnsafeRawPointer(send), sendCounts: sendCounts, sendOffsets: sendOffsets,
                 receive: UnsafeMutableRawPointer(receive), receiveOffsets: receiveOffsets, elementSize: 4)
    }

    public func allToAllV(send: DeviceSlice<Float>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<Float>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        send.withHostMemory(writesBack: false) { sent in
            receive.withHostMemory(writesBack: true) { received in
                exchange(send: UnsafeRawPointer(sent.baseAddress!), sendCounts: sendCounts, sendOffsets: sendOffsets,
                         receive: UnsafeMutableRawPointer(received.baseAddress!), receiveOffsets: receiveOffsets, elementSize: 4)
            }
        }
    }

    public func allToAllV(send: DeviceSlice<UInt16>, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: DeviceSlice<UInt16>, receiveCounts: [Int32], receiveOffsets: [Int32]) throws {
        send.withHostMemory(writesBack: false) { sent in
            receive.withHostMemory(writesBack: true) { received in
                exchange(send: UnsafeRawPointer(sent.baseAddress!), sendCounts: sendCounts, sendOffsets: sendOffsets,
                         receive: UnsafeMutableRawPointer(received.baseAddress!), receiveOffsets: receiveOffsets, elementSize: 2)
            }
        }
    }

    /// Each rank takes, from every rank r, the block r addressed to it.
    private func exchange(send: UnsafeRawPointer, sendCounts: [Int32], sendOffsets: [Int32],
                          receive: UnsafeMutableRawPointer, receiveOffsets: [Int32], elementSize: Int) {
        collective(Post(pointer: send, counts: sendCounts, offsets: sendOffsets)) {
            for (source, post) in group.posts.enumerated() where post.counts[rank] > 0 {
                (receive + Int(receiveOffsets[source]) * elementSize)
                    .copyMemory(from: post.pointer! + Int(post.offsets[rank]) * elementSize, byteCount: Int(post.counts[rank]) * elementSize)
            }
        }
    }

    public func gatherV(send: DeviceSlice<Float>, receive: UnsafeMutablePointer<Float>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        send.withHostMemory(writesBack: false) { sent in
            gather(send: UnsafeRawPointer(sent.baseAddress!), count: sent.count, receive: receive.map(UnsafeMutableRawPointer.init),
                   receiveOffsets: receiveOffsets, root: root)
        }
    }

    public func gatherV(send: UnsafePointer<Int32>?, count: Int, receive: UnsafeMutablePointer<Int32>?,
                        receiveCounts: [Int32], receiveOffsets: [Int32], root: Int) throws {
        gather(send: send.map(UnsafeRawPointer.init), count: count, receive: receive.map(UnsafeMutableRawPointer.init),
               receiveOffsets: receiveOffsets, root: root)
    }

    /// Root takes `count` 4-byte elements from every rank, rank r's at `receiveOffsets[r]`.
    private func gather(send: UnsafeRawPointer?, count: Int, receive: UnsafeMutableRawPointer?, receiveOffsets: [Int32], root: Int) {
        collective(Post(pointer: send, counts: [Int32(count)])) {
            guard rank == root, let receive else { return }
            for (source, post) in group.posts.enumerated() where post.counts[0] > 0 {
                (receive + Int(receiveOffsets[source]) * 4).copyMemory(from: post.pointer!, byteCount: Int(post.counts[0]) * 4)
            }
        }
    }

    public func post(_ values: [Double], to destination: Int) throws { group.deliver(values, from: rank, to: destination) }
    public func nextPost(wait: Bool) throws -> (source: Int, values: [Double])? { group.take(for: rank, wait: wait) }
    /// Posts are in the receiver's mailbox as soon as they are sent.
    public func completePosts() throws {}

    public func abort(code: Int32) -> Never {
        fatalError("ThreadCommunicator: rank \(rank) aborted the group with code \(code)")
    }
}

/// The results of the ranks' threads, filled in as they finish.
private final class ResultBox<T>: @unchecked Sendable {
    private var results: [Result<T, Error>?]
    private let lock = NSLock()

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ rank: Int, _ result: Result<T, Error>) {
        lock.lock()
        results[rank] = result
        lock.unlock()
    }

    func values() throws -> [T] { try results.map { try $0!.get() } }
}
