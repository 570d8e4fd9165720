// The kernels of Sources/CUDA/Kernels/interaction.cu, compiled for the host and registered by name.

#include "emulator.h"

#include "../CUDA/Kernels/interaction.cu"

RECSYS_EMULATED_KERNEL(dot_interaction)
RECSYS_EMULATED_KERNEL(dot_interaction_backward)
