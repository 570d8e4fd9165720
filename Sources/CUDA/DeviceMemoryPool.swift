import Foundation

/// Device memory kept for reuse, as a GPU framework's caching allocator does: `cuMemAlloc` and
/// `cuMemFree` are slow and synchronise the device, while a training step allocates the same
/// temporaries (sums, flags, counts, rounded operands) step after step. A freed block waits for
/// the next allocation of exactly its size (so the emulated device's bounds checks stay exact);
/// when the device is out of memory, the waiting blocks are given back and the allocation tried
/// again.
final class DeviceMemoryPool: @unchecked Sendable {
    private let device: CUDADevice
    private let lock = NSLock()
    private var idle: [Int: [DeviceAddress]] = [:]
    private var sizes: [UInt64: Int] = [:]
    /// Bytes of blocks freed and waiting for reuse.
    private(set) var idleBytes = 0

    init(device: CUDADevice) { self.device = device }

    deinit { releaseIdle() }

    /// `bytes` (> 0) of device memory, a waiting block of that size when there is one.
    func allocate(bytes: Int) throws -> DeviceAddress {
        lock.lock()
        defer { lock.unlock() }
        if let address = idle[bytes]?.popLast() {
            idleBytes -= bytes
            return address
        }
        let address: DeviceAddress
        do {
            address = try device.allocate(bytes: bytes)
        } catch CUDAError.driver(_, 2, _) where idleBytes > 0 {  // CUDA_ERROR_OUT_OF_MEMORY
            releaseIdleLocked()
            address = try device.allocate(bytes: bytes)
        }
        sizes[address.value] = bytes
        return address
    }

    /// Keeps the block at `address` for the next allocation of its size.
    func free(_ address: DeviceAddress) {
        lock.lock()
        defer { lock.unlock() }
        guard let bytes = sizes[address.value] else { preconditionFailure("DeviceMemoryPool: a block it did not allocate") }
        idle[bytes, default: []].append(address)
        idleBytes += bytes
    }

    /// Gives every waiting block back to the device.
    func releaseIdle() {
        lock.lock()
        defer { lock.unlock() }
        releaseIdleLocked()
    }

    private func releaseIdleLocked() {
        for address in idle.values.joined() {
            try? device.free(address)
            sizes[address.value] = nil
        }
        idle = [:]
        idleBytes = 0
    }
}
