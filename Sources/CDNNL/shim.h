// oneDNN's C API (Debian's libdnnl-dev, built on the OpenMP runtime).
#ifndef RECSYS_CDNNL_SHIM_H
#define RECSYS_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>
#endif
