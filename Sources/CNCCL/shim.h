// NCCL's unique id, passed by value to ncclCommInitRank: a C struct Swift can pass as C does.
// Nothing is linked: the CUDA path opens libnccl at run time.
#pragma once

typedef struct {
    char internal[128];
} ncclUniqueId;

typedef int (*recsys_nccl_comm_init_rank)(void** communicator, int ranks, ncclUniqueId id, int rank);
