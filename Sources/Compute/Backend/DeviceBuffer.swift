/// The element types backend buffers hold: parameters and activations (`Float`), row ids and
/// offsets (`Int32`), 16-bit floats in transit (`UInt16` bit patterns of bf16 or fp16).
public protocol DeviceElement: BitwiseCopyable, Sendable {
    static var zero: Self { get }
}

extension Float: DeviceElement {}
extension Int32: DeviceElement {}
extension UInt16: DeviceElement {}

/// `count` elements in the memory of a compute backend: host memory for `CPUBackend`, memory no
/// host code can address for `SeparateMemoryBackend` (and device memory for a GPU backend).
///
/// A buffer holds no address, only the backend's handle: host code reads or writes it through
/// the backend's copy calls (`toArray`, `copy(from:)`, `withHostCopy`). Buffers are zero-filled
/// when made, never move, and are freed when the last reference goes.
public final class DeviceBuffer<Element: DeviceElement>: @unchecked Sendable {
    public let count: Int
    public let backend: any ComputeBackend
    /// What the backend knows the memory by; meaningful to that backend alone.
    package let handle: UInt

    /// Made by a backend's `makeBuffer` only (backends outside this module, such as CUDA's, too).
    package init(backend: any ComputeBackend, handle: UInt, count: Int) {
        self.backend = backend
        self.handle = handle
        self.count = count
    }

    deinit { backend.release(handle) }

    /// The whole buffer.
    public var whole: DeviceSlice<Element> { DeviceSlice(buffer: self, offset: 0, count: count) }

    /// `count` elements from `offset`.
    public func slice(_ offset: Int, _ count: Int) -> DeviceSlice<Element> { whole.slice(offset, count) }

    /// A host copy of the contents (tests, checkpoints, logs; not for the hot path).
    public func toArray() -> [Element] { whole.toArray() }

    /// Overwrites the contents from host values (exactly `count` of them).
    public func copy(from values: [Element]) { whole.copy(from: values) }
}

/// A window of a `DeviceBuffer`: what every backend operation takes. Holding a slice keeps its
/// buffer alive.
public struct DeviceSlice<Element: DeviceElement>: @unchecked Sendable {
    public let buffer: DeviceBuffer<Element>
    public let offset: Int
    public let count: Int

    public init(buffer: DeviceBuffer<Element>, offset: Int, count: Int) {
        precondition(offset >= 0 && count >= 0 && offset + count <= buffer.count,
                     "DeviceSlice: \(offset)..<\(offset + count) outside a buffer of \(buffer.count)")
        self.buffer = buffer
        self.offset = offset
        self.count = count
    }

    public var backend: any ComputeBackend { buffer.backend }

    /// `count` elements from `offset` within this slice.
    public func slice(_ offset: Int, _ count: Int) -> DeviceSlice<Element> {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count,
                     "DeviceSlice: \(offset)..<\(offset + count) outside a slice of \(self.count)")
        return DeviceSlice(buffer: buffer, offset: self.offset + offset, count: count)
    }

    /// The slice from element `offset` to its end.
    public func suffix(from offset: Int) -> DeviceSlice<Element> { slice(offset, count - offset) }

    /// The first `count` elements.
    public func prefix(_ count: Int) -> DeviceSlice<Element> { slice(0, count) }

    /// A host copy of the elements.
    public func toArray() -> [Element] {
        var values = [Element](repeating: .zero, count: count)
        values.withUnsafeMutableBufferPointer { backend.download(self, into: $0) }
        return values
    }

    /// Overwrites the elements from host values (exactly `count` of them).
    public func copy(from values: [Element]) {
        precondition(values.count == count, "DeviceSlice.copy: expected \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { backend.upload($0, to: self) }
    }

    /// Runs `body` on host memory holding the elements: the memory itself when the backend's
    /// memory is host memory, otherwise a copy that is written back afterwards when
    /// `writesBack` (for the MPI transport and file I/O).
    public func withHostMemory<Result>(writesBack: Bool,
                                       _ body: (UnsafeMutableBufferPointer<Element>) throws -> Result) rethrows -> Result {
        if let address = backend.hostAddress(of: self) {
            return try body(UnsafeMutableBufferPointer(start: address, count: count))
        }
        let staging = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(count, 1))
        defer { staging.deallocate() }
        let view = UnsafeMutableBufferPointer(rebasing: staging[0..<count])
        backend.download(self, into: view)
        let result = try body(view)
        if writesBack { backend.upload(UnsafeBufferPointer(view), to: self) }
        return result
    }
}
