// What CUDA C++ gives a kernel, for the kernels' .cu sources compiled as C++ for the host: the
// thread and block indices and sizes, __syncthreads, __shared__ memory, warp shuffles, atomics
// and the math intrinsics the kernels use. Included before a .cu file by its kernels_*.cpp.
//
// A launch runs every thread of a block as a user-space context on one host thread
// (scheduler.cpp): a thread runs until it reaches a barrier (__syncthreads, or a warp shuffle's
// exchange) or returns, and the next thread to run is drawn from the launch's seed. So the order
// of the threads between two barriers differs from seed to seed, and a result that depends on it
// (a race, a missing barrier) changes with the seed. Atomics are plain read-modify-writes: only
// one emulated thread runs at a time.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>
#include <type_traits>

namespace recsys_emulator {

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };

/// The running thread's place in its launch.
struct ThreadPlace {
    uint3 thread;
    uint3 block;
    dim3 blockSize;
    dim3 gridSize;
};

/// The emulated thread now running (scheduler.cpp).
const ThreadPlace& current_place();
/// __syncthreads: waits until every thread of the block still running has arrived.
void block_barrier();
/// A warp shuffle's exchange: deposits `value`, waits for the warp's other running lanes, and
/// returns what lane `source_lane` deposited (the caller's own value when that lane is outside
/// the warp or has returned).
uint64_t warp_exchange(uint64_t value, int source_lane);
/// The running thread's lane in its warp of 32.
int lane();
/// A warp vote: bit i set when lane i (still running) passed a true `predicate`.
uint32_t warp_ballot(bool predicate);

template <typename T> T shuffle(T value, int source_lane) {
    static_assert(sizeof(T) <= 8, "a shuffled value is at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    uint64_t got = warp_exchange(bits, source_lane);
    T result;
    std::memcpy(&result, &got, sizeof(T));
    return result;
}

template <typename To, typename From> To bit_cast(From value) {
    static_assert(sizeof(To) == sizeof(From), "same size");
    To result;
    std::memcpy(&result, &value, sizeof(To));
    return result;
}

/// IEEE fp16 bit patterns <-> float, rounded to nearest even (PTX's cvt.rn.f16.f32 and cvt.f32.f16).
inline unsigned short fp16_bits(float x) { return bit_cast<unsigned short>(static_cast<_Float16>(x)); }
inline float fp16_value(unsigned short bits) { return static_cast<float>(bit_cast<_Float16>(bits)); }

}  // namespace recsys_emulator

#define RECSYS_EMULATED_DEVICE 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// One host thread runs a block's threads, one block at a time: a function-local static per
// host thread is the block's shared memory.
#define __shared__ static thread_local

#define threadIdx (::recsys_emulator::current_place().thread)
#define blockIdx (::recsys_emulator::current_place().block)
#define blockDim (::recsys_emulator::current_place().blockSize)
#define gridDim (::recsys_emulator::current_place().gridSize)

inline void __syncthreads() { ::recsys_emulator::block_barrier(); }

template <typename T> T __shfl_sync(unsigned, T value, int source) {
    return ::recsys_emulator::shuffle(value, source);
}
template <typename T> T __shfl_down_sync(unsigned, T value, unsigned delta) {
    return ::recsys_emulator::shuffle(value, ::recsys_emulator::lane() + (int)delta);
}
template <typename T> T __shfl_xor_sync(unsigned, T value, int mask) {
    return ::recsys_emulator::shuffle(value, ::recsys_emulator::lane() ^ mask);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::recsys_emulator::warp_ballot(predicate != 0) & mask; }
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
    unsigned running = ::recsys_emulator::warp_ballot(true) & mask;
    return (__ballot_sync(mask, predicate) & running) == running;
}

template <typename T> T atomicAdd(T* address, T value) {
    T old = *address;
    *address = old + value;
    return old;
}
template <typename T> T atomicExch(T* address, T value) {
    T old = *address;
    *address = value;
    return old;
}
template <typename T> T atomicCAS(T* address, T compare, T value) {
    T old = *address;
    if (old == compare) *address = value;
    return old;
}
template <typename T> T atomicMax(T* address, T value) {
    T old = *address;
    if (value > old) *address = value;
    return old;
}

inline float __int_as_float(int x) { return ::recsys_emulator::bit_cast<float>(x); }
inline int __float_as_int(float x) { return ::recsys_emulator::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return ::recsys_emulator::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return ::recsys_emulator::bit_cast<unsigned>(x); }
inline float __expf(float x) { return expf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
template <typename T> T __ldg(const T* address) { return *address; }
