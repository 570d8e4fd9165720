// The planted faults of planted/planted_faults.cu, compiled for the host and registered by name.

#include "emulator.h"

#include "planted/planted_faults.cu"

RECSYS_EMULATED_KERNEL(binary_cross_entropy_missing_barrier)
RECSYS_EMULATED_KERNEL(fill_f32_off_by_one)
