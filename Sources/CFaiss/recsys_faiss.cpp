// The C interface of recsys_faiss.h over FAISS's C++ API.
#include "recsys_faiss.h"

#include <cstring>
#include <exception>
#include <memory>

#include <faiss/AutoTune.h>
#include <faiss/Index.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

// OpenMP's (libgomp, which FAISS is built with); declared here since omp.h is GCC's, not clang's.
extern "C" void omp_set_num_threads(int threads);

struct recsys_faiss_index {
    std::unique_ptr<faiss::Index> index;
};

namespace {
void copy_error(const char *message, char *error, size_t error_size) {
    if (error == nullptr || error_size == 0) return;
    std::strncpy(error, message, error_size - 1);
    error[error_size - 1] = '\0';
}
}  // namespace

extern "C" recsys_faiss_index *recsys_faiss_build(const char *description, int dimension, int64_t count, const float *vectors,
                                                  char *error, size_t error_size) {
    try {
        std::unique_ptr<faiss::Index> index(faiss::index_factory(dimension, description, faiss::METRIC_INNER_PRODUCT));
        if (!index->is_trained) index->train(count, vectors);
        index->add(count, vectors);
        return new recsys_faiss_index{std::move(index)};
    } catch (const std::exception &e) {
        copy_error(e.what(), error, error_size);
        return nullptr;
    }
}

extern "C" int recsys_faiss_set_parameter(recsys_faiss_index *index, const char *name, double value, char *error, size_t error_size) {
    try {
        faiss::ParameterSpace().set_index_parameter(index->index.get(), name, value);
        return 1;
    } catch (const std::exception &e) {
        copy_error(e.what(), error, error_size);
        return 0;
    }
}

extern "C" int recsys_faiss_search(const recsys_faiss_index *index, int64_t count, const float *queries, int k, float *scores,
                                   int64_t *labels, char *error, size_t error_size) {
    try {
        index->index->search(count, queries, k, scores, reinterpret_cast<faiss::Index::idx_t *>(labels));
        return 1;
    } catch (const std::exception &e) {
        copy_error(e.what(), error, error_size);
        return 0;
    }
}

extern "C" int recsys_faiss_write(const recsys_faiss_index *index, const char *path, char *error, size_t error_size) {
    try {
        faiss::write_index(index->index.get(), path);
        return 1;
    } catch (const std::exception &e) {
        copy_error(e.what(), error, error_size);
        return 0;
    }
}

extern "C" recsys_faiss_index *recsys_faiss_read(const char *path, char *error, size_t error_size) {
    try {
        return new recsys_faiss_index{std::unique_ptr<faiss::Index>(faiss::read_index(path))};
    } catch (const std::exception &e) {
        copy_error(e.what(), error, error_size);
        return nullptr;
    }
}

extern "C" int64_t recsys_faiss_count(const recsys_faiss_index *index) { return index->index->ntotal; }

extern "C" int recsys_faiss_dimension(const recsys_faiss_index *index) { return index->index->d; }

extern "C" void recsys_faiss_free(recsys_faiss_index *index) { delete index; }

extern "C" void recsys_faiss_set_threads(int threads) { omp_set_num_threads(threads); }

extern "C" void recsys_faiss_reset_statistics(void) { faiss::indexIVF_stats.reset(); }

extern "C" int64_t recsys_faiss_distances_computed(void) { return static_cast<int64_t>(faiss::indexIVF_stats.ndis); }
