// Kernels of the emulated device's own tests, never part of the backend: faults planted on
// purpose to show the emulator finds them (a copy of dense.cu's binary_cross_entropy, its block
// sum inlined, with the sum's first barrier removed; a fill that writes one element past its
// range), and warp votes.

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

// Warp votes over x[i] > 0, one lane per element (n a multiple of 32, one launch covering it):
// each warp's ballot, and whether any and all of its lanes voted yes.
extern "C" __global__ void warp_votes(const float* x, long n, unsigned* ballots, int* any, int* all) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int vote = x[i] > 0.0f;
    unsigned ballot = __ballot_sync(0xffffffffu, vote);
    int some = __any_sync(0xffffffffu, vote), every = __all_sync(0xffffffffu, vote);
    if (threadIdx.x % 32 == 0) {
        ballots[i / 32] = ballot;
        any[i / 32] = some;
        all[i / 32] = every;
    }
}
