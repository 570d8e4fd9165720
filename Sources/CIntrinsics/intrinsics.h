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

#endif
