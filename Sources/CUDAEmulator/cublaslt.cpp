// The cuBLASLt entry points the CUDA backend calls, answered by the emulated device with
// OpenBLAS: a matmul descriptor (compute type, transposes, bias and ReLU epilogues), matrix
// layouts (column-major, fp32 or bf16, with their leading dimensions) and cublasLtMatmul, whose
// every operand must lie inside one device allocation. bf16 operands are widened exactly and
// multiplied in fp32, as a GPU's tensor cores accumulate them; under TF32 fp32 operands are
// rounded to TF32 first.

#include "emulator.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

extern "C" void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float* a, int lda,
                            const float* b, int ldb, float beta, float* c, int ldc);

namespace {

using namespace recsys_emulator;

enum Status : int { success = 0, invalidValue = 7, notSupported = 15 };
enum DataType : int { float32 = 0, bfloat16 = 14 };
enum Attribute : int { computeType = 0, scaleType = 1, transposeA = 3, transposeB = 4, epilogueKind = 7, biasPointer = 8 };
enum Epilogue : uint32_t { plain = 1, relu = 2, bias = 4, reluBias = 6 };

struct MatmulDescription {
    int compute;
    bool transposeA = false, transposeB = false;
    uint32_t epilogue = plain;
    const float* bias = nullptr;
};

struct Layout {
    int type;
    uint64_t rows, columns;
    int64_t leadingDimension;
    size_t elementSize() const { return type == bfloat16 ? 2 : 4; }
    size_t bytes() const { return columns == 0 || rows == 0 ? 0 : ((columns - 1) * leadingDimension + rows) * elementSize(); }
};

/// An fp32 column-major matrix rounded to TF32 (10 mantissa bits, to nearest even), as tensor
/// cores read fp32 operands under CUBLAS_COMPUTE_32F_FAST_TF32.
std::vector<float> tensor_float32(const void* data, const Layout& layout) {
    std::vector<float> values(static_cast<const float*>(data), static_cast<const float*>(data) + layout.columns * layout.leadingDimension);
    for (float& value : values) {
        uint32_t bits;
        std::memcpy(&bits, &value, 4);
        if ((bits & 0x7F800000u) != 0x7F800000u) bits = (bits + 0xFFFu + ((bits >> 13) & 1u)) & 0xFFFFE000u;
        std::memcpy(&value, &bits, 4);
    }
    return values;
}

/// A column-major matrix as fp32 with its leading dimension (bf16 widened exactly).
std::vector<float> widened(const void* data, const Layout& layout) {
    std::vector<float> values(layout.columns * layout.leadingDimension);
    const auto* bits = static_cast<const uint16_t*>(data);
    for (uint64_t c = 0; c < layout.columns; c++)
        for (uint64_t r = 0; r < layout.rows; r++) {
            uint32_t wide = uint32_t(bits[c * layout.leadingDimension + r]) << 16;
            std::memcpy(&values[c * layout.leadingDimension + r], &wide, 4);
        }
    return values;
}

}  // namespace

extern "C" {

int cublasLtCreate(void** handle) {
    static int library;
    *handle = &library;
    return success;
}

int cublasLtDestroy(void*) { return success; }

size_t cublasLtGetVersion() { return 120900; }

int cublasLtMatmulDescCreate(void** description, int compute, int) {
    if (compute != 68 && compute != 77) return notSupported;  // CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32
    *description = new MatmulDescription{compute};
    return success;
}

int cublasLtMatmulDescDestroy(void* description) {
    delete static_cast<MatmulDescription*>(description);
    return success;
}

int cublasLtMatmulDescSetAttribute(void* description, int attribute, const void* value, size_t bytes) {
    auto* d = static_cast<MatmulDescription*>(description);
    switch (attribute) {
    case transposeA: case transposeB: {
        if (bytes != 4) return invalidValue;
        int32_t operation;
        std::memcpy(&operation, value, 4);
        (attribute == transposeA ? d->transposeA : d->transposeB) = operation == 1;
        return success;
    }
    case epilogueKind:
        if (bytes != 4) return invalidValue;
        std::memcpy(&d->epilogue, value, 4);
        return d->epilogue == plain || d->epilogue == relu || d->epilogue == bias || d->epilogue == reluBias ? success : notSupported;
    case biasPointer:
        if (bytes != 8) return invalidValue;
        std::memcpy(&d->bias, value, 8);
        return success;
    case scaleType:
        return success;
    default:
        return notSupported;
    }
}

int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t columns, int64_t leadingDimension) {
    if (type != float32 && type != bfloat16) return notSupported;
    if (leadingDimension < static_cast<int64_t>(rows) || leadingDimension < 1) return invalidValue;
    *layout = new Layout{type, rows, columns, leadingDimension};
    return success;
}

int cublasLtMatrixLayoutDestroy(void* layout) {
    delete static_cast<Layout*>(layout);
    return success;
}

/// D = epilogue(alpha op(A) op(B) + beta C (+ bias per row of D)); C and D the same matrix.
int cublasLtMatmul(void*, void* description, const void* alpha, const void* a, void* aLayout, const void* b, void* bLayout,
                   const void* beta, const void* c, void* cLayout, void* d, void* dLayout, const void* algorithm, void*, size_t,
                   void*) {
    const auto& desc = *static_cast<MatmulDescription*>(description);
    const auto &la = *static_cast<Layout*>(aLayout), &lb = *static_cast<Layout*>(bLayout);
    const auto &lc = *static_cast<Layout*>(cLayout), &ld = *static_cast<Layout*>(dLayout);
    if (algorithm != nullptr || c != d || lc.rows != ld.rows || lc.columns != ld.columns || lc.type != float32 || ld.type != float32
        || la.type != lb.type)
        return notSupported;
    uint64_t m = desc.transposeA ? la.columns : la.rows, k = desc.transposeA ? la.rows : la.columns;
    uint64_t kb = desc.transposeB ? lb.columns : lb.rows, n = desc.transposeB ? lb.rows : lb.columns;
    if (k != kb || m != ld.rows || n != ld.columns) return invalidValue;
    for (auto [pointer, layout] : {std::pair{a, la}, std::pair{b, lb}, std::pair{static_cast<const void*>(d), ld}})
        if (layout.bytes() > 0 && !contains(reinterpret_cast<uintptr_t>(pointer), layout.bytes())) return invalidValue;
    if (desc.epilogue & bias) {
        if (!desc.bias || !contains(reinterpret_cast<uintptr_t>(desc.bias), m * 4)) return invalidValue;
    }
    float alphaValue, betaValue;
    std::memcpy(&alphaValue, alpha, 4);
    std::memcpy(&betaValue, beta, 4);
    auto* output = static_cast<float*>(d);
    if (m > 0 && n > 0) {
        if (k == 0) {
            for (uint64_t j = 0; j < n; j++)
                for (uint64_t i = 0; i < m; i++) output[j * ld.leadingDimension + i] *= betaValue;
        } else if (la.type == float32 && desc.compute == 77) {
            std::vector<float> roundedA = tensor_float32(a, la), roundedB = tensor_float32(b, lb);
            cblas_sgemm(102, desc.transposeA ? 112 : 111, desc.transposeB ? 112 : 111, int(m), int(n), int(k), alphaValue, roundedA.data(),
                        int(la.leadingDimension), roundedB.data(), int(lb.leadingDimension), betaValue, output, int(ld.leadingDimension));
        } else if (la.type == float32) {
            cblas_sgemm(102, desc.transposeA ? 112 : 111, desc.transposeB ? 112 : 111, int(m), int(n), int(k), alphaValue,
                        static_cast<const float*>(a), int(la.leadingDimension), static_cast<const float*>(b), int(lb.leadingDimension),
                        betaValue, output, int(ld.leadingDimension));
        } else {
            std::vector<float> wideA = widened(a, la), wideB = widened(b, lb);
            cblas_sgemm(102, desc.transposeA ? 112 : 111, desc.transposeB ? 112 : 111, int(m), int(n), int(k), alphaValue, wideA.data(),
                        int(la.leadingDimension), wideB.data(), int(lb.leadingDimension), betaValue, output, int(ld.leadingDimension));
        }
    }
    if (desc.epilogue != plain)
        for (uint64_t j = 0; j < n; j++)
            for (uint64_t i = 0; i < m; i++) {
                float& value = output[j * ld.leadingDimension + i];
                if (desc.epilogue & bias) value += desc.bias[i];
                if ((desc.epilogue & relu) && value < 0) value = 0;
            }
    return success;
}

}  // extern "C"
