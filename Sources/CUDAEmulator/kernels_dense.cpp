// The kernels of Sources/CUDA/Kernels/dense.cu, compiled for the host and registered by name.

#include "emulator.h"

#include "../CUDA/Kernels/dense.cu"

RECSYS_EMULATED_KERNEL(fill_f32)
RECSYS_EMULATED_KERNEL(fill_i32)
RECSYS_EMULATED_KERNEL(copy_rows)
RECSYS_EMULATED_KERNEL(add_f32)
RECSYS_EMULATED_KERNEL(multiply_f32)
RECSYS_EMULATED_KERNEL(multiply_add_f32)
RECSYS_EMULATED_KERNEL(flag_non_finite)
RECSYS_EMULATED_KERNEL(add_bias)
RECSYS_EMULATED_KERNEL(relu_backward)
RECSYS_EMULATED_KERNEL(column_sums)
RECSYS_EMULATED_KERNEL(softmax_rows)
RECSYS_EMULATED_KERNEL(softmax_rows_backward)
RECSYS_EMULATED_KERNEL(add_scaled_rows)
RECSYS_EMULATED_KERNEL(row_dots)
RECSYS_EMULATED_KERNEL(normalize_rows)
RECSYS_EMULATED_KERNEL(normalize_rows_backward)
RECSYS_EMULATED_KERNEL(sampled_softmax_cross_entropy)
RECSYS_EMULATED_KERNEL(binary_cross_entropy)
RECSYS_EMULATED_KERNEL(squared_error)
RECSYS_EMULATED_KERNEL(sgd_step)
RECSYS_EMULATED_KERNEL(adagrad_step)
RECSYS_EMULATED_KERNEL(adam_step)
RECSYS_EMULATED_KERNEL(factorization_machine)
RECSYS_EMULATED_KERNEL(factorization_machine_backward)
RECSYS_EMULATED_KERNEL(pack_bf16)
RECSYS_EMULATED_KERNEL(unpack_bf16)
RECSYS_EMULATED_KERNEL(pack_fp16)
RECSYS_EMULATED_KERNEL(unpack_fp16)
