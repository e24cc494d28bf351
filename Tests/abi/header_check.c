/*
 * header_check.c: ld4mrec.h compiles cleanly as strict C99 and as C++17, and every
 * function has the signature this file expects (a typed pointer to each one). Linked
 * against the library and run, it also shows that every symbol resolves.
 *
 *   gcc -std=c99 -Wall -Wextra -Werror -pedantic -I Include header_check.c -lld4mrec
 *   g++ -x c++ -std=c++17 -Wall -Wextra -Werror -pedantic -I Include header_check.c ...
 */
#include "ld4mrec.h"

#include <stdio.h>

/* The header must be self-contained: these types come from its own includes. */
static const size_t size_of_size_t = sizeof(size_t);
static const bool true_value = true;
static const int64_t int64_value = INT64_MAX;

struct function_table {
    int32_t (*version_number)(void);
    const char *(*version_string)(void);
    int32_t (*abi_version)(void);
    const char *(*status_string)(int32_t);
    const char *(*last_error)(void);
    int32_t (*set_num_threads)(int32_t);
    int32_t (*get_num_threads)(void);
    int32_t (*model_load)(const char *, ld4mrec_model **);
    ld4mrec_load_params (*load_params_default)(void);
    int32_t (*model_load_with)(const char *, const ld4mrec_load_params *, ld4mrec_model **);
    void (*model_free)(ld4mrec_model *);
    int32_t (*model_get_info)(const ld4mrec_model *, ld4mrec_model_info *);
    size_t (*model_n_items)(const ld4mrec_model *);
    const char *(*model_modality_name)(const ld4mrec_model *, int32_t);
    int32_t (*model_item_ids)(const ld4mrec_model *, int64_t *, size_t, size_t *);
    int32_t (*store_new)(const ld4mrec_model *, ld4mrec_store **);
    int32_t (*store_from_model)(const ld4mrec_model *, ld4mrec_store **);
    int32_t (*store_load)(const ld4mrec_model *, const char *, ld4mrec_store **, size_t *);
    int32_t (*store_save)(const ld4mrec_store *, const char *);
    void (*store_free)(ld4mrec_store *);
    int32_t (*store_add)(ld4mrec_store *, int64_t, const int64_t *, size_t, size_t *);
    int32_t (*store_remove)(ld4mrec_store *, int64_t, const int64_t *, size_t, size_t *);
    int32_t (*store_replace)(ld4mrec_store *, int64_t, const int64_t *, size_t, size_t *);
    int32_t (*store_clear_user)(ld4mrec_store *, int64_t, bool *);
    int32_t (*store_get_history)(const ld4mrec_store *, int64_t, int64_t *, size_t, size_t *);
    size_t (*store_n_users)(const ld4mrec_store *);
    int32_t (*store_user_ids)(const ld4mrec_store *, int64_t *, size_t, size_t *);
    ld4mrec_recommend_params (*recommend_params_default)(void);
    int32_t (*recommend_user)(const ld4mrec_model *, const ld4mrec_store *, int64_t, int32_t,
                              const ld4mrec_recommend_params *, int64_t *, float *, size_t,
                              size_t *);
    int32_t (*recommend_history)(const ld4mrec_model *, const int64_t *, size_t,
                                 const int64_t *, int32_t, const ld4mrec_recommend_params *,
                                 int64_t *, float *, size_t, size_t *, size_t *);
    int32_t (*recommend_users)(const ld4mrec_model *, const ld4mrec_store *, const int64_t *,
                               size_t, int32_t, const ld4mrec_recommend_params *, int64_t *,
                               float *, size_t, size_t *);
    int32_t (*score_user)(const ld4mrec_model *, const ld4mrec_store *, int64_t,
                          const int64_t *, size_t, float *, size_t *);
    int32_t (*score_history)(const ld4mrec_model *, const int64_t *, size_t, const int64_t *,
                             const int64_t *, size_t, float *, size_t *, size_t *);
    int32_t (*score_all_users)(const ld4mrec_model *, const ld4mrec_store *, const int64_t *,
                               size_t, float *, size_t);
    int32_t (*score_all_history)(const ld4mrec_model *, const int64_t *, size_t,
                                 const int64_t *, float *, size_t, size_t *);
    int32_t (*store_set_model)(ld4mrec_store *, const ld4mrec_model *, size_t *);
};

/* Keep in step with the header: Tests/abi/run.sh compares this count with the number of
 * LD4MREC_API declarations. */
#define N_FUNCTIONS 36

static const struct function_table functions = {
    ld4mrec_version_number,
    ld4mrec_version_string,
    ld4mrec_abi_version,
    ld4mrec_status_string,
    ld4mrec_last_error,
    ld4mrec_set_num_threads,
    ld4mrec_get_num_threads,
    ld4mrec_model_load,
    ld4mrec_load_params_default,
    ld4mrec_model_load_with,
    ld4mrec_model_free,
    ld4mrec_model_get_info,
    ld4mrec_model_n_items,
    ld4mrec_model_modality_name,
    ld4mrec_model_item_ids,
    ld4mrec_store_new,
    ld4mrec_store_from_model,
    ld4mrec_store_load,
    ld4mrec_store_save,
    ld4mrec_store_free,
    ld4mrec_store_add,
    ld4mrec_store_remove,
    ld4mrec_store_replace,
    ld4mrec_store_clear_user,
    ld4mrec_store_get_history,
    ld4mrec_store_n_users,
    ld4mrec_store_user_ids,
    ld4mrec_recommend_params_default,
    ld4mrec_recommend_user,
    ld4mrec_recommend_history,
    ld4mrec_recommend_users,
    ld4mrec_score_user,
    ld4mrec_score_history,
    ld4mrec_score_all_users,
    ld4mrec_score_all_history,
    ld4mrec_store_set_model,
};

/* The enum's values are part of the ABI. */
typedef char check_ok[LD4MREC_OK == 0 ? 1 : -1];
typedef char check_invalid_argument[LD4MREC_ERR_INVALID_ARGUMENT == 1 ? 1 : -1];
typedef char check_buffer_too_small[LD4MREC_ERR_BUFFER_TOO_SMALL == 2 ? 1 : -1];
typedef char check_io[LD4MREC_ERR_IO == 3 ? 1 : -1];
typedef char check_invalid_file[LD4MREC_ERR_INVALID_FILE == 4 ? 1 : -1];
typedef char check_unsupported_version[LD4MREC_ERR_UNSUPPORTED_VERSION == 5 ? 1 : -1];
typedef char check_unknown_user[LD4MREC_ERR_UNKNOWN_USER == 6 ? 1 : -1];
typedef char check_out_of_memory[LD4MREC_ERR_OUT_OF_MEMORY == 7 ? 1 : -1];
typedef char check_internal[LD4MREC_ERR_INTERNAL == 8 ? 1 : -1];
typedef char check_version_number[LD4MREC_VERSION_NUMBER ==
                                          LD4MREC_VERSION_MAJOR * 10000 +
                                              LD4MREC_VERSION_MINOR * 100 +
                                              LD4MREC_VERSION_PATCH
                                      ? 1
                                      : -1];
/* struct_size comes first in both parameter structs. */
typedef char check_params_first[offsetof(ld4mrec_recommend_params, struct_size) == 0 ? 1 : -1];
typedef char check_info_first[offsetof(ld4mrec_model_info, struct_size) == 0 ? 1 : -1];
typedef char check_load_params_first[offsetof(ld4mrec_load_params, struct_size) == 0 ? 1 : -1];
typedef char check_precisions[LD4MREC_PRECISION_FLOAT32 == 0 && LD4MREC_PRECISION_BFLOAT16 == 1 &&
                                  LD4MREC_PRECISION_FLOAT32_UNSCREENED == 2 ? 1 : -1];

int main(void) {
    /* Every pointer of the table is set: the count of members equals N_FUNCTIONS. */
    typedef char check_table_size[sizeof(struct function_table) ==
                                          N_FUNCTIONS * sizeof(int32_t(*)(void))
                                      ? 1
                                      : -1];
    check_table_size *unused_table_size = NULL;
    (void)unused_table_size;
    int missing = 0;
    if (functions.version_number == NULL || functions.score_all_history == NULL) missing = 1;
    if (ld4mrec_version_number() != LD4MREC_VERSION_NUMBER) missing = 1;
    printf("header_check: %d functions, version %s, sizeof(size_t) %zu, %s %lld\n",
           N_FUNCTIONS, functions.version_string(), size_of_size_t,
           true_value ? "int64 max" : "?", (long long)int64_value);
    return missing;
}
