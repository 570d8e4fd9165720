// zlib, for reading gzip-compressed data files.
#ifndef RECSYS_CZLIB_SHIM_H
#define RECSYS_CZLIB_SHIM_H
#include <zlib.h>
#endif
