// Faults planted on purpose, for the tests that show the emulated device finds them: a copy of
// dense.cu's binary_cross_entropy with its first barrier removed, and a fill that writes one
// element past its range. Never part of the backend.

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

extern "C" __global__ void binary_cross_entropy_missing_barrier(const float* logits, const float* labels, float* gradient, long n,
                                                                float scale, double* loss) {
    __shared__ double partial[256];
    double total = 0.0;
    GRID_STRIDE(i, n) {
        float x = logits[i], y = labels[i];
        total += (double)(fmaxf(x, 0.0f) - x * y + log1pf(expf(-fabsf(x))));
        if (gradient) {
            float sigmoid = x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
            gradient[i] = (sigmoid - y) * scale;
        }
    }
    partial[threadIdx.x] = total;
    // The __syncthreads() that belongs here is missing: a thread may read its partner's slot
    // before the partner wrote it.
    for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
        if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(loss, partial[0]);
}

// x[0 ... n] = value: one element too many.
extern "C" __global__ void fill_f32_off_by_one(float* x, float value, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i <= n; i += (long)gridDim.x * blockDim.x) x[i] = value;
}
