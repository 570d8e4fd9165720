// The kernels of Sources/CUDA/Kernels/transformer.cu, compiled for the host and registered by name.

#include "emulator.h"

#include "../CUDA/Kernels/transformer.cu"

RECSYS_EMULATED_KERNEL(layer_norm)
RECSYS_EMULATED_KERNEL(layer_norm_backward)
RECSYS_EMULATED_KERNEL(layer_norm_parameter_gradients)
RECSYS_EMULATED_KERNEL(attention)
RECSYS_EMULATED_KERNEL(attention_backward)
