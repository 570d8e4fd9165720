// Element-wise, dense-layer, loss and dense-optimizer kernels of the CUDA backend: one entry
// point per ComputeBackend operation (see Sources/Compute/Backend/ComputeBackend.swift).
// Row-major shapes; counts are 64-bit; every kernel walks its range with a grid-stride loop, so
// any launch size covers it. Compiled at start by NVRTC for the device found.

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

extern "C" __global__ void fill_f32(float* x, float value, long n) {
    GRID_STRIDE(i, n) x[i] = value;
}

extern "C" __global__ void fill_i32(int* x, int value, long n) {
    GRID_STRIDE(i, n) x[i] = value;
}

// destination[r * destinationStride + c] = source[r * sourceStride + c]; a source stride of 0
// repeats one row.
extern "C" __global__ void copy_rows(const float* source, long sourceStride, float* destination, long destinationStride,
                                     long rows, long columns) {
    GRID_STRIDE(i, rows * columns) {
        long r = i / columns, c = i % columns;
        destination[r * destinationStride + c] = source[r * sourceStride + c];
    }
}

// y += x
extern "C" __global__ void add_f32(const float* x, float* y, long n) {
    GRID_STRIDE(i, n) y[i] += x[i];
}

// output = a * b
extern "C" __global__ void multiply_f32(const float* a, const float* b, float* output, long n) {
    GRID_STRIDE(i, n) output[i] = a[i] * b[i];
}

// output = a * b + c (output may be c)
extern "C" __global__ void multiply_add_f32(const float* a, const float* b, const float* c, float* output, long n) {
    GRID_STRIDE(i, n) output[i] = __fadd_rn(__fmul_rn(a[i], b[i]), c[i]);
}

// *flag = 1 when any element is infinite or NaN (flag zeroed by the caller).
extern "C" __global__ void flag_non_finite(const float* x, long n, int* flag) {
    GRID_STRIDE(i, n) {
        if (!isfinite(x[i])) atomicExch(flag, 1);
    }
}

// y[r, c] = act(y[r, c] + bias[c]), act ReLU when relu != 0.
extern "C" __global__ void add_bias(float* y, const float* bias, long rows, long columns, int relu) {
    GRID_STRIDE(i, rows * columns) {
        float value = y[i] + bias[i % columns];
        y[i] = relu ? fmaxf(value, 0.0f) : value;
    }
}

// gradient[i] = 0 where output[i] <= 0.
extern "C" __global__ void relu_backward(float* gradient, const float* output, long n) {
    GRID_STRIDE(i, n) {
        if (!(output[i] > 0.0f)) gradient[i] = 0.0f;
    }
}

// sums[c] += sum over r of x[r, c]: one thread per column, rows in order (deterministic).
extern "C" __global__ void column_sums(const float* x, long rows, long columns, float* sums) {
    GRID_STRIDE(c, columns) {
        float total = 0.0f;
        for (long r = 0; r < rows; r++) total += x[r * columns + c];
        sums[c] += total;
    }
}

// Softmax of each row of x (rows, columns) in place, the row's maximum subtracted first: one
// thread per row (a gate mixes a handful of experts).
extern "C" __global__ void softmax_rows(float* x, long rows, int columns) {
    GRID_STRIDE(r, rows) {
        float* row = x + r * columns;
        float largest = row[0], total = 0.0f;
        for (int c = 1; c < columns; c++) largest = fmaxf(largest, row[c]);
        for (int c = 0; c < columns; c++) {
            row[c] = expf(row[c] - largest);
            total += row[c];
        }
        for (int c = 0; c < columns; c++) row[c] /= total;
    }
}

// g[r, c] = p[r, c] * (g[r, c] - sum over c' of p[r, c'] g[r, c']), in place: one thread per row.
extern "C" __global__ void softmax_rows_backward(const float* p, float* g, long rows, int columns) {
    GRID_STRIDE(r, rows) {
        const float* pr = p + r * columns;
        float* gr = g + r * columns;
        float dot = 0.0f;
        for (int c = 0; c < columns; c++) dot += pr[c] * gr[c];
        for (int c = 0; c < columns; c++) gr[c] = pr[c] * (gr[c] - dot);
    }
}

// y[r, c] += scales[r * scaleStride] * x[r, c]: an expert's output added with its gate weight.
extern "C" __global__ void add_scaled_rows(const float* x, const float* scales, long scaleStride, float* y, long rows,
                                           long columns) {
    GRID_STRIDE(i, rows * columns) y[i] += scales[(i / columns) * scaleStride] * x[i];
}

// dots[r * dotStride] = sum over c of a[r, c] b[r, c]: one warp per row, lanes over the columns.
extern "C" __global__ void row_dots(const float* a, const float* b, long rows, long columns, float* dots, long dotStride) {
    long warp = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32, warps = ((long)gridDim.x * blockDim.x) / 32;
    int lane = threadIdx.x % 32;
    for (long r = warp; r < rows; r += warps) {
        float total = 0.0f;
        for (long c = lane; c < columns; c += 32) total += a[r * columns + c] * b[r * columns + c];
        for (int offset = 16; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffff, total, offset);
        if (lane == 0) dots[r * dotStride] = total;
    }
}

// y[r] = x[r] / max(|x[r]|, 1e-12), the norm in norms[r]: one warp per row, lanes over the columns.
extern "C" __global__ void normalize_rows(const float* x, float* y, float* norms, long rows, long columns) {
    long warp = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32, warps = ((long)gridDim.x * blockDim.x) / 32;
    int lane = threadIdx.x % 32;
    for (long r = warp; r < rows; r += warps) {
        float total = 0.0f;
        for (long c = lane; c < columns; c += 32) total += x[r * columns + c] * x[r * columns + c];
        for (int offset = 16; offset > 0; offset /= 2) total += __shfl_xor_sync(0xffffffff, total, offset);
        float norm = fmaxf(sqrtf(total), 1e-12f);
        for (long c = lane; c < columns; c += 32) y[r * columns + c] = x[r * columns + c] / norm;
        if (lane == 0) norms[r] = norm;
    }
}

// dx[r] = (dy[r] - y[r] (y[r] . dy[r])) / norms[r]: one warp per row.
extern "C" __global__ void normalize_rows_backward(const float* y, const float* norms, const float* dy, float* dx, long rows,
                                                   long columns) {
    long warp = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32, warps = ((long)gridDim.x * blockDim.x) / 32;
    int lane = threadIdx.x % 32;
    for (long r = warp; r < rows; r += warps) {
        float along = 0.0f;
        for (long c = lane; c < columns; c += 32) along += y[r * columns + c] * dy[r * columns + c];
        for (int offset = 16; offset > 0; offset /= 2) along += __shfl_xor_sync(0xffffffff, along, offset);
        for (long c = lane; c < columns; c += 32) dx[r * columns + c] = (dy[r * columns + c] - y[r * columns + c] * along) / norms[r];
    }
}

// Row r's softmax cross-entropy against column firstTarget + r, logits lowered by corrections,
// accidental hits (another column with the target's key) left out; the row becomes
// scale * (softmax - onehot) and the row's loss is added to *loss. One block of 256 threads per row.
extern "C" __global__ void sampled_softmax_cross_entropy(float* logits, long rows, long columns, const float* corrections,
                                                         const int* keys, long firstTarget, float scale, double* loss) {
    __shared__ float reduce[256];
    const float negativeInfinity = __int_as_float(0xff800000);  // NVRTC has no math.h
    for (long r = blockIdx.x; r < rows; r += gridDim.x) {
        float* row = logits + r * columns;
        long target = firstTarget + r;
        int targetKey = keys[target];
        float largest = negativeInfinity;
        for (long c = threadIdx.x; c < columns; c += blockDim.x) {
            float z = row[c] - corrections[c];
            if (keys[c] == targetKey && c != target) z = negativeInfinity;
            row[c] = z;
            largest = fmaxf(largest, z);
        }
        reduce[threadIdx.x] = largest;
        __syncthreads();
        for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
            if (threadIdx.x < width) reduce[threadIdx.x] = fmaxf(reduce[threadIdx.x], reduce[threadIdx.x + width]);
            __syncthreads();
        }
        largest = reduce[0];
        float targetLogit = row[target];
        __syncthreads();
        float sum = 0.0f;
        for (long c = threadIdx.x; c < columns; c += blockDim.x) {
            row[c] = expf(row[c] - largest);
            sum += row[c];
        }
        reduce[threadIdx.x] = sum;
        __syncthreads();
        for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
            if (threadIdx.x < width) reduce[threadIdx.x] += reduce[threadIdx.x + width];
            __syncthreads();
        }
        sum = reduce[0];
        for (long c = threadIdx.x; c < columns; c += blockDim.x) row[c] = row[c] * (scale / sum) - (c == target ? scale : 0.0f);
        if (threadIdx.x == 0) atomicAdd(loss, (double)(logf(sum) + largest - targetLogit));
        __syncthreads();
    }
}

// Binary cross-entropy on logits: adds the summed loss to *loss (a double, zeroed by the
// caller) and, when gradient is not null, writes scale * (sigmoid(x) - y).
// Adds the block's threads' `total`s to *sum: a tree in shared memory (blocks of at most 256
// threads, a power of two), then one atomic add per block.
__device__ void add_block_total(double total, double* sum) {
    __shared__ double partial[256];
    partial[threadIdx.x] = total;
    __syncthreads();
    for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
        if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(sum, partial[0]);
}

extern "C" __global__ void binary_cross_entropy(const float* logits, const float* labels, float* gradient, long n, float scale,
                                                double* loss) {
    double total = 0.0;
    GRID_STRIDE(i, n) {
        float x = logits[i], y = labels[i];
        total += (double)(fmaxf(x, 0.0f) - x * y + log1pf(expf(-fabsf(x))));
        if (gradient) {
            float sigmoid = x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
            gradient[i] = (sigmoid - y) * scale;
        }
    }
    add_block_total(total, loss);
}

// Squared error: adds the summed (p - y)^2 to *loss (a double, zeroed by the caller) and, when
// gradient is not null, writes scale * 2 (p - y).
extern "C" __global__ void squared_error(const float* predictions, const float* labels, float* gradient, long n, float scale,
                                         double* loss) {
    double total = 0.0;
    GRID_STRIDE(i, n) {
        float difference = predictions[i] - labels[i];
        total += (double)(difference * difference);
        if (gradient) gradient[i] = 2.0f * difference * scale;
    }
    add_block_total(total, loss);
}

// p -= learningRate * g
extern "C" __global__ void sgd_step(float* p, const float* g, float learningRate, long n) {
    GRID_STRIDE(i, n) p[i] -= learningRate * g[i];
}

// s += g^2; p -= learningRate * g / (sqrt(s) + epsilon)
extern "C" __global__ void adagrad_step(float* p, const float* g, float* s, float learningRate, float epsilon, long n) {
    GRID_STRIDE(i, n) {
        s[i] += g[i] * g[i];
        p[i] -= learningRate * g[i] / (sqrtf(s[i]) + epsilon);
    }
}

// Adam with the bias corrections folded into stepSize and secondCorrection (AdamStep).
extern "C" __global__ void adam_step(float* p, const float* g, float* m, float* v, float stepSize, float secondCorrection,
                                     float beta1, float beta2, float epsilon, long n) {
    GRID_STRIDE(i, n) {
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        p[i] -= stepSize * m[i] / (sqrtf(v[i]) * secondCorrection + epsilon);
    }
}

// DeepFM's term: output[b] += 0.5 * sum_k((sum_f v_fk)^2 - sum_f v_fk^2), one thread per row.
extern "C" __global__ void factorization_machine(const float* input, long rowStride, int fields, int dimension, long rows,
                                                 float* output) {
    GRID_STRIDE(b, rows) {
        const float* v = input + b * rowStride;
        float total = 0.0f;
        for (int k = 0; k < dimension; k++) {
            float sum = 0.0f, squares = 0.0f;
            for (int f = 0; f < fields; f++) {
                float value = v[f * dimension + k];
                sum += value;
                squares += value * value;
            }
            total += sum * sum - squares;
        }
        output[b] += 0.5f * total;
    }
}

// Its backward: inputGradient[b, f, k] += outputGradient[b] * (sum_g v_gk - v_fk), one thread per (b, k).
extern "C" __global__ void factorization_machine_backward(const float* input, long rowStride, int fields, int dimension,
                                                          long rows, const float* outputGradient, float* inputGradient) {
    GRID_STRIDE(i, rows * dimension) {
        long b = i / dimension;
        int k = (int)(i % dimension);
        const float* v = input + b * rowStride;
        float* dv = inputGradient + b * rowStride;
        float sum = 0.0f;
        for (int f = 0; f < fields; f++) sum += v[f * dimension + k];
        float g = outputGradient[b];
        for (int f = 0; f < fields; f++) dv[f * dimension + k] += g * (sum - v[f * dimension + k]);
    }
}

// fp32 -> bf16 bit patterns, rounded to nearest even (rows and gradients in transit).
extern "C" __global__ void pack_bf16(const float* x, unsigned short* y, long n) {
    GRID_STRIDE(i, n) {
        unsigned int bits = __float_as_uint(x[i]);
        y[i] = (unsigned short)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }
}

extern "C" __global__ void unpack_bf16(const unsigned short* x, float* y, long n) {
    GRID_STRIDE(i, n) y[i] = __uint_as_float(((unsigned int)x[i]) << 16);
}

// fp32 <-> IEEE fp16 bit patterns by the PTX conversions (round to nearest even); the emulated
// device (Sources/CUDAEmulator) supplies the same conversions for the host.
__device__ unsigned short fp16_bits(float x) {
#ifdef RECSYS_EMULATED_DEVICE
    return recsys_emulator::fp16_bits(x);
#else
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
    return h;
#endif
}

__device__ float fp16_value(unsigned short h) {
#ifdef RECSYS_EMULATED_DEVICE
    return recsys_emulator::fp16_value(h);
#else
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#endif
}

extern "C" __global__ void pack_fp16(const float* x, unsigned short* y, long n) {
    GRID_STRIDE(i, n) y[i] = fp16_bits(x[i]);
}

extern "C" __global__ void unpack_fp16(const unsigned short* x, float* y, long n) {
    GRID_STRIDE(i, n) y[i] = fp16_value(x[i]);
}
