// HDF5's type and property-list identifiers are macros that call H5open(); H5P_DEFAULT
// imports with the wrong type. Each becomes a static inline function here.
#ifndef RECSYS_CHDF5_SHIM_H
#define RECSYS_CHDF5_SHIM_H
#include <hdf5.h>

static inline hid_t recsys_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t recsys_h5s_all(void) { return H5S_ALL; }
static inline hid_t recsys_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t recsys_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t recsys_h5t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t recsys_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t recsys_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t recsys_h5t_c_s1(void) { return H5T_C_S1; }
static inline unsigned recsys_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned recsys_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t recsys_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t recsys_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t recsys_h5e_default(void) { return H5E_DEFAULT; }
static inline size_t recsys_h5t_variable(void) { return H5T_VARIABLE; }

#endif
