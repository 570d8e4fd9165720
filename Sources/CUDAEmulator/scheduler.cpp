// A launch on the emulated device: the blocks of the grid one after another, each block's
// threads as user-space contexts switched at their barriers, both orders drawn from the seed.
// An access outside device memory stops the launch (SIGSEGV on the guard page after every
// allocation, memory.cpp) and is reported naming the kernel, the argument and the index.

#include "emulator.h"

#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <ucontext.h>
#include <vector>

namespace recsys_emulator {
namespace {

constexpr size_t stackBytes = 256 * 1024;
constexpr unsigned maximumBlockThreads = 1024;

enum class ThreadState { ready, atBlockBarrier, atWarpBarrier, returned };

struct EmulatedThread {
    ucontext_t context;
    ThreadPlace place;
    ThreadState state;
    unsigned linear;
};

/// What a host thread needs to run a launch (each host thread may run launches of its own).
struct Runner {
    ucontext_t scheduler;
    std::vector<EmulatedThread> threads;
    std::vector<uint64_t> exchangeSlots;
    EmulatedThread* running = nullptr;
    const Kernel* kernel = nullptr;
    void** values = nullptr;
    /// The stacks of a block's threads, one per thread of the largest block, mapped at the first
    /// launch of this host thread (pages are touched only as deep as the kernels go).
    char* stacks = nullptr;
    sigjmp_buf faultJump;
    volatile uintptr_t faultAddress = 0;
    volatile bool launching = false;

    ~Runner() {
        if (stacks) munmap(stacks, maximumBlockThreads * stackBytes);
    }

    char* stack(size_t index) {
        if (!stacks) {
            void* memory = mmap(nullptr, maximumBlockThreads * stackBytes, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (memory == MAP_FAILED) {
                std::perror("CUDA emulator: thread stacks");
                std::abort();
            }
            stacks = static_cast<char*>(memory);
        }
        return stacks + index * stackBytes;
    }
};

thread_local Runner runner;
std::atomic<uint64_t> seed{[] {
    const char* text = std::getenv("RECSYS_CUDA_EMULATOR_SEED");
    return text ? std::strtoull(text, nullptr, 10) : 0ull;
}()};
std::atomic<uint64_t> launchCount{0};

/// SplitMix64: the draws of one launch.
struct Draws {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

void thread_entry() {
    Runner& r = runner;
    r.kernel->invoke(r.kernel->function, r.values);
    r.running->state = ThreadState::returned;
}

void on_fault(int signal, siginfo_t* info, void*) {
    Runner& r = runner;
    if (!r.launching) {
        // Not a kernel's access: let the default action report it.
        std::signal(signal, SIG_DFL);
        return;
    }
    r.faultAddress = reinterpret_cast<uintptr_t>(info->si_addr);
    siglongjmp(r.faultJump, 1);
}

std::string describe_fault(const Kernel& kernel, void** values, uintptr_t address) {
    char text[512];
    uintptr_t start = 0;
    size_t bytes = 0;
    if (allocation_near(address, &start, &bytes)) {
        // The argument pointing into that allocation nearest below the address.
        int best = -1;
        uintptr_t bestBase = 0;
        for (size_t i = 0; i < kernel.parameters.size(); i++) {
            if (!kernel.parameters[i].pointer) continue;
            uintptr_t base = *static_cast<uintptr_t*>(values[i]);
            if (base >= start && base <= start + bytes && base <= address && (best < 0 || base >= bestBase)) {
                best = static_cast<int>(i);
                bestBase = base;
            }
        }
        if (best >= 0) {
            size_t element = kernel.parameters[best].elementSize;
            long index = static_cast<long>((address - bestBase) / element);
            long count = static_cast<long>((start + bytes - bestBase) / element);
            std::snprintf(text, sizeof text,
                          "kernel %s: argument %d accessed index %ld outside its allocation (%ld elements of %zu bytes from the argument)",
                          kernel.name, best, index, count, element);
            return text;
        }
        std::snprintf(text, sizeof text, "kernel %s: an access %ld bytes past the end of an allocation of %zu bytes no argument points into",
                      kernel.name, static_cast<long>(address - (start + bytes)), bytes);
        return text;
    }
    std::snprintf(text, sizeof text, "kernel %s: an access at 0x%lx, outside every allocation", kernel.name,
                  static_cast<unsigned long>(address));
    return text;
}

/// Runs one block: picks a ready thread by the draws, runs it to its next barrier or its end,
/// and releases a barrier once every thread still running waits at it.
std::string run_block(Runner& r, Draws& draws, uint3 blockIndex, dim3 grid, dim3 block) {
    unsigned count = block.x * block.y * block.z;
    r.threads.resize(count);
    r.exchangeSlots.assign(count, 0);
    std::vector<unsigned> ready;
    ready.reserve(count);
    for (unsigned i = 0; i < count; i++) {
        EmulatedThread& t = r.threads[i];
        t.linear = i;
        t.state = ThreadState::ready;
        t.place = ThreadPlace{{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)}, blockIndex, block, grid};
        getcontext(&t.context);
        t.context.uc_stack.ss_sp = r.stack(i);
        t.context.uc_stack.ss_size = stackBytes;
        t.context.uc_link = &r.scheduler;
        makecontext(&t.context, thread_entry, 0);
        ready.push_back(i);
    }
    unsigned returned = 0;
    while (returned < count) {
        if (!ready.empty()) {
            size_t pick = draws.below(ready.size());
            unsigned index = ready[pick];
            ready[pick] = ready.back();
            ready.pop_back();
            r.running = &r.threads[index];
            swapcontext(&r.scheduler, &r.running->context);
            if (r.running->state == ThreadState::returned) returned++;
            continue;
        }
        // Nothing ready: release every warp whose running lanes all wait at an exchange, else the
        // block barrier when every running thread waits there.
        unsigned atBlock = 0, atWarp = 0;
        for (unsigned warp = 0; warp * 32 < count; warp++) {
            unsigned end = std::min(count, warp * 32 + 32), waiting = 0, running = 0;
            for (unsigned i = warp * 32; i < end; i++) {
                if (r.threads[i].state == ThreadState::returned) continue;
                running++;
                if (r.threads[i].state == ThreadState::atWarpBarrier) waiting++;
            }
            if (running > 0 && waiting == running) {
                for (unsigned i = warp * 32; i < end; i++)
                    if (r.threads[i].state == ThreadState::atWarpBarrier) {
                        r.threads[i].state = ThreadState::ready;
                        ready.push_back(i);
                    }
            }
        }
        if (!ready.empty()) continue;
        for (auto& t : r.threads) {
            if (t.state == ThreadState::atBlockBarrier) atBlock++;
            if (t.state == ThreadState::atWarpBarrier) atWarp++;
        }
        if (atWarp == 0 && atBlock == count - returned) {
            for (auto& t : r.threads)
                if (t.state == ThreadState::atBlockBarrier) {
                    t.state = ThreadState::ready;
                    ready.push_back(t.linear);
                }
            continue;
        }
        char text[256];
        std::snprintf(text, sizeof text,
                      "kernel %s: the threads of block (%u, %u, %u) wait at different barriers (%u at __syncthreads, %u at a warp shuffle)",
                      r.kernel->name, blockIndex.x, blockIndex.y, blockIndex.z, atBlock, atWarp);
        return text;
    }
    return "";
}

void wait_at(ThreadState state) {
    Runner& r = runner;
    r.running->state = state;
    swapcontext(&r.running->context, &r.scheduler);
}

}  // namespace

const ThreadPlace& current_place() { return runner.running->place; }

void block_barrier() { wait_at(ThreadState::atBlockBarrier); }

int lane() { return static_cast<int>(runner.running->linear % 32); }

uint64_t warp_exchange(uint64_t value, int sourceLane) {
    Runner& r = runner;
    unsigned self = r.running->linear;
    r.exchangeSlots[self] = value;
    wait_at(ThreadState::atWarpBarrier);
    unsigned source = self - self % 32 + static_cast<unsigned>(sourceLane);
    uint64_t result = value;
    if (sourceLane >= 0 && sourceLane < 32 && source < r.threads.size() && r.threads[source].state != ThreadState::returned)
        result = r.exchangeSlots[source];
    // Every lane has read before any lane deposits again.
    wait_at(ThreadState::atWarpBarrier);
    return result;
}

uint32_t warp_ballot(bool predicate) {
    Runner& r = runner;
    unsigned self = r.running->linear, first = self - self % 32;
    r.exchangeSlots[self] = predicate ? 1 : 0;
    wait_at(ThreadState::atWarpBarrier);
    uint32_t bits = 0;
    for (unsigned lane = 0; lane < 32 && first + lane < r.threads.size(); lane++)
        if (r.threads[first + lane].state != ThreadState::returned && r.exchangeSlots[first + lane]) bits |= 1u << lane;
    wait_at(ThreadState::atWarpBarrier);
    return bits;
}

uint64_t launch_seed() { return seed.load(); }

void set_launch_seed(uint64_t value) {
    seed.store(value);
    launchCount.store(0);
}

LaunchResult launch(const Kernel& kernel, dim3 grid, dim3 block, void** values) {
    char text[256];
    unsigned threads = block.x * block.y * block.z;
    if (block.x == 0 || block.y == 0 || block.z == 0 || threads > maximumBlockThreads) {
        std::snprintf(text, sizeof text, "kernel %s: a block of %u x %u x %u threads (1 to %u)", kernel.name, block.x, block.y, block.z,
                      maximumBlockThreads);
        return {LaunchResult::refused, text};
    }
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) {
        std::snprintf(text, sizeof text, "kernel %s: a grid of %u x %u x %u blocks", kernel.name, grid.x, grid.y, grid.z);
        return {LaunchResult::refused, text};
    }
    std::vector<uintptr_t> pointers;
    for (size_t i = 0; i < kernel.parameters.size(); i++) {
        if (!kernel.parameters[i].pointer) continue;
        uintptr_t address = *static_cast<uintptr_t*>(values[i]);
        if (address == 0) continue;
        if (!contains(address, 0)) {
            std::snprintf(text, sizeof text, "kernel %s: argument %zu (0x%lx) is not device memory", kernel.name, i,
                          static_cast<unsigned long>(address));
            return {LaunchResult::refused, text};
        }
        pointers.push_back(address);
    }

    Runner& r = runner;
    r.kernel = &kernel;
    r.values = values;
    Draws draws{launch_seed() * 0x2545F4914F6CDD1Dull + launchCount.fetch_add(1)};
    std::vector<uint3> order;
    order.reserve(static_cast<size_t>(grid.x) * grid.y * grid.z);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) order.push_back({x, y, z});
    for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[draws.below(i)]);

    struct sigaction action = {}, previousSegv = {}, previousBus = {};
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previousSegv);
    sigaction(SIGBUS, &action, &previousBus);
    LaunchResult result{LaunchResult::completed, ""};
    r.launching = true;
    if (sigsetjmp(r.faultJump, 1) == 0) {
        for (const uint3& blockIndex : order) {
            std::string failure = run_block(r, draws, blockIndex, grid, block);
            if (!failure.empty()) {
                result = {LaunchResult::failed, failure};
                break;
            }
        }
    } else {
        result = {LaunchResult::illegalAddress, describe_fault(kernel, values, r.faultAddress)};
    }
    r.launching = false;
    sigaction(SIGSEGV, &previousSegv, nullptr);
    sigaction(SIGBUS, &previousBus, nullptr);
    r.running = nullptr;
    if (result.kind == LaunchResult::completed) {
        if (uintptr_t damaged = damaged_before_start(pointers)) {
            std::snprintf(text, sizeof text, "kernel %s: wrote before the start of the allocation at 0x%lx", kernel.name,
                          static_cast<unsigned long>(damaged));
            result = {LaunchResult::illegalAddress, text};
        }
    }
    return result;
}

}  // namespace recsys_emulator
