// The CUDA driver API entry points the CUDA backend calls, answered by the emulated device:
// device queries, a primary context, device memory (memory.cpp), copies, streams and events
// (every operation completes before its call returns), modules loaded from NVRTC's PTX with
// each `.entry` found among the host-compiled kernels, and launches (scheduler.cpp). A failed
// launch fails its own call only (a GPU's context would stay broken; the backend stops at the
// first failure either way, and tests go on after a planted one).

#include "CUDAEmulator.h"
#include "emulator.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

namespace {

using namespace recsys_emulator;

enum Result : int {
    success = 0,
    invalidValue = 1,
    outOfMemory = 2,
    invalidDevice = 101,
    invalidImage = 200,
    invalidContext = 201,
    invalidHandle = 400,
    notFound = 500,
    illegalAddress = 700,
    launchFailed = 719,
};

constexpr int deviceCount = 4;
constexpr size_t deviceMemory = size_t(16) << 30;

thread_local int lastCode = 0;
thread_local std::string lastDetail;

int fail(int code, std::string detail) {
    lastCode = code;
    lastDetail = std::move(detail);
    return code;
}

struct Module {
    std::unordered_map<std::string, const Kernel*> kernels;
};

struct Event {
    std::chrono::steady_clock::time_point time;
};

int primaryContext = 0;  // its address is the context handle
/// The context current on this host thread: a CUDA context is per thread, and a call on a
/// thread without one fails, as on a GPU.
thread_local void* currentContext = nullptr;

#define NEEDS_CONTEXT(call) \
    if (currentContext == nullptr) \
        return fail(invalidContext, std::string(call) + ": no CUDA context is current on this thread (cuCtxSetCurrent)");

/// Whether [address, address + bytes) is device memory; names the call otherwise.
int check_device_range(const char* call, unsigned long long address, size_t bytes) {
    if (bytes == 0 || contains(static_cast<uintptr_t>(address), bytes)) return success;
    return fail(invalidValue, std::string(call) + ": " + std::to_string(bytes) + " bytes at 0x" + [&] {
        char text[32];
        std::snprintf(text, sizeof text, "%llx", address);
        return std::string(text);
    }() + " are not inside one device allocation");
}

}  // namespace

extern "C" {

void recsys_emulator_set_seed(uint64_t seed) { set_launch_seed(seed); }

int cuInit(unsigned) { return success; }

int cuDriverGetVersion(int* version) {
    *version = 12090;
    return success;
}

int cuGetErrorString(int code, const char** text) {
    static thread_local std::string message;
    if (code == lastCode && !lastDetail.empty()) {
        message = lastDetail;
    } else {
        switch (code) {
        case success: message = "no error"; break;
        case invalidValue: message = "invalid argument"; break;
        case outOfMemory: message = "out of memory"; break;
        case illegalAddress: message = "an illegal memory access was encountered"; break;
        case launchFailed: message = "unspecified launch failure"; break;
        default: message = "error " + std::to_string(code);
        }
    }
    *text = message.c_str();
    return success;
}

int cuDeviceGetCount(int* count) {
    *count = deviceCount;
    return success;
}

int cuDeviceGet(int* device, int ordinal) {
    if (ordinal < 0 || ordinal >= deviceCount) return fail(invalidDevice, "cuDeviceGet: no device " + std::to_string(ordinal));
    *device = ordinal;
    return success;
}

int cuDeviceGetName(char* name, int length, int device) {
    if (device < 0 || device >= deviceCount) return invalidDevice;
    std::snprintf(name, static_cast<size_t>(length), "recsys-dist emulated device %d", device);
    return success;
}

int cuDeviceGetAttribute(int* value, int attribute, int device) {
    if (device < 0 || device >= deviceCount) return invalidDevice;
    switch (attribute) {
    case 1: *value = 1024; break;          // max threads per block
    case 2: case 3: case 4: *value = 1024; break;  // max block dimensions (z is 64 on GPUs; not used)
    case 5: *value = 2147483647; break;    // max grid x
    case 6: case 7: *value = 65535; break;
    case 8: *value = 48 * 1024; break;     // shared memory per block
    case 10: *value = 32; break;           // warp size
    case 16: *value = 4; break;            // multiprocessors
    case 75: *value = 8; break;            // compute capability 8.0
    case 76: *value = 0; break;
    default: *value = 0;
    }
    return success;
}

int cuDeviceTotalMem_v2(size_t* bytes, int device) {
    if (device < 0 || device >= deviceCount) return invalidDevice;
    *bytes = deviceMemory;
    return success;
}

int cuDevicePrimaryCtxRetain(void** context, int device) {
    if (device < 0 || device >= deviceCount) return invalidDevice;
    *context = &primaryContext;
    return success;
}

int cuDevicePrimaryCtxRelease_v2(int) { return success; }


int cuCtxSetCurrent(void* context) {
    if (context != nullptr && context != &primaryContext) return invalidContext;
    currentContext = context;
    return success;
}

int cuCtxSynchronize() {
    NEEDS_CONTEXT("cuCtxSynchronize")
    return success;
}

int cuMemGetInfo_v2(size_t* free, size_t* total) {
    NEEDS_CONTEXT("cuMemGetInfo")
    *total = deviceMemory;
    size_t used = allocated_bytes();
    *free = used < deviceMemory ? deviceMemory - used : 0;
    return success;
}

int cuMemAlloc_v2(unsigned long long* address, size_t bytes) {
    NEEDS_CONTEXT("cuMemAlloc")
    if (bytes == 0) return fail(invalidValue, "cuMemAlloc: 0 bytes");
    if (allocated_bytes() + bytes > deviceMemory) return fail(outOfMemory, "cuMemAlloc: " + std::to_string(bytes) + " bytes past the device's memory");
    uintptr_t start = allocate(bytes);
    if (start == 0) return fail(outOfMemory, "cuMemAlloc: the host cannot map " + std::to_string(bytes) + " bytes");
    *address = start;
    return success;
}

int cuMemFree_v2(unsigned long long address) {
    NEEDS_CONTEXT("cuMemFree")
    if (!release(static_cast<uintptr_t>(address))) return fail(invalidValue, "cuMemFree: no allocation starts there");
    return success;
}

int cuMemAllocHost_v2(void** pointer, size_t bytes) {
    NEEDS_CONTEXT("cuMemAllocHost")
    *pointer = std::malloc(bytes == 0 ? 1 : bytes);
    return *pointer ? success : outOfMemory;
}

int cuMemFreeHost(void* pointer) {
    std::free(pointer);
    return success;
}

int cuMemcpyHtoD_v2(unsigned long long destination, const void* source, size_t bytes) {
    NEEDS_CONTEXT("cuMemcpyHtoD")
    if (int code = check_device_range("cuMemcpyHtoD", destination, bytes)) return code;
    if (bytes) std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return success;
}

int cuMemcpyDtoH_v2(void* destination, unsigned long long source, size_t bytes) {
    NEEDS_CONTEXT("cuMemcpyDtoH")
    if (int code = check_device_range("cuMemcpyDtoH", source, bytes)) return code;
    if (bytes) std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return success;
}

int cuMemcpyDtoD_v2(unsigned long long destination, unsigned long long source, size_t bytes) {
    NEEDS_CONTEXT("cuMemcpyDtoD")
    if (int code = check_device_range("cuMemcpyDtoD (destination)", destination, bytes)) return code;
    if (int code = check_device_range("cuMemcpyDtoD (source)", source, bytes)) return code;
    if (bytes) std::memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
    return success;
}

int cuMemcpyHtoDAsync_v2(unsigned long long destination, const void* source, size_t bytes, void*) {
    return cuMemcpyHtoD_v2(destination, source, bytes);
}

int cuMemcpyDtoHAsync_v2(void* destination, unsigned long long source, size_t bytes, void*) {
    return cuMemcpyDtoH_v2(destination, source, bytes);
}

int cuMemcpyDtoDAsync_v2(unsigned long long destination, unsigned long long source, size_t bytes, void*) {
    return cuMemcpyDtoD_v2(destination, source, bytes);
}

int cuMemsetD32_v2(unsigned long long destination, unsigned value, size_t count) {
    NEEDS_CONTEXT("cuMemsetD32")
    if (int code = check_device_range("cuMemsetD32", destination, count * 4)) return code;
    unsigned* words = reinterpret_cast<unsigned*>(destination);
    for (size_t i = 0; i < count; i++) words[i] = value;
    return success;
}

int cuMemsetD8_v2(unsigned long long destination, unsigned char value, size_t count) {
    NEEDS_CONTEXT("cuMemsetD8")
    if (int code = check_device_range("cuMemsetD8", destination, count)) return code;
    std::memset(reinterpret_cast<void*>(destination), value, count);
    return success;
}

int cuMemsetD32Async(unsigned long long destination, unsigned value, size_t count, void*) {
    return cuMemsetD32_v2(destination, value, count);
}

int cuMemsetD8Async(unsigned long long destination, unsigned char value, size_t count, void*) {
    return cuMemsetD8_v2(destination, value, count);
}

/// Loads NVRTC's PTX: every `.entry` must name a host-compiled kernel of this library.
int cuModuleLoadData(void** module, const void* image) {
    NEEDS_CONTEXT("cuModuleLoadData")
    const char* text = static_cast<const char*>(image);
    if (std::memcmp(text, "\x7f" "ELF", 4) == 0) return fail(invalidImage, "cuModuleLoadData: the emulated device loads PTX, not a cubin");
    auto* loaded = new Module;
    for (const char* at = std::strstr(text, ".entry "); at; at = std::strstr(at + 1, ".entry ")) {
        const char* name = at + 7;
        size_t length = std::strcspn(name, "( \t\n");
        std::string entry(name, length);
        const Kernel* kernel = find_kernel(entry);
        if (!kernel) {
            delete loaded;
            return fail(invalidImage, "cuModuleLoadData: the PTX entry " + entry + " has no host-compiled kernel in the emulator");
        }
        loaded->kernels[entry] = kernel;
    }
    if (loaded->kernels.empty()) {
        delete loaded;
        return fail(invalidImage, "cuModuleLoadData: no .entry in the image (not PTX?)");
    }
    *module = loaded;
    return success;
}

int cuModuleUnload(void* module) {
    delete static_cast<Module*>(module);
    return success;
}

int cuModuleGetFunction(void** function, void* module, const char* name) {
    NEEDS_CONTEXT("cuModuleGetFunction")
    auto* loaded = static_cast<Module*>(module);
    auto found = loaded->kernels.find(name);
    if (found == loaded->kernels.end()) return fail(notFound, std::string("cuModuleGetFunction: no kernel ") + name + " in the module");
    *function = const_cast<Kernel*>(found->second);
    return success;
}

int cuLaunchKernel(void* function, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY, unsigned blockZ,
                   unsigned, void*, void** parameters, void** extra) {
    NEEDS_CONTEXT("cuLaunchKernel")
    const auto* kernel = static_cast<const Kernel*>(function);
    if (extra != nullptr) return fail(invalidValue, std::string("cuLaunchKernel(") + kernel->name + "): the emulator takes kernelParams only");
    if (parameters == nullptr && !kernel->parameters.empty()) return fail(invalidValue, std::string("cuLaunchKernel(") + kernel->name + "): no parameters");
    LaunchResult result = launch(*kernel, dim3{gridX, gridY, gridZ}, dim3{blockX, blockY, blockZ}, parameters);
    switch (result.kind) {
    case LaunchResult::completed: return success;
    case LaunchResult::refused: return fail(invalidValue, result.message);
    case LaunchResult::illegalAddress: return fail(illegalAddress, result.message);
    case LaunchResult::failed: return fail(launchFailed, result.message);
    }
    return launchFailed;
}

int cuStreamCreate(void** stream, unsigned) {
    NEEDS_CONTEXT("cuStreamCreate")
    static int streams = 0;
    *stream = &streams;
    return success;
}

int cuStreamDestroy_v2(void*) { return success; }

int cuStreamSynchronize(void*) {
    NEEDS_CONTEXT("cuStreamSynchronize")
    return success;
}

int cuStreamWaitEvent(void*, void*, unsigned) {
    return success;
}

int cuEventCreate(void** event, unsigned) {
    *event = new Event;
    return success;
}

int cuEventDestroy_v2(void* event) {
    delete static_cast<Event*>(event);
    return success;
}

int cuEventRecord(void* event, void*) {
    NEEDS_CONTEXT("cuEventRecord")
    static_cast<Event*>(event)->time = std::chrono::steady_clock::now();
    return success;
}

int cuEventSynchronize(void*) {
    NEEDS_CONTEXT("cuEventSynchronize")
    return success;
}

int cuEventElapsedTime(float* milliseconds, void* start, void* end) {
    *milliseconds = std::chrono::duration<float, std::milli>(static_cast<Event*>(end)->time - static_cast<Event*>(start)->time).count();
    return success;
}

}  // extern "C"
