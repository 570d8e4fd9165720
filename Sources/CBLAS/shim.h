// OpenBLAS's CBLAS interface plus its thread-count controls.
#ifndef RECSYS_CBLAS_SHIM_H
#define RECSYS_CBLAS_SHIM_H
#include <cblas.h>
#endif
