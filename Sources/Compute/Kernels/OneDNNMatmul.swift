import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// The precision of the backend's matrix products.
public enum MatmulPrecision: String, Sendable, Codable, CaseIterable {
    /// fp32 operands through OpenBLAS's sgemm.
    case fp32
    /// bf16 operands (fp32 rounded to nearest even) with fp32 accumulation and output, through
    /// oneDNN's matmul (AVX512-BF16 or AMX where the CPU has them). Parameters, optimizer state,
    /// element-wise kernels, loss and metrics stay fp32.
    case bf16
}

/// Row-major GEMMs `C = alpha op(A) op(B) + beta C` through oneDNN's matmul primitive. With
/// `roundsToBFloat16`, A and B are rounded to bf16 into packed scratch buffers and the product
/// accumulates in fp32; otherwise the fp32 operands are read in place, strides and all. C is
/// fp32 with its row stride. A primitive is made once per shape (strides, transposes, alpha,
/// beta) and kept; its memory objects are pointed at the operands on every call.
final class OneDNNMatmul: @unchecked Sendable {
    private struct Shape: Hashable {
        let transposeA: Bool, transposeB: Bool
        let m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int
        let alpha: Float, beta: Float
    }
    let roundsToBFloat16: Bool
    /// Where the time spent rounding operands to bf16 goes, when profiled (`ProfiledCPUBackend`).
    var packingProfile: OperationProfile?

    private struct Primitive {
        let primitive: dnnl_primitive_t
        let a: dnnl_memory_t, b: dnnl_memory_t, c: dnnl_memory_t
    }

    private var engine: dnnl_engine_t?
    private var stream: dnnl_stream_t?
    private var primitives: [Shape: Primitive] = [:]
    private var scratchA = UnsafeMutablePointer<UInt16>.allocate(capacity: 1), scratchACapacity = 1
    private var scratchB = UnsafeMutablePointer<UInt16>.allocate(capacity: 1), scratchBCapacity = 1
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(roundsToBFloat16: Bool) {
        self.roundsToBFloat16 = roundsToBFloat16
        pthread_mutex_init(lock, nil)
        Self.check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        Self.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
    }

    deinit {
        for entry in primitives.values {
            dnnl_primitive_destroy(entry.primitive)
            for memory in [entry.a, entry.b, entry.c] { dnnl_memory_destroy(memory) }
        }
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
        scratchA.deallocate()
        scratchB.deallocate()
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// A oneDNN failure is a broken installation or a bug, never bad input: it stops the process.
    private static func check(_ status: dnnl_status_t, _ what: String) {
        precondition(status == dnnl_success, "oneDNN: \(what) failed (status \(status.rawValue))")
    }

    /// `C = alpha op(A) op(B) + beta C` (A and B rounded to bf16 with `roundsToBFloat16`).
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let aRows = transposeA ? k : m, aColumns = transposeA ? m : k
        let bRows = transposeB ? n : k, bColumns = transposeB ? k : n
        var operandA = UnsafeMutableRawPointer(mutating: a), operandB = UnsafeMutableRawPointer(mutating: b)
        var strideA = lda, strideB = ldb
        if roundsToBFloat16 {
            // Pack each operand as stored (rows x columns, row-major) into bf16.
            if aRows * aColumns > scratchACapacity { grow(&scratchA, &scratchACapacity, to: aRows * aColumns) }
            if bRows * bColumns > scratchBCapacity { grow(&scratchB, &scratchBCapacity, to: bRows * bColumns) }
            let start = packingProfile.map { _ in OperationProfile.now() }
            Self.roundToBFloat16(a, rows: aRows, columns: aColumns, stride: lda, into: scratchA)
            Self.roundToBFloat16(b, rows: bRows, columns: bColumns, stride: ldb, into: scratchB)
            if let start { packingProfile?.add("bf16 packing (within gemm)", seconds: OperationProfile.now() - start) }
            (operandA, operandB, strideA, strideB) = (UnsafeMutableRawPointer(scratchA), UnsafeMutableRawPointer(scratchB), aColumns, bColumns)
        }
        run(Shape(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: strideA, ldb: strideB, ldc: ldc,
                  alpha: alpha, beta: beta), a: operandA, b: operandB, c: c)
    }

    /// `C = alpha op(A) op(B) + beta C` over operands rounded to bf16 already, with their row
    /// strides (a backend made with `roundsToBFloat16`).
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              roundedA a: UnsafePointer<UInt16>, lda: Int, roundedB b: UnsafePointer<UInt16>, ldb: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(roundsToBFloat16, "OneDNNMatmul: bf16 operands given to an fp32 matmul")
        guard m > 0 && n > 0 else { return }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        var operandA = UnsafeMutableRawPointer(mutating: a), strideA = lda
        let aRows = transposeA ? k : m, aColumns = transposeA ? m : k
        if lda != aColumns {
            // A strided view of A (a block of a transposed A's columns) is made dense first: oneDNN
            // sums a strided transposed A in another order than a dense one, and the whole's is dense.
            if aRows * aColumns > scratchACapacity { grow(&scratchA, &scratchACapacity, to: aRows * aColumns) }
            for row in 0..<aRows { (scratchA + row * aColumns).update(from: a + row * lda, count: aColumns) }
            (operandA, strideA) = (UnsafeMutableRawPointer(scratchA), aColumns)
        }
        run(Shape(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: strideA, ldb: ldb, ldc: ldc, alpha: alpha, beta: beta),
            a: operandA, b: UnsafeMutableRawPointer(mutating: b), c: c)
    }

    /// Runs the matmul of `shape` (made once) on these operands, on this thread alone; the
    /// caller holds the lock.
    private func run(_ shape: Shape, a operandA: UnsafeMutableRawPointer, b operandB: UnsafeMutableRawPointer,
                     c: UnsafeMutablePointer<Float>) {
        Self.useOneThread()
        let entry = primitives[shape] ?? makePrimitive(shape)
        primitives[shape] = entry
        Self.check(dnnl_memory_set_data_handle(entry.a, operandA), "setting A")
        Self.check(dnnl_memory_set_data_handle(entry.b, operandB), "setting B")
        Self.check(dnnl_memory_set_data_handle(entry.c, c), "setting C")
        var arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: entry.a), dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: entry.b),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: entry.c)]
        Self.check(dnnl_primitive_execute(entry.primitive, stream, 3, &arguments), "running a matmul")
        Self.check(dnnl_stream_wait(stream), "waiting for a matmul")
    }

    private func grow(_ buffer: inout UnsafeMutablePointer<UInt16>, _ capacity: inout Int, to count: Int) {
        buffer.deallocate()
        capacity = max(count, 2 * capacity)
        buffer = .allocate(capacity: capacity)
    }

    /// The matmul of one shape: A (m x k) and B (k x n) bf16 or fp32 with their row strides as
    /// stored (a transposed operand is a column-major view), C (m x n) fp32 with row stride ldc;
    /// alpha as an output scale, beta as a sum post-op.
    private func makePrimitive(_ shape: Shape) -> Primitive {
        func descriptor(rows: Int, columns: Int, strides: (Int, Int), type: dnnl_data_type_t) -> dnnl_memory_desc_t {
            var desc = dnnl_memory_desc_t()
            var dims: (Int64, Int64) = (Int64(rows), Int64(columns))
            var steps: (Int64, Int64) = (Int64(strides.0), Int64(strides.1))
            withUnsafeMutablePointer(to: &dims) { dims in
                withUnsafeMutablePointer(to: &steps) { steps in
                    Self.check(dnnl_memory_desc_init_by_strides(&desc, 2, UnsafeMutableRawPointer(dims).assumingMemoryBound(to: Int64.self),
                                                                type, UnsafeMutableRawPointer(steps).assumingMemoryBound(to: Int64.self)),
                               "describing a \(rows) x \(columns) operand")
                }
            }
            return desc
        }
        let m = shape.m, n = shape.n, k = shape.k
        let operandType = roundsToBFloat16 ? dnnl_bf16 : dnnl_f32
        var a = descriptor(rows: m, columns: k, strides: shape.transposeA ? (1, shape.lda) : (shape.lda, 1), type: operandType)
        var b = descriptor(rows: k, columns: n, strides: shape.transposeB ? (1, shape.ldb) : (shape.ldb, 1), type: operandType)
        var c = descriptor(rows: m, columns: n, strides: (shape.ldc, 1), type: dnnl_f32)
        var operation = dnnl_matmul_desc_t()
        Self.check(dnnl_matmul_desc_init(&operation, &a, &b, nil, &c), "describing a \(m) x \(n) x \(k) matmul")
        var attributes: dnnl_primitive_attr_t?
        Self.check(dnnl_primitive_attr_create(&attributes), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if shape.alpha != 1 {
            var alpha = shape.alpha
            Self.check(dnnl_primitive_attr_set_output_scales(attributes, 1, 0, &alpha), "setting alpha")
        }
        if shape.beta != 0 {
            var postOps: dnnl_post_ops_t?
            Self.check(dnnl_post_ops_create(&postOps), "creating post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            Self.check(dnnl_post_ops_append_sum(postOps, shape.beta), "adding beta C")
            Self.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "setting post-ops")
        }
        var description: dnnl_primitive_desc_t?
        Self.check(dnnl_primitive_desc_create(&description, &operation, attributes, engine, nil), "planning a \(m) x \(n) x \(k) matmul")
        defer { dnnl_primitive_desc_destroy(description) }
        var primitive: dnnl_primitive_t?
        Self.check(dnnl_primitive_create(&primitive, description), "creating a matmul")
        var memories: [dnnl_memory_t?] = [nil, nil, nil]
        for (index, var desc) in [a, b, c].enumerated() {
            Self.check(dnnl_memory_create(&memories[index], &desc, engine, nil), "creating a memory object")
        }
        return Primitive(primitive: primitive!, a: memories[0]!, b: memories[1]!, c: memories[2]!)
    }

    /// fp32 -> bf16 by round to nearest even, `rows` x `columns` from a row stride of `stride`
    /// into a packed buffer.
    static func roundToBFloat16(_ source: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int,
                                into destination: UnsafeMutablePointer<UInt16>) {
        for r in 0..<rows {
            let row = UnsafeRawPointer(source + r &* stride).assumingMemoryBound(to: UInt32.self)
            let out = destination + r &* columns
            for c in 0..<columns { out[c] = HalfKernels.bfloat16(row[c]) }
        }
    }

    /// oneDNN's implementation of a small bf16 matmul on this CPU when it runs natively in bf16
    /// (AVX512-BF16 or AMX), nil otherwise (emulated or unavailable).
    static let nativeBFloat16Implementation: String? = {
        var engine: dnnl_engine_t?
        guard dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success else { return nil }
        defer { dnnl_engine_destroy(engine) }
        var descriptors = [dnnl_memory_desc_t](repeating: dnnl_memory_desc_t(), count: 3)
        var dims: (Int64, Int64) = (64, 64)
        for (index, type) in [dnnl_bf16, dnnl_bf16, dnnl_f32].enumerated() {
            let status = withUnsafeMutablePointer(to: &dims) {
                dnnl_memory_desc_init_by_tag(&descriptors[index], 2, UnsafeMutableRawPointer($0).assumingMemoryBound(to: Int64.self),
                                             type, dnnl_ab)
            }
            guard status == dnnl_success else { return nil }
        }
        var operation = dnnl_matmul_desc_t()
        guard dnnl_matmul_desc_init(&operation, &descriptors[0], &descriptors[1], nil, &descriptors[2]) == dnnl_success else { return nil }
        var description: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&description, &operation, nil, engine, nil) == dnnl_success else { return nil }
        defer { dnnl_primitive_desc_destroy(description) }
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(description, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return nil }
        let implementation = String(cString: name)
        return implementation.contains("bf16") || implementation.contains("amx") ? implementation : nil
    }()

    /// Keeps oneDNN on the calling thread: one OpenMP thread (libgomp, loaded with libdnnl). The
    /// setting is the calling thread's own, so every product sets it on the thread running it;
    /// the rank's threads run the blocks of a product (`ProductBlock`).
    private static func useOneThread() { setOpenMPThreads?(1) }

    private typealias SetThreads = @convention(c) (Int32) -> Void
    private static let setOpenMPThreads: SetThreads? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads")
        .map { unsafeBitCast($0, to: SetThreads.self) }
}
