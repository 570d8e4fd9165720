// The emulated CUDA device (tests only): a shared library answering the CUDA driver API entry
// points the CUDA backend calls, with the backend's kernels compiled for the host. A run uses it
// when RECSYS_CUDA_EMULATOR names this library. Beyond the driver API it has one entry point:
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sets the seed that orders every later launch's blocks and threads (and restarts the count
/// of launches the order also depends on); RECSYS_CUDA_EMULATOR_SEED sets it at load.
void recsys_emulator_set_seed(uint64_t seed);

#ifdef __cplusplus
}
#endif
