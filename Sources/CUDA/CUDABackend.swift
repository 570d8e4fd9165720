import Compute
import Foundation

/// The compute backend of an NVIDIA GPU: buffers in device memory (a pool that keeps freed
/// blocks for reuse), GEMMs by cuBLASLt, every other operation a kernel of Sources/CUDA/Kernels
/// compiled by NVRTC for the device.
///
/// Operations are issued in order on the device; those returning a host value (a loss, a flag,
/// a count) wait for it. A failed driver or library call stops the process with its message: a
/// GPU whose kernel failed cannot be trusted with the run (the MPI job then aborts).
public final class CUDABackend: ComputeBackend, @unchecked Sendable {
    public let device: CUDADevice
    public let matmulPrecision: MatmulPrecision
    let blas: CUBLASLt
    let kernels: CUDAKernels
    /// Device memory, freed blocks kept for reuse.
    let memory: DeviceMemoryPool
    /// Blocks a grid-stride launch uses at most: 8 per multiprocessor (enough to fill a GPU;
    /// few on the emulated device, whose threads run one after another).
    let maximumBlocks: Int
    /// The threads of a block in every launch (the kernels' shared arrays hold 256).
    static let blockThreads = 256

    /// The backend on `device`, its kernels from `kernels`; bf16 products where asked (compute
    /// capability 8.0 and later have them), TF32 tensor-core products of fp32 operands when
    /// `tensorFloat32`.
    public init(device: CUDADevice, kernels: CUDAKernels, matmulPrecision: MatmulPrecision, tensorFloat32: Bool = false,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.device = device
        self.kernels = kernels
        self.matmulPrecision = matmulPrecision
        blas = try CUBLASLt(tensorFloat32: tensorFloat32, environment: environment)
        memory = DeviceMemoryPool(device: device)
        maximumBlocks = max(8 * device.properties.multiprocessors, 1)
    }

    public var name: String { "cuda" }

    // MARK: Launches

    /// Stops the process with the CUDA error `body` threw.
    @inline(__always)
    func must<Result>(_ body: () throws -> Result) -> Result {
        do {
            return try body()
        } catch {
            fatalError("cuda backend: \(error)")
        }
    }

    /// The device address of a slice of this backend's memory.
    func address<Element>(_ slice: DeviceSlice<Element>) -> DeviceAddress {
        precondition(slice.buffer.backend === self, "cuda backend: a buffer of the \(slice.buffer.backend.name) backend")
        return DeviceAddress(UInt64(slice.buffer.handle)).advanced(by: slice.offset * MemoryLayout<Element>.stride)
    }

    func argument<Element>(_ slice: DeviceSlice<Element>) -> KernelArgument { .address(address(slice)) }

    /// Launches `name` over `items` work items of a grid-stride loop (nothing when there are none).
    func run(_ name: String, items: Int, _ arguments: KernelArgument...) {
        guard items > 0 else { return }
        let blocks = min((items + Self.blockThreads - 1) / Self.blockThreads, maximumBlocks)
        must { try device.launch(kernels[name], blocks: blocks, threads: Self.blockThreads, arguments: arguments) }
    }

    /// Launches `name` with one block per row (at most `maximumBlocks`, the rows strided over them).
    func runBlockPerRow(_ name: String, rows: Int, _ arguments: KernelArgument...) {
        guard rows > 0 else { return }
        must { try device.launch(kernels[name], blocks: min(rows, maximumBlocks), threads: Self.blockThreads, arguments: arguments) }
    }

    /// Eight zero bytes of device memory: a double a kernel adds a sum into (read by `double(in:)`).
    func doubleSum() -> DeviceBuffer<Float> { makeBuffer(Float.self, count: 2) }

    /// The double held by the first 8 bytes of `buffer`.
    func double(in buffer: DeviceBuffer<Float>) -> Double {
        var value = 0.0
        must { try device.copy(8, from: address(buffer.whole), to: &value) }
        return value
    }

    /// The Int32 at the start of `buffer`.
    func integer(in buffer: DeviceBuffer<Int32>) -> Int {
        var value: Int32 = 0
        must { try device.copy(4, from: address(buffer.whole), to: &value) }
        return Int(value)
    }

    // MARK: Memory

    public func makeBuffer<Element: DeviceElement>(_ type: Element.Type, count: Int) -> DeviceBuffer<Element> {
        precondition(count >= 0, "makeBuffer: negative count")
        let bytes = max(count, 1) * MemoryLayout<Element>.stride
        let address = must { try memory.allocate(bytes: bytes) }
        must { try device.zero(address, bytes: bytes) }
        return DeviceBuffer(backend: self, handle: UInt(address.value), count: count)
    }

    public func release(_ handle: UInt) {
        memory.free(DeviceAddress(UInt64(handle)))
    }

    public func upload<Element: DeviceElement>(_ source: UnsafeBufferPointer<Element>, to destination: DeviceSlice<Element>) {
        precondition(source.count == destination.count, "upload: \(source.count) values into \(destination.count)")
        guard let base = source.baseAddress, source.count > 0 else { return }
        must { try device.copy(source.count * MemoryLayout<Element>.stride, from: UnsafeRawPointer(base), to: address(destination)) }
    }

    public func download<Element: DeviceElement>(_ source: DeviceSlice<Element>, into destination: UnsafeMutableBufferPointer<Element>) {
        precondition(source.count == destination.count, "download: \(source.count) values into \(destination.count)")
        guard let base = destination.baseAddress, source.count > 0 else { return }
        must { try device.copy(source.count * MemoryLayout<Element>.stride, from: address(source), to: UnsafeMutableRawPointer(base)) }
    }

    public func hostAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutablePointer<Element>? { nil }

    /// The device address, for a CUDA-aware MPI.
    public func transportAddress<Element: DeviceElement>(of slice: DeviceSlice<Element>) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: UInt(address(slice).value))
    }

    public func synchronize() { must { try device.synchronize() } }

    // MARK: Element-wise and copies

    public func fill(_ slice: DeviceSlice<Float>, with value: Float) {
        run("fill_f32", items: slice.count, argument(slice), .float32(value), .int64(slice.count))
    }

    public func fill(_ slice: DeviceSlice<Int32>, with value: Int32) {
        run("fill_i32", items: slice.count, argument(slice), .int32(value), .int64(slice.count))
    }

    public func copy(_ source: DeviceSlice<Float>, to destination: DeviceSlice<Float>) {
        precondition(source.count == destination.count, "copy: \(source.count) values into \(destination.count)")
        guard source.count > 0 else { return }
        must { try device.copy(source.count * 4, from: address(source), to: address(destination)) }
    }

    public func copyRows(from source: DeviceSlice<Float>, sourceStride: Int, to destination: DeviceSlice<Float>,
                         destinationStride: Int, rows: Int, columns: Int) {
        guard rows > 0, columns > 0 else { return }
        precondition((rows - 1) * sourceStride + columns <= source.count && (rows - 1) * destinationStride + columns <= destination.count,
                     "copyRows: rows outside their slices")
        run("copy_rows", items: rows * columns, argument(source), .int64(sourceStride), argument(destination), .int64(destinationStride),
            .int64(rows), .int64(columns))
    }

    public func add(_ x: DeviceSlice<Float>, into y: DeviceSlice<Float>) {
        precondition(x.count == y.count, "add: \(x.count) values into \(y.count)")
        run("add_f32", items: x.count, argument(x), argument(y), .int64(x.count))
    }

    public func multiply(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, into output: DeviceSlice<Float>) {
        precondition(a.count == b.count && a.count == output.count, "multiply: counts differ")
        run("multiply_f32", items: a.count, argument(a), argument(b), argument(output), .int64(a.count))
    }

    public func multiplyAdd(_ a: DeviceSlice<Float>, _ b: DeviceSlice<Float>, plus c: DeviceSlice<Float>, into output: DeviceSlice<Float>) {
        precondition(a.count == b.count && a.count == c.count && a.count == output.count, "multiplyAdd: counts differ")
        run("multiply_add_f32", items: a.count, argument(a), argument(b), argument(c), argument(output), .int64(a.count))
    }

    public func allFinite(_ x: DeviceSlice<Float>) -> Bool {
        let flag = makeBuffer(Int32.self, count: 1)
        run("flag_non_finite", items: x.count, argument(x), .int64(x.count), argument(flag.whole))
        return integer(in: flag) == 0
    }

    public func pack(_ source: DeviceSlice<Float>, as format: HalfFormat, into destination: DeviceSlice<UInt16>) {
        precondition(source.count == destination.count, "pack: \(source.count) values into \(destination.count)")
        run(format == .bf16 ? "pack_bf16" : "pack_fp16", items: source.count, argument(source), argument(destination),
            .int64(source.count))
    }

    public func unpack(_ source: DeviceSlice<UInt16>, from format: HalfFormat, into destination: DeviceSlice<Float>) {
        precondition(source.count == destination.count, "unpack: \(source.count) values into \(destination.count)")
        run(format == .bf16 ? "unpack_bf16" : "unpack_fp16", items: source.count, argument(source), argument(destination),
            .int64(source.count))
    }

    // MARK: Dense layers

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: DeviceSlice<Float>, lda: Int, b: DeviceSlice<Float>, ldb: Int,
                     beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: address(a), lda: lda,
                b: address(b), ldb: ldb, operands: matmulPrecision == .bf16 ? .bf16Rounded(a, b) : .fp32, beta: beta, c: c, ldc: ldc)
    }

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: DeviceSlice<UInt16>, lda: Int, b: DeviceSlice<UInt16>, ldb: Int,
                     beta: Float, c: DeviceSlice<Float>, ldc: Int) {
        precondition(matmulPrecision == .bf16, "gemm: bf16 operands on an fp32 backend")
        product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: address(a), lda: lda,
                b: address(b), ldb: ldb, operands: .bf16, beta: beta, c: c, ldc: ldc)
    }

    private enum Operands {
        case fp32, bf16
        /// fp32 operands of a bf16 backend: rounded to bf16 first, as the CPU backend's oneDNN does.
        case bf16Rounded(DeviceSlice<Float>, DeviceSlice<Float>)

        var isFP32: Bool { if case .fp32 = self { true } else { false } }
    }

    /// The product through cuBLASLt, with the bias (+ ReLU) epilogue when `bias` is given.
    private func product(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: DeviceAddress, lda: Int,
                         b: DeviceAddress, ldb: Int, operands: Operands, beta: Float, c: DeviceSlice<Float>, ldc: Int,
                         bias: DeviceSlice<Float>? = nil, relu: Bool = false) {
        guard m > 0, n > 0 else { return }
        precondition((m - 1) * ldc + n <= c.count, "gemm: C outside its slice")
        guard k > 0 else {
            precondition(beta == 0 || beta == 1, "gemm: k = 0 with beta \(beta)")
            if beta == 0 { copyRows(from: zeros(n), sourceStride: 0, to: c, destinationStride: ldc, rows: m, columns: n) }
            if let bias { addBias(c, bias: bias, rows: m, columns: n, relu: relu) }
            return
        }
        let biasAddress = bias.map { address($0) }
        must { try device.makeCurrent() }
        switch operands {
        case .fp32, .bf16:
            must { try blas.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                     b: b, ldb: ldb, operands: operands.isFP32 ? .fp32 : .bf16, beta: beta, c: address(c), ldc: ldc,
                                     bias: biasAddress, relu: relu) }
        case .bf16Rounded(let a, let b):
            let roundedA = makeBuffer(UInt16.self, count: a.count), roundedB = makeBuffer(UInt16.self, count: b.count)
            pack(a, as: .bf16, into: roundedA.whole)
            pack(b, as: .bf16, into: roundedB.whole)
            must { try blas.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                     a: address(roundedA.whole), lda: lda, b: address(roundedB.whole), ldb: ldb, operands: .bf16,
                                     beta: beta, c: address(c), ldc: ldc, bias: biasAddress, relu: relu) }
        }
    }

    /// The linear layer's product with cuBLASLt's bias (+ ReLU) epilogue: one call, no kernel after it.
    public func linearForward(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: MatmulOperand, lda: Int,
                              b: MatmulOperand, ldb: Int, c: DeviceSlice<Float>, ldc: Int, bias: DeviceSlice<Float>, relu: Bool) {
        precondition(bias.count >= n, "linearForward: a bias of \(bias.count) for \(n) columns")
        switch (a, b) {
        case (.fp32(let a), .fp32(let b)):
            product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: address(a), lda: lda, b: address(b),
                    ldb: ldb, operands: matmulPrecision == .bf16 ? .bf16Rounded(a, b) : .fp32, beta: 0, c: c, ldc: ldc, bias: bias,
                    relu: relu)
        case (.bf16(let a), .bf16(let b)):
            precondition(matmulPrecision == .bf16, "linearForward: bf16 operands on an fp32 backend")
            product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: address(a), lda: lda, b: address(b),
                    ldb: ldb, operands: .bf16, beta: 0, c: c, ldc: ldc, bias: bias, relu: relu)
        default:
            preconditionFailure("linearForward: an fp32 operand beside a bf16 one")
        }
    }

    /// `count` zeros in device memory.
    private func zeros(_ count: Int) -> DeviceSlice<Float> { makeBuffer(Float.self, count: count).whole }

    public func addBias(_ y: DeviceSlice<Float>, bias: DeviceSlice<Float>, rows: Int, columns: Int, relu: Bool) {
        precondition(rows * columns <= y.count && columns <= bias.count, "addBias: shapes outside their slices")
        run("add_bias", items: rows * columns, argument(y), argument(bias), .int64(rows), .int64(columns), .int32(relu ? 1 : 0))
    }

    public func reluBackward(gradient: DeviceSlice<Float>, output: DeviceSlice<Float>, count: Int) {
        precondition(count <= gradient.count && count <= output.count, "reluBackward: count outside its slices")
        run("relu_backward", items: count, argument(gradient), argument(output), .int64(count))
    }

    public func accumulateColumnSums(_ x: DeviceSlice<Float>, rows: Int, columns: Int, into sums: DeviceSlice<Float>) {
        precondition(rows * columns <= x.count && columns <= sums.count, "accumulateColumnSums: shapes outside their slices")
        guard rows > 0 else { return }
        run("column_sums", items: columns, argument(x), .int64(rows), .int64(columns), argument(sums))
    }
}
