// OpenMPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over incomplete
// global structs that Swift cannot import; each becomes a static inline function here.
#ifndef RECSYS_CMPI_SHIM_H
#define RECSYS_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm recsys_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype recsys_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype recsys_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype recsys_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype recsys_mpi_uint16(void) { return MPI_UINT16_T; }
static inline MPI_Datatype recsys_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op recsys_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op recsys_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op recsys_mpi_min(void) { return MPI_MIN; }
static inline void *recsys_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int recsys_mpi_success(void) { return MPI_SUCCESS; }
static inline int recsys_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline MPI_Errhandler recsys_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int recsys_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline MPI_Request recsys_mpi_request_null(void) { return MPI_REQUEST_NULL; }

#endif
