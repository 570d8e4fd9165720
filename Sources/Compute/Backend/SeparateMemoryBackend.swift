#if canImport(Glibc)
import Glibc
#endif

/// The CPU backend's kernels over memory that host code cannot reach: the proof, on machines
/// without a GPU, that nothing outside a backend touches backend memory.
///
/// Its buffers are numbered entries of a private pool; a handle is not an address, the backend
/// never reports a host address (transports and file I/O must stage through copies, as without
/// CUDA-aware MPI), and every operation refuses a buffer of another backend. Code that reached
/// for a buffer's memory any other way would fail loudly here while passing on the CPU backend.
public final class SeparateMemoryBackend: CPUBackend, @unchecked Sendable {
    private var pool: [UnsafeMutableRawPointer?] = [nil]
    private var freeHandles: [UInt] = []
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public override init(matmulPrecision: MatmulPrecision = .fp32) {
        pthread_mutex_init(lock, nil)
        super.init(matmulPrecision: matmulPrecision)
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    public override var name: String { "separate-memory" }

    override func allocateStorage(byteCount: Int) -> UInt {
        let memory = HostMemory.allocate(byteCount: byteCount)
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let handle = freeHandles.popLast() {
            pool[Int(handle)] = memory
            return handle
        }
        pool.append(memory)
        return UInt(pool.count - 1)
    }

    override func address(ofHandle handle: UInt) -> UnsafeMutableRawPointer {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard Int(handle) < pool.count, let memory = pool[Int(handle)] else {
            fatalError("separate-memory backend: handle \(handle) names no live buffer")
        }
        return memory
    }

    override func freeStorage(_ handle: UInt) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        guard let memory = pool[Int(handle)] else { fatalError("separate-memory backend: buffer \(handle) freed twice") }
        HostMemory.deallocate(memory)
        pool[Int(handle)] = nil
        freeHandles.append(handle)
    }

    public override func hostAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutablePointer<Element>? {
        nil
    }
}
