// CPU hints and instructions Swift has no spelling for.
#ifndef RECSYS_CINTRINSICS_H
#define RECSYS_CINTRINSICS_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Asks for the cache line at `address` ahead of a load (an embedding row a few ids ahead).
static inline void recsys_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

// Tells the CPU this thread is spinning on a flag (x86 PAUSE, arm64 YIELD).
static inline void recsys_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// The same, for a line that will be written.
static inline void recsys_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }

// Continues a CRC-32C (Castagnoli) register over `length` bytes, without the initial and final
// inversion (the caller does those). x86-64 uses the SSE4.2 instruction (the package already
// builds for Haswell), arm64 its CRC extension; other CPUs a bitwise loop.
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static inline uint32_t recsys_crc32c_update(uint32_t crc, const void *data, size_t length) {
    const unsigned char *bytes = (const unsigned char *)data;
    uint64_t wide = crc;
    for (; length >= 8; length -= 8, bytes += 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        wide = __builtin_ia32_crc32di(wide, word);
    }
    uint32_t narrow = (uint32_t)wide;
    for (; length > 0; length--, bytes++) narrow = __builtin_ia32_crc32qi(narrow, *bytes);
    return narrow;
}
#elif defined(__aarch64__)
__attribute__((target("crc")))
static inline uint32_t recsys_crc32c_update(uint32_t crc, const void *data, size_t length) {
    const unsigned char *bytes = (const unsigned char *)data;
    for (; length >= 8; length -= 8, bytes += 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc = __builtin_arm_crc32cd(crc, word);
    }
    for (; length > 0; length--, bytes++) crc = __builtin_arm_crc32cb(crc, *bytes);
    return crc;
}
#else
static inline uint32_t recsys_crc32c_update(uint32_t crc, const void *data, size_t length) {
    const unsigned char *bytes = (const unsigned char *)data;
    for (; length > 0; length--, bytes++) {
        crc ^= *bytes;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return crc;
}
#endif


// x[i] = e^(x[i] - shift) for n floats; returns their sum. Cephes' expf: x = k ln 2 + r with
// |r| <= ln 2 / 2, e^r by a degree-6 polynomial, 2^k by the exponent bits (relative error about
// 1e-7); below -87.3 (-inf included) the result is 0. x86-64 takes eight lanes at a time (AVX2
// and FMA, which the package builds for); other CPUs the same arithmetic one value at a time.
static inline float recsys_exp_lane(float v) {
    float c = v < -87.3f ? -87.3f : (v > 88.3f ? 88.3f : v);
    float k = __builtin_rintf(c * 1.44269504f);
    float r = c - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return v < -87.3f ? 0.0f : p * scale;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma")))
static inline float recsys_exp_shifted_sum(float *x, size_t n, float shift) {
    const __m256 low = _mm256_set1_ps(-87.3f), high = _mm256_set1_ps(88.3f), shifts = _mm256_set1_ps(shift);
    __m256 sums = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), shifts);
        __m256 c = _mm256_min_ps(_mm256_max_ps(v, low), high);
        __m256 k = _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), c);
        r = _mm256_fmadd_ps(k, _mm256_set1_ps(2.12194440e-4f), r);
        __m256 p = _mm256_set1_ps(1.9875691500e-4f);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
        p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
        __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
        __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
        e = _mm256_and_ps(e, _mm256_cmp_ps(v, low, _CMP_GE_OQ));  // 0 below -87.3 and for -inf
        _mm256_storeu_ps(x + i, e);
        sums = _mm256_add_ps(sums, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, sums);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < n; i++) {
        x[i] = recsys_exp_lane(x[i] - shift);
        sum += x[i];
    }
    return sum;
}
#else
static inline float recsys_exp_shifted_sum(float *x, size_t n, float shift) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        x[i] = recsys_exp_lane(x[i] - shift);
        sum += x[i];
    }
    return sum;
}
#endif

#endif
