import Foundation

/// cuBLASLt's matrix products (libcublasLt, opened with dlopen): row-major products of the
/// backend's operands in fp32, TF32 or bf16 with fp32 accumulation.
///
/// cuBLASLt is column-major; a row-major matrix is its transpose in column-major order, so a
/// row-major `C = op(A) op(B)` is computed as the column-major `Cᵀ = op(B)ᵀ op(A)ᵀ`: the operands
/// swapped, each with its own transpose flag and leading dimension.
public final class CUBLASLt: @unchecked Sendable {
    private typealias Status = Int32
    private typealias Create = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Status
    private typealias DescriptionCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, Int32) -> Status
    private typealias Destroy = @convention(c) (OpaquePointer?) -> Status
    private typealias SetAttribute = @convention(c) (OpaquePointer?, Int32, UnsafeRawPointer, Int) -> Status
    private typealias LayoutCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32, UInt64, UInt64, Int64) -> Status
    private typealias Matmul = @convention(c) (OpaquePointer?, OpaquePointer?, UnsafeRawPointer, UInt64, OpaquePointer?, UInt64,
                                               OpaquePointer?, UnsafeRawPointer, UInt64, OpaquePointer?, UInt64, OpaquePointer?,
                                               OpaquePointer?, UInt64, Int, OpaquePointer?) -> Status

    /// The element type of a product's operands.
    public enum OperandType: Int32, Sendable {
        case fp32 = 0   // CUDA_R_32F
        case bf16 = 14  // CUDA_R_16BF
        var byteCount: Int { self == .fp32 ? 4 : 2 }
    }

    public let library: CUDALibrary
    private let handle: OpaquePointer?
    private let tensorFloat32: Bool
    private let descriptionCreate: DescriptionCreate, descriptionDestroy: Destroy, setAttribute: SetAttribute
    private let layoutCreate: LayoutCreate, layoutDestroy: Destroy, matmul: Matmul

    /// cuBLASLt, with TF32 tensor-core products of fp32 operands when `tensorFloat32`.
    public init(tensorFloat32: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        library = try CUDALibrary.open(["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"], purpose: "cuBLASLt",
                                       emulated: true, environment: environment)
        self.tensorFloat32 = tensorFloat32
        descriptionCreate = try library.symbol("cublasLtMatmulDescCreate", as: DescriptionCreate.self)
        descriptionDestroy = try library.symbol("cublasLtMatmulDescDestroy", as: Destroy.self)
        setAttribute = try library.symbol("cublasLtMatmulDescSetAttribute", as: SetAttribute.self)
        layoutCreate = try library.symbol("cublasLtMatrixLayoutCreate", as: LayoutCreate.self)
        layoutDestroy = try library.symbol("cublasLtMatrixLayoutDestroy", as: Destroy.self)
        matmul = try library.symbol("cublasLtMatmul", as: Matmul.self)
        var handle: OpaquePointer?
        try Self.check(try library.symbol("cublasLtCreate", as: Create.self)(&handle), "cublasLtCreate")
        self.handle = handle
    }

    private static func check(_ status: Status, _ call: String) throws {
        if status != 0 { throw CUDAError.library(name: "cuBLASLt", call: call, code: status) }
    }

    /// Row-major `C = alpha op(A) op(B) + beta C`: op(A) is m x k, op(B) k x n, C m x n (fp32);
    /// `ld*` are row strides in elements. With `bias`, cuBLASLt's epilogue adds `bias[0 ..< n]` to
    /// every row of C (then ReLU with `relu`).
    public func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         a: DeviceAddress, lda: Int, b: DeviceAddress, ldb: Int, operands: OperandType,
                         beta: Float, c: DeviceAddress, ldc: Int, bias: DeviceAddress? = nil, relu: Bool = false) throws {
        // CUBLAS_COMPUTE_32F_FAST_TF32 (77) or CUBLAS_COMPUTE_32F (68); scale type CUDA_R_32F.
        let compute: Int32 = operands == .fp32 && tensorFloat32 ? 77 : 68
        var description: OpaquePointer?
        try Self.check(descriptionCreate(&description, compute, 0), "cublasLtMatmulDescCreate")
        defer { _ = descriptionDestroy(description) }
        // Column-major: D (n x m) = op(B') (n x k) op(A') (k x m), B' and A' the row-major B and A.
        var first: Int32 = transposeB ? 1 : 0, second: Int32 = transposeA ? 1 : 0
        try Self.check(setAttribute(description, 3, &first, 4), "cublasLtMatmulDescSetAttribute(TRANSA)")
        try Self.check(setAttribute(description, 4, &second, 4), "cublasLtMatmulDescSetAttribute(TRANSB)")
        if var biasAddress = bias?.value {
            // CUBLASLT_EPILOGUE_BIAS (4) or RELU_BIAS (6); the bias runs along D's rows, our columns.
            var epilogue: UInt32 = relu ? 6 : 4
            try Self.check(setAttribute(description, 7, &epilogue, 4), "cublasLtMatmulDescSetAttribute(EPILOGUE)")
            try Self.check(setAttribute(description, 8, &biasAddress, 8), "cublasLtMatmulDescSetAttribute(BIAS_POINTER)")
        }
        let firstLayout = try layout(operands, rows: transposeB ? k : n, columns: transposeB ? n : k, leading: ldb)
        defer { _ = layoutDestroy(firstLayout) }
        let secondLayout = try layout(operands, rows: transposeA ? m : k, columns: transposeA ? k : m, leading: lda)
        defer { _ = layoutDestroy(secondLayout) }
        let outputLayout = try layout(.fp32, rows: n, columns: m, leading: ldc)
        defer { _ = layoutDestroy(outputLayout) }
        var alpha = alpha, beta = beta
        try Self.check(matmul(handle, description, &alpha, b.value, firstLayout, a.value, secondLayout, &beta, c.value, outputLayout,
                              c.value, outputLayout, nil, 0, 0, nil),
                       "cublasLtMatmul(\(m) x \(n) x \(k), \(operands))")
    }

    private func layout(_ type: OperandType, rows: Int, columns: Int, leading: Int) throws -> OpaquePointer? {
        var layout: OpaquePointer?
        try Self.check(layoutCreate(&layout, type.rawValue, UInt64(rows), UInt64(columns), Int64(max(leading, 1))),
                       "cublasLtMatrixLayoutCreate(\(rows) x \(columns), ld \(leading))")
        return layout
    }
}
