// Embedding-bag, row-exchange and sparse-optimizer kernels of the CUDA backend. A feature's bags
// are CSR: sample b owns ids[offsets[b] .. offsets[b + 1]). Tables of a sharded collection are
// passed as a device array of row-0 addresses (row r of table t at rowBases[t] + r * dimension,
// null for a table not held here) and rows named by (table, row) pairs.

#define GRID_STRIDE(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)

// output[b * outputStride + k] = sum (or mean) of the bag's rows; zero for an empty bag. One
// thread per (sample, lane): a warp reads a row's consecutive lanes.
extern "C" __global__ void embedding_bags(const float* table, int dimension, const int* ids, const int* offsets, long rows,
                                          float* output, long outputStride, int mean) {
    GRID_STRIDE(e, rows * dimension) {
        long b = e / dimension;
        int k = (int)(e % dimension);
        int start = offsets[b], end = offsets[b + 1];
        float total = 0.0f;
        for (int n = start; n < end; n++) total += table[(long)ids[n] * dimension + k];
        if (mean && end - start > 1) total /= (float)(end - start);
        output[b * outputStride + k] = total;
    }
}

// Width-1 tables: output[b] += sum of table[ids of bag b].
extern "C" __global__ void embedding_bags_add_scalars(const float* table, const int* ids, const int* offsets, long rows,
                                                      float* output) {
    GRID_STRIDE(b, rows) {
        float total = 0.0f;
        for (int n = offsets[b]; n < offsets[b + 1]; n++) total += table[ids[n]];
        output[b] += total;
    }
}

// Every id's row += scale * gradient[b] (divided by the bag size with mean pooling); atomic,
// since ids repeat. One thread per (sample, lane).
extern "C" __global__ void embedding_bags_scatter_add(const float* gradient, long gradientStride, const int* ids,
                                                      const int* offsets, long rows, float scale, int mean, float* table,
                                                      int dimension) {
    GRID_STRIDE(e, rows * dimension) {
        long b = e / dimension;
        int k = (int)(e % dimension);
        int start = offsets[b], end = offsets[b + 1];
        float g = gradient[b * gradientStride + k] * ((mean && end - start > 1) ? scale / (float)(end - start) : scale);
        for (int n = start; n < end; n++) atomicAdd(&table[(long)ids[n] * dimension + k], g);
    }
}

// The row-to-slot map of a gradient: an open-addressed hash table of (row, slot) pairs, mask + 1
// of them (a power of two), a free pair's row -1. slot_home is SparseRowGradient.slotHome.
__device__ __forceinline__ long slot_home(int row, long mask) {
    return (long)(((unsigned long long)(unsigned)row * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

// The slot of a row the map holds (claimed by claim_rows in an earlier launch).
__device__ __forceinline__ int slot_of(const int* map, long mask, int row) {
    long pair = slot_home(row, mask);
    while (map[2 * pair] != row) pair = (pair + 1) & mask;
    return map[2 * pair + 1];
}

// De-duplication, pass 1: each row not yet in the gradient takes a free pair of the map and the
// next entry; rowIDs[count .. ) receives the new rows (in no particular order) and *count grows.
// The rows are rows[i * stride] - rowOffset; with tables not null only those i with
// tables[i * stride] == table count (a table's rows among (table, row) pairs).
extern "C" __global__ void claim_rows(const int* rows, long n, long stride, const int* tables, int table, int rowOffset,
                                      int* map, long mask, int* rowIDs, int* count) {
    GRID_STRIDE(i, n) {
        if (tables && tables[i * stride] != table) continue;
        int row = rows[i * stride] - rowOffset;
        for (long pair = slot_home(row, mask);; pair = (pair + 1) & mask) {
            int held = atomicCAS(&map[2 * pair], -1, row);
            if (held == row) break;
            if (held == -1) {
                int u = atomicAdd(count, 1);
                rowIDs[u] = row;
                map[2 * pair + 1] = u;
                break;
            }
        }
    }
}

// Pass 2: the claimed entries [from, to) start at zero.
extern "C" __global__ void zero_entries(long from, long to, float* values, int dimension) {
    GRID_STRIDE(i, (to - from) * dimension) values[from * dimension + i] = 0.0f;
}

// Pass 3: each id's share of gradient[b] added to its row's entry (atomically).
extern "C" __global__ void accumulate_bag_gradients(const float* gradient, long gradientStride, const int* ids,
                                                    const int* offsets, long rows, int mean, const int* map, long mask,
                                                    float* values, int dimension) {
    GRID_STRIDE(e, rows * dimension) {
        long b = e / dimension;
        int k = (int)(e % dimension);
        int start = offsets[b], end = offsets[b + 1];
        float g = gradient[b * gradientStride + k] * ((mean && end - start > 1) ? 1.0f / (float)(end - start) : 1.0f);
        for (int n = start; n < end; n++) atomicAdd(&values[(long)slot_of(map, mask, ids[n]) * dimension + k], g);
    }
}

// values[j] added to the entry of pair j's row in table `table`'s gradient, for the pairs naming
// that table (pairs[2j] == table, row pairs[2j + 1] - rowOffset); the entries were claimed and
// zeroed by the passes above.
extern "C" __global__ void accumulate_row_gradients(const float* values, const int* pairs, long n, int table, int rowOffset,
                                                    const int* map, long mask, float* gradient, int dimension) {
    GRID_STRIDE(e, n * dimension) {
        long j = e / dimension;
        if (pairs[2 * j] != table) continue;
        int k = (int)(e % dimension);
        atomicAdd(&gradient[(long)slot_of(map, mask, pairs[2 * j + 1] - rowOffset) * dimension + k], values[e]);
    }
}

// output[j] = row pairs[2j + 1] of table pairs[2j].
extern "C" __global__ void gather_rows(float* const* rowBases, const int* pairs, long count, int dimension, float* output) {
    GRID_STRIDE(e, count * dimension) {
        long j = e / dimension;
        const float* row = rowBases[pairs[2 * j]] + (long)pairs[2 * j + 1] * dimension;
        output[e] = row[e % dimension];
    }
}

// row pairs[2j + 1] of table pairs[2j] += scale * values[j] (atomic: a row may be named twice).
extern "C" __global__ void scatter_add_rows(const float* values, const int* pairs, long count, float scale,
                                            float* const* rowBases, int dimension) {
    GRID_STRIDE(e, count * dimension) {
        long j = e / dimension;
        float* row = rowBases[pairs[2 * j]] + (long)pairs[2 * j + 1] * dimension;
        atomicAdd(&row[e % dimension], scale * values[e]);
    }
}

// Sparse SGD on the gradient's rows: one thread per (row, lane).
extern "C" __global__ void sparse_sgd(const int* rowIDs, const float* values, long count, float learningRate, float* table,
                                      int dimension) {
    GRID_STRIDE(e, count * dimension) {
        long u = e / dimension;
        table[(long)rowIDs[u] * dimension + e % dimension] -= learningRate * values[e];
    }
}

// Row-wise Adagrad: one thread per row (the mean square of its gradient, then its lanes).
extern "C" __global__ void sparse_adagrad(const int* rowIDs, const float* values, long count, float learningRate, float epsilon,
                                          float* rowSums, float* table, int dimension) {
    GRID_STRIDE(u, count) {
        const float* g = values + u * dimension;
        float squares = 0.0f;
        for (int k = 0; k < dimension; k++) squares += g[k] * g[k];
        int id = rowIDs[u];
        rowSums[id] += squares / (float)dimension;
        float multiplier = -learningRate / (sqrtf(rowSums[id]) + epsilon);
        float* w = table + (long)id * dimension;
        for (int k = 0; k < dimension; k++) w[k] += multiplier * g[k];
    }
}

// Lazy Adam: the moments of touched rows only; one thread per (row, lane).
extern "C" __global__ void sparse_adam(const int* rowIDs, const float* values, long count, float stepSize, float secondCorrection,
                                       float beta1, float beta2, float epsilon, float* first, float* second, float* table,
                                       int dimension) {
    GRID_STRIDE(e, count * dimension) {
        long u = e / dimension;
        long index = (long)rowIDs[u] * dimension + e % dimension;
        float g = values[e];
        first[index] = beta1 * first[index] + (1.0f - beta1) * g;
        second[index] = beta2 * second[index] + (1.0f - beta2) * g * g;
        table[index] -= stepSize * first[index] / (sqrtf(second[index]) * secondCorrection + epsilon);
    }
}

// Tables stored in bf16 (each value an fp32's upper 16 bits): rows widened exactly as read,
// pooled and updated in fp32, updates written back by stochastic rounding with the bits the CPU
// backend's StochasticRounding draws (a hash of the seed, the global row and the element), so a
// row rounds the same on either backend, whichever thread updates it. Products and sums are
// written __fmul_rn/__fadd_rn where the CPU multiplies then adds (no fused multiply-add), so the
// fp32 values rounded are the CPU's to the bit.

__device__ __forceinline__ float widen_bf16(unsigned short bits) { return __uint_as_float((unsigned)bits << 16); }

// SeededGenerator.mix: splitmix64's finalizer.
__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Element k of global row `row` rounded to bf16: a 16-bit random added below the kept bits,
// then truncated (up with probability of the distance to the lower neighbour); NaN stays NaN and
// infinities stay infinite.
__device__ __forceinline__ unsigned short round_stochastic(float value, unsigned long long seed, long row, int k) {
    unsigned bits = __float_as_uint(value);
    if ((bits & 0x7F800000u) == 0x7F800000u) return (unsigned short)((bits >> 16) | ((bits & 0x7FFFFFu) ? 0x40u : 0u));
    unsigned long long random = mix64(mix64(seed ^ (unsigned long long)row) + (unsigned long long)(k >> 2));
    unsigned r = (unsigned)(random >> (16 * (k & 3))) & 0xFFFFu;
    return (unsigned short)((bits + r) >> 16);
}

// embedding_bags over a bf16 table.
extern "C" __global__ void embedding_bags_bf16(const unsigned short* table, int dimension, const int* ids, const int* offsets,
                                               long rows, float* output, long outputStride, int mean) {
    GRID_STRIDE(e, rows * dimension) {
        long b = e / dimension;
        int k = (int)(e % dimension);
        int start = offsets[b], end = offsets[b + 1];
        float total = 0.0f;
        for (int n = start; n < end; n++) total += widen_bf16(table[(long)ids[n] * dimension + k]);
        if (mean && end - start > 1) total /= (float)(end - start);
        output[b * outputStride + k] = total;
    }
}

// embedding_bags_add_scalars over a bf16 table.
extern "C" __global__ void embedding_bags_add_scalars_bf16(const unsigned short* table, const int* ids, const int* offsets,
                                                           long rows, float* output) {
    GRID_STRIDE(b, rows) {
        float total = 0.0f;
        for (int n = offsets[b]; n < offsets[b + 1]; n++) total += widen_bf16(table[ids[n]]);
        output[b] += total;
    }
}

// gather_rows of bf16 tables: the stored bits (rows cross the exchange in 16 bits).
extern "C" __global__ void gather_rows_bf16(unsigned short* const* rowBases, const int* pairs, long count, int dimension,
                                            unsigned short* output) {
    GRID_STRIDE(e, count * dimension) {
        long j = e / dimension;
        const unsigned short* row = rowBases[pairs[2 * j]] + (long)pairs[2 * j + 1] * dimension;
        output[e] = row[e % dimension];
    }
}

// sparse_sgd over a bf16 table: one thread per (row, lane). Local row r is global row firstRow + r.
extern "C" __global__ void sparse_sgd_bf16(const int* rowIDs, const float* values, long count, float learningRate,
                                           unsigned short* table, int dimension, unsigned long long seed, long firstRow) {
    GRID_STRIDE(e, count * dimension) {
        long u = e / dimension;
        int k = (int)(e % dimension);
        long id = rowIDs[u];
        unsigned short* w = table + id * dimension + k;
        *w = round_stochastic(__fadd_rn(widen_bf16(*w), __fmul_rn(-learningRate, values[e])), seed, firstRow + id, k);
    }
}

// sparse_adagrad over a bf16 table, one thread per row; the row sums in fp32 (rowSums) or in bf16
// (rowSumsBF16, the other null), rounded with bits of their own (stateSeed).
extern "C" __global__ void sparse_adagrad_bf16(const int* rowIDs, const float* values, long count, float learningRate,
                                               float epsilon, float* rowSums, unsigned short* rowSumsBF16,
                                               unsigned short* table, int dimension, unsigned long long seed,
                                               unsigned long long stateSeed, long firstRow) {
    GRID_STRIDE(u, count) {
        const float* g = values + u * dimension;
        float squares = 0.0f;
        for (int k = 0; k < dimension; k++) squares = __fadd_rn(squares, __fmul_rn(g[k], g[k]));
        long id = rowIDs[u];
        float sum;
        if (rowSums) {
            rowSums[id] += squares / (float)dimension;
            sum = rowSums[id];
        } else {
            sum = widen_bf16(rowSumsBF16[id]) + squares / (float)dimension;
            rowSumsBF16[id] = round_stochastic(sum, stateSeed, firstRow + id, 0);
        }
        float multiplier = -learningRate / (sqrtf(sum) + epsilon);
        unsigned short* w = table + id * dimension;
        for (int k = 0; k < dimension; k++) {
            w[k] = round_stochastic(__fadd_rn(widen_bf16(w[k]), __fmul_rn(multiplier, g[k])), seed, firstRow + id, k);
        }
    }
}

// sparse_adam over a bf16 table, one thread per (row, lane); each moment in fp32 (first, second)
// or in bf16 (firstBF16, secondBF16), rounded with bits of its own.
extern "C" __global__ void sparse_adam_bf16(const int* rowIDs, const float* values, long count, float stepSize,
                                            float secondCorrection, float beta1, float beta2, float epsilon, float* first,
                                            float* second, unsigned short* firstBF16, unsigned short* secondBF16,
                                            unsigned short* table, int dimension, unsigned long long seed,
                                            unsigned long long firstSeed, unsigned long long secondSeed, long firstRow) {
    GRID_STRIDE(e, count * dimension) {
        long u = e / dimension;
        int k = (int)(e % dimension);
        long id = rowIDs[u];
        long index = id * dimension + k;
        float g = values[e];
        float m = __fadd_rn(__fmul_rn(beta1, first ? first[index] : widen_bf16(firstBF16[index])), __fmul_rn(1.0f - beta1, g));
        float v = __fadd_rn(__fmul_rn(beta2, second ? second[index] : widen_bf16(secondBF16[index])),
                            __fmul_rn(__fmul_rn(1.0f - beta2, g), g));
        float w = widen_bf16(table[index]) - __fmul_rn(stepSize, m) / __fadd_rn(__fmul_rn(sqrtf(v), secondCorrection), epsilon);
        if (first) first[index] = m; else firstBF16[index] = round_stochastic(m, firstSeed, firstRow + id, k);
        if (second) second[index] = v; else secondBF16[index] = round_stochastic(v, secondSeed, firstRow + id, k);
        table[index] = round_stochastic(w, seed, firstRow + id, k);
    }
}
