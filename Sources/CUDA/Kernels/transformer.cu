// A transformer encoder's non-GEMM kernels on the device: layer normalisation and multi-head
// self-attention with a padding mask (the projections around them are cuBLAS GEMMs). Shapes as
// the CPU backend's: rows of `width`; Q, K, V and the output (sequences * length, heads * dh);
// sequence s attends to its last lengths[s] positions (clamped to 1 ... length).

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

__device__ float warp_sum(float value) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

// One warp per row (launch with blockDim.x a multiple of 32): the row's mean and biased variance
// by warp reductions; keeps the mean and 1/sqrt(var + epsilon) for backward.
extern "C" __global__ void layer_norm(const float* input, const float* gamma, const float* beta, float* output,
                                      float* means, float* inverseDeviations, long rows, int width, float epsilon) {
    long warps = ((long)gridDim.x * blockDim.x) / 32;
    int lane = threadIdx.x % 32;
    for (long r = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
        const float* x = input + r * width;
        float sum = 0.0f;
        for (int c = lane; c < width; c += 32) sum += x[c];
        float mean = warp_sum(sum) / width;
        float squares = 0.0f;
        for (int c = lane; c < width; c += 32) { float d = x[c] - mean; squares += d * d; }
        float inverse = rsqrtf(warp_sum(squares) / width + epsilon);
        for (int c = lane; c < width; c += 32) output[r * width + c] = gamma[c] * (x[c] - mean) * inverse + beta[c];
        if (lane == 0) { means[r] = mean; inverseDeviations[r] = inverse; }
    }
}

// dx = inv (g - mean(g) - x̂ mean(g x̂)) with g = gamma * dy, one warp per row (overwritten).
extern "C" __global__ void layer_norm_backward(const float* input, const float* gamma, const float* means,
                                               const float* inverseDeviations, const float* outputGradient,
                                               float* inputGradient, long rows, int width) {
    long warps = ((long)gridDim.x * blockDim.x) / 32;
    int lane = threadIdx.x % 32;
    for (long r = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
        const float* x = input + r * width;
        const float* dy = outputGradient + r * width;
        float mean = means[r], inverse = inverseDeviations[r];
        float gradientSum = 0.0f, projection = 0.0f;
        for (int c = lane; c < width; c += 32) {
            float g = gamma[c] * dy[c];
            gradientSum += g;
            projection += g * (x[c] - mean) * inverse;
        }
        float gradientMean = warp_sum(gradientSum) / width, projectionMean = warp_sum(projection) / width;
        for (int c = lane; c < width; c += 32) {
            float normalized = (x[c] - mean) * inverse;
            inputGradient[r * width + c] = inverse * (gamma[c] * dy[c] - gradientMean - normalized * projectionMean);
        }
    }
}

// dgamma += sum over rows of dy x̂, dbeta += sum over rows of dy: one thread per column, rows in
// order (deterministic, as the column sums of a bias gradient).
extern "C" __global__ void layer_norm_parameter_gradients(const float* input, const float* means, const float* inverseDeviations,
                                                          const float* outputGradient, float* gammaGradient, float* betaGradient,
                                                          long rows, int width) {
    GRID_STRIDE(c, width) {
        float gammaTotal = 0.0f, betaTotal = 0.0f;
        for (long r = 0; r < rows; r++) {
            float dy = outputGradient[r * width + c];
            gammaTotal += dy * (input[r * width + c] - means[r]) * inverseDeviations[r];
            betaTotal += dy;
        }
        gammaGradient[c] += gammaTotal;
        betaGradient[c] += betaTotal;
    }
}

__device__ int first_valid_position(const int* lengths, long s, int length) {
    int valid = lengths[s];
    valid = valid < 1 ? 1 : (valid > length ? length : valid);
    return length - valid;
}

// One thread per (sequence, head, query): scores over the valid keys, softmax, weighted values.
// probabilities is (sequences, heads, length, length), 0 at masked keys.
extern "C" __global__ void attention(const float* queries, const float* keys, const float* values, const int* lengths,
                                     float* probabilities, float* output, long sequences, int length, int heads, int headDimension) {
    int width = heads * headDimension;
    float scale = rsqrtf((float)headDimension);
    GRID_STRIDE(e, sequences * heads * length) {
        long s = e / ((long)heads * length);
        int h = (int)((e / length) % heads), i = (int)(e % length);
        int first = first_valid_position(lengths, s, length);
        long base = s * length * width + (long)h * headDimension;
        const float* q = queries + base + (long)i * width;
        float* p = probabilities + e * length;
        float largest = -__int_as_float(0x7f800000);  // -infinity
        for (int j = 0; j < first; j++) p[j] = 0.0f;
        for (int j = first; j < length; j++) {
            const float* k = keys + base + (long)j * width;
            float dot = 0.0f;
            for (int c = 0; c < headDimension; c++) dot += q[c] * k[c];
            p[j] = dot * scale;
            largest = fmaxf(largest, p[j]);
        }
        float total = 0.0f;
        for (int j = first; j < length; j++) { p[j] = __expf(p[j] - largest); total += p[j]; }
        float* o = output + base + (long)i * width;
        for (int c = 0; c < headDimension; c++) o[c] = 0.0f;
        for (int j = first; j < length; j++) {
            p[j] /= total;
            const float* v = values + base + (long)j * width;
            for (int c = 0; c < headDimension; c++) o[c] += p[j] * v[c];
        }
    }
}

// Backward of attention, one thread per (sequence, head, query): dQ_i is the thread's own;
// dK_j and dV_j gather every query's share by atomicAdd, so the caller zeroes the three
// gradients (cuMemsetD32Async) before the launch.
extern "C" __global__ void attention_backward(const float* queries, const float* keys, const float* values, const int* lengths,
                                              const float* probabilities, const float* outputGradient, float* queryGradient,
                                              float* keyGradient, float* valueGradient, long sequences, int length, int heads,
                                              int headDimension) {
    int width = heads * headDimension;
    float scale = rsqrtf((float)headDimension);
    GRID_STRIDE(e, sequences * heads * length) {
        long s = e / ((long)heads * length);
        int h = (int)((e / length) % heads), i = (int)(e % length);
        int first = first_valid_position(lengths, s, length);
        long base = s * length * width + (long)h * headDimension;
        const float* p = probabilities + e * length;
        const float* dO = outputGradient + base + (long)i * width;
        const float* q = queries + base + (long)i * width;
        float weighted = 0.0f;
        for (int j = first; j < length; j++) {
            const float* v = values + base + (long)j * width;
            float dot = 0.0f;
            for (int c = 0; c < headDimension; c++) {
                dot += dO[c] * v[c];
                atomicAdd(&valueGradient[base + (long)j * width + c], p[j] * dO[c]);
            }
            weighted += p[j] * dot;
        }
        float* dQ = queryGradient + base + (long)i * width;
        for (int j = first; j < length; j++) {
            const float* v = values + base + (long)j * width;
            const float* k = keys + base + (long)j * width;
            float dot = 0.0f;
            for (int c = 0; c < headDimension; c++) dot += dO[c] * v[c];
            float dS = p[j] * (dot - weighted) * scale;
            for (int c = 0; c < headDimension; c++) {
                dQ[c] += dS * k[c];
                atomicAdd(&keyGradient[base + (long)j * width + c], dS * q[c]);
            }
        }
    }
}
