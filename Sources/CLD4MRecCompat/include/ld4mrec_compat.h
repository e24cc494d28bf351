/* Older layouts of the structs that libld4mrec returns by value, frozen as the headers of
 * those versions declared them (see params_v010.c). Internal to the library. */
#ifndef LD4MREC_COMPAT_H
#define LD4MREC_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ld4mrec_recommend_params of 0.1.0 (48 bytes on LP64): 0.2.0 appended n_threads. */
struct ld4mrec_recommend_params_v010 {
    size_t struct_size;
    bool exclude_history;
    const int64_t *only_items;
    size_t n_only_items;
    const int64_t *excluded_items;
    size_t n_excluded_items;
};

#endif
