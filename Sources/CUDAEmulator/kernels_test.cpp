// The kernels of the emulator's own tests (test-kernels/test_kernels.cu), compiled for the host and registered by name.

#include "emulator.h"

#include "test-kernels/test_kernels.cu"

RECSYS_EMULATED_KERNEL(binary_cross_entropy_missing_barrier)
RECSYS_EMULATED_KERNEL(fill_f32_off_by_one)
RECSYS_EMULATED_KERNEL(warp_votes)
