// CPU hints Swift has no spelling for.
#ifndef RECSYS_CINTRINSICS_H
#define RECSYS_CINTRINSICS_H

// Asks for the cache line at `address` ahead of a load (an embedding row a few ids ahead).
static inline void recsys_prefetch(const void *address) { __builtin_prefetch(address, 0, 3); }

// The same, for a line that will be written.
static inline void recsys_prefetch_for_write(const void *address) { __builtin_prefetch(address, 1, 3); }

#endif
