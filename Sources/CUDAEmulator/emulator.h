// The emulated device's parts, shared by its files: the host-compiled kernels' registry, device
// memory with its bounds, and the launch of a kernel's blocks and threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "device_runtime.h"

namespace recsys_emulator {

/// One kernel parameter as the launch sees it: its size and, for a pointer, the size of what
/// it points at (for the index an access outside its allocation names).
struct Parameter {
    size_t size;
    bool pointer;
    size_t elementSize;
};

/// A host-compiled kernel, found by the `.entry` name NVRTC's PTX gives it.
struct Kernel {
    const char* name;
    std::vector<Parameter> parameters;
    /// Calls the kernel with the values `cuLaunchKernel`'s `kernelParams` point at.
    void (*invoke)(void* function, void** values);
    void* function;
};

/// The kernels linked into this library, by name; nullptr when none has `name`.
const Kernel* find_kernel(const std::string& name);
void register_kernel(const Kernel& kernel);

template <typename T> Parameter describe() {
    if constexpr (std::is_pointer_v<T>) {
        using Pointee = std::remove_cv_t<std::remove_pointer_t<T>>;
        if constexpr (std::is_void_v<Pointee>) return {sizeof(T), true, 1};
        else return {sizeof(T), true, sizeof(Pointee)};
    } else {
        return {sizeof(T), false, 0};
    }
}

template <typename... A, size_t... I>
void invoke_with(void (*kernel)(A...), void** values, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<A>*>(values[I])...);
}

template <typename... A> void invoke(void* function, void** values) {
    invoke_with(reinterpret_cast<void (*)(A...)>(function), values, std::index_sequence_for<A...>{});
}

/// Adds `kernel` under `name` when the library loads.
struct Registration {
    template <typename... A> Registration(const char* name, void (*kernel)(A...)) {
        register_kernel(Kernel{name, {describe<A>()...}, &invoke<A...>, reinterpret_cast<void*>(kernel)});
    }
};

#define RECSYS_EMULATED_KERNEL(name) static ::recsys_emulator::Registration registration_of_##name(#name, name);

// MARK: Device memory

/// Device memory: each allocation ends where an inaccessible page starts, so an access one
/// element past its end stops the kernel; the bytes between the page before and its start hold
/// a pattern checked after each launch (a write before the start).
uintptr_t allocate(size_t bytes);
/// False when `address` starts no live allocation.
bool release(uintptr_t address);
/// Whether [address, address + bytes) lies inside one live allocation.
bool contains(uintptr_t address, size_t bytes);
/// The live allocation holding `address` or whose guard page holds it: its start and size.
bool allocation_near(uintptr_t address, uintptr_t* start, size_t* bytes);
/// Live allocations' bytes.
size_t allocated_bytes();
/// The first allocation among `starts` whose bytes before its start were written, or 0.
uintptr_t damaged_before_start(const std::vector<uintptr_t>& starts);

// MARK: Launches

/// The seed that orders blocks and threads (RECSYS_CUDA_EMULATOR_SEED, or the test hook).
uint64_t launch_seed();
void set_launch_seed(uint64_t seed);

/// How a launch ended, and why when it failed.
struct LaunchResult {
    enum Kind {
        completed,
        /// Refused before it ran: a block or grid size, a pointer argument outside device memory.
        refused,
        /// An access outside an allocation (named by kernel, argument and index), or a write
        /// before an allocation's start.
        illegalAddress,
        /// Threads of a block that cannot all reach a barrier.
        failed,
    };
    Kind kind;
    std::string message;
};

/// Runs `kernel` on a grid of `grid` blocks of `block` threads with its parameters' values.
LaunchResult launch(const Kernel& kernel, dim3 grid, dim3 block, void** values);

}  // namespace recsys_emulator
