// DLRM's dot interaction on the device. Input Z is (B, F, D); output is (B, [D +] F(F-1)/2):
// slot 0 passed through when passesFirstSlot, then <z_i, z_j> for j < i ordered by i then j.

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

// One thread per output element of every sample.
extern "C" __global__ void dot_interaction(const float* z, float* output, long rows, int features, int dimension,
                                           int passesFirstSlot) {
    int pairsOffset = passesFirstSlot ? dimension : 0;
    long width = pairsOffset + (long)features * (features - 1) / 2;
    GRID_STRIDE(e, rows * width) {
        long b = e / width;
        long column = e % width;
        const float* zb = z + b * (long)features * dimension;
        if (column < pairsOffset) {
            output[e] = zb[column];
            continue;
        }
        // Pair index p = i(i-1)/2 + j with j < i: invert for i.
        long p = column - pairsOffset;
        int i = (int)((1.0 + sqrt(1.0 + 8.0 * (double)p)) / 2.0);
        while ((long)i * (i - 1) / 2 > p) i--;
        while ((long)(i + 1) * i / 2 <= p) i++;
        int j = (int)(p - (long)i * (i - 1) / 2);
        float total = 0.0f;
        for (int k = 0; k < dimension; k++) total += zb[i * dimension + k] * zb[j * dimension + k];
        output[e] = total;
    }
}

// dL/dZ (overwritten) from dL/d(output): dZ_i = sum_{j != i} G_ij Z_j (+ the pass-through for
// slot 0). One thread per (sample, feature, lane).
extern "C" __global__ void dot_interaction_backward(const float* z, const float* outputGradient, float* inputGradient,
                                                    long rows, int features, int dimension, int passesFirstSlot) {
    int pairsOffset = passesFirstSlot ? dimension : 0;
    long width = pairsOffset + (long)features * (features - 1) / 2;
    long inputWidth = (long)features * dimension;
    GRID_STRIDE(e, rows * inputWidth) {
        long b = e / inputWidth;
        int i = (int)((e % inputWidth) / dimension), k = (int)(e % dimension);
        const float* zb = z + b * inputWidth;
        const float* g = outputGradient + b * width;
        float total = (i == 0 && passesFirstSlot) ? g[k] : 0.0f;
        for (int j = 0; j < i; j++) total += g[pairsOffset + (long)i * (i - 1) / 2 + j] * zb[j * dimension + k];
        for (int j = i + 1; j < features; j++) total += g[pairsOffset + (long)j * (j - 1) / 2 + i] * zb[j * dimension + k];
        inputGradient[e] = total;
    }
}
