#include <hdf5.h>

/* Swift cannot import these function-like or computed macros; expose them as values. */
static inline hid_t ld4mrec_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t ld4mrec_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t ld4mrec_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t ld4mrec_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t ld4mrec_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t ld4mrec_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t ld4mrec_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t ld4mrec_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t ld4mrec_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t ld4mrec_h5p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t ld4mrec_h5s_all(void) { return H5S_ALL; }
static inline unsigned ld4mrec_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned ld4mrec_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline size_t ld4mrec_h5t_variable(void) { return H5T_VARIABLE; }
static inline herr_t ld4mrec_h5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
