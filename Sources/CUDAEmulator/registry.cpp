// The host-compiled kernels, by name (each kernels_*.cpp registers its file's kernels when the
// library loads).

#include "emulator.h"

#include <string>
#include <unordered_map>

namespace recsys_emulator {
namespace {

std::unordered_map<std::string, Kernel>& kernels() {
    static std::unordered_map<std::string, Kernel> table;
    return table;
}

}  // namespace

void register_kernel(const Kernel& kernel) { kernels()[kernel.name] = kernel; }

const Kernel* find_kernel(const std::string& name) {
    auto found = kernels().find(name);
    return found == kernels().end() ? nullptr : &found->second;
}

}  // namespace recsys_emulator
