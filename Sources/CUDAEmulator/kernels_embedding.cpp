// The kernels of Sources/CUDA/Kernels/embedding.cu, compiled for the host and registered by name.

#include "emulator.h"

#include "../CUDA/Kernels/embedding.cu"

RECSYS_EMULATED_KERNEL(embedding_bags)
RECSYS_EMULATED_KERNEL(embedding_bags_add_scalars)
RECSYS_EMULATED_KERNEL(embedding_bags_scatter_add)
RECSYS_EMULATED_KERNEL(claim_rows)
RECSYS_EMULATED_KERNEL(zero_entries)
RECSYS_EMULATED_KERNEL(accumulate_bag_gradients)
RECSYS_EMULATED_KERNEL(accumulate_row_gradients)
RECSYS_EMULATED_KERNEL(gather_rows)
RECSYS_EMULATED_KERNEL(scatter_add_rows)
RECSYS_EMULATED_KERNEL(sparse_sgd)
RECSYS_EMULATED_KERNEL(sparse_adagrad)
RECSYS_EMULATED_KERNEL(sparse_adam)
RECSYS_EMULATED_KERNEL(embedding_bags_bf16)
RECSYS_EMULATED_KERNEL(embedding_bags_add_scalars_bf16)
RECSYS_EMULATED_KERNEL(gather_rows_bf16)
RECSYS_EMULATED_KERNEL(sparse_sgd_bf16)
RECSYS_EMULATED_KERNEL(sparse_adagrad_bf16)
RECSYS_EMULATED_KERNEL(sparse_adam_bf16)
