// Device memory of the emulated device: every allocation is its own mapping whose last byte
// is followed by an inaccessible page, so the first access past its end faults (and the launch
// names it); the bytes between the mapping's start and the allocation's are a known pattern,
// checked after each launch. A new allocation holds all-ones bytes, as device memory holds
// whatever was there before.

#include "emulator.h"

#include <cstring>
#include <map>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>

namespace recsys_emulator {
namespace {

constexpr unsigned char pattern = 0xA5;

struct Allocation {
    size_t bytes;
    char* mapping;
    size_t mappingBytes;
};

std::mutex lock;
std::map<uintptr_t, Allocation> live;  // by start
size_t liveBytes = 0;

size_t page() {
    static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

/// The allocation starting at or below `address`, or live.end().
std::map<uintptr_t, Allocation>::iterator at_or_below(uintptr_t address) {
    auto next = live.upper_bound(address);
    if (next == live.begin()) return live.end();
    return std::prev(next);
}

}  // namespace

uintptr_t allocate(size_t bytes) {
    size_t dataBytes = (bytes + page() - 1) / page() * page();
    size_t mappingBytes = dataBytes + page();
    void* memory = mmap(nullptr, mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return 0;
    char* mapping = static_cast<char*>(memory);
    mprotect(mapping + dataBytes, page(), PROT_NONE);
    uintptr_t start = reinterpret_cast<uintptr_t>(mapping + dataBytes - bytes);
    std::memset(mapping, pattern, dataBytes - bytes);
    // Fresh device memory is not zeroed: all ones (NaN, -1) expose a reader of what nobody wrote.
    std::memset(mapping + dataBytes - bytes, 0xFF, bytes);
    std::lock_guard<std::mutex> guard(lock);
    live[start] = Allocation{bytes, mapping, mappingBytes};
    liveBytes += bytes;
    return start;
}

bool release(uintptr_t address) {
    std::lock_guard<std::mutex> guard(lock);
    auto found = live.find(address);
    if (found == live.end()) return false;
    munmap(found->second.mapping, found->second.mappingBytes);
    liveBytes -= found->second.bytes;
    live.erase(found);
    return true;
}

bool contains(uintptr_t address, size_t bytes) {
    std::lock_guard<std::mutex> guard(lock);
    auto found = at_or_below(address);
    return found != live.end() && address + bytes <= found->first + found->second.bytes;
}

bool allocation_near(uintptr_t address, uintptr_t* start, size_t* bytes) {
    std::lock_guard<std::mutex> guard(lock);
    auto found = at_or_below(address);
    if (found != live.end() && address < found->first + found->second.bytes + page()) {
        *start = found->first;
        *bytes = found->second.bytes;
        return true;
    }
    return false;
}

size_t allocated_bytes() {
    std::lock_guard<std::mutex> guard(lock);
    return liveBytes;
}

uintptr_t damaged_before_start(const std::vector<uintptr_t>& addresses) {
    std::lock_guard<std::mutex> guard(lock);
    for (uintptr_t address : addresses) {
        auto found = at_or_below(address);
        if (found == live.end()) continue;
        const char* mapping = found->second.mapping;
        for (const char* byte = mapping; byte < reinterpret_cast<const char*>(found->first); byte++)
            if (static_cast<unsigned char>(*byte) != pattern) return found->first;
    }
    return 0;
}

}  // namespace recsys_emulator
