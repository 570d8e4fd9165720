#ifndef RECSYS_FAISS_H
#define RECSYS_FAISS_H

// A small C interface over FAISS's C++ API (Debian's libfaiss-dev ships no C API): build an
// inner-product index by FAISS's factory description, search it, set its search parameters,
// write and read it. Functions that can fail return 0 (or NULL) and copy FAISS's message into
// `error` (`error_size` bytes, terminated).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct recsys_faiss_index recsys_faiss_index;

/// An index of `count` vectors of `dimension` floats (row-major) scored by inner product, made
/// by `description` ("Flat", "IVF1024,Flat", "IVF1024,PQ16", "HNSW32"), trained on the vectors
/// when it needs training, then holding them (labels 0..<count in order).
recsys_faiss_index *recsys_faiss_build(const char *description, int dimension, int64_t count, const float *vectors,
                                       char *error, size_t error_size);
/// Sets a search parameter of the index (`nprobe` of an IVF index, `efSearch` of HNSW).
int recsys_faiss_set_parameter(recsys_faiss_index *index, const char *name, double value, char *error, size_t error_size);
/// The `k` best of each of `count` queries: `scores` and `labels` (count, k) row-major, best
/// first; label -1 where fewer than k were found.
int recsys_faiss_search(const recsys_faiss_index *index, int64_t count, const float *queries, int k, float *scores,
                        int64_t *labels, char *error, size_t error_size);
int recsys_faiss_write(const recsys_faiss_index *index, const char *path, char *error, size_t error_size);
recsys_faiss_index *recsys_faiss_read(const char *path, char *error, size_t error_size);
int64_t recsys_faiss_count(const recsys_faiss_index *index);
int recsys_faiss_dimension(const recsys_faiss_index *index);
void recsys_faiss_free(recsys_faiss_index *index);
/// FAISS's threads (OpenMP), for its builds and searches.
void recsys_faiss_set_threads(int threads);
/// Distances to stored vectors computed by IVF searches since the last reset (the vectors a
/// search scanned; HNSW's are not counted).
void recsys_faiss_reset_statistics(void);
int64_t recsys_faiss_distances_computed(void);

#ifdef __cplusplus
}
#endif

#endif
