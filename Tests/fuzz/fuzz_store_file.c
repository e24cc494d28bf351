/*
 * fuzz_store_file.c: libFuzzer target of the history-store file reader, through
 * ld4mrec_store_load with a small model (the file LD4MREC_FUZZ_MODEL names). A store that
 * loads must list its users and histories consistently, serve, and save again to a file
 * that loads to the same store.
 */
#include "fuzz_common.h"

static ld4mrec_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *path = getenv("LD4MREC_FUZZ_MODEL");
    if (path == NULL || ld4mrec_model_load(path, &model) != LD4MREC_OK) {
        fprintf(stderr, "fuzz_store_file: set LD4MREC_FUZZ_MODEL to a model file (%s)\n",
                ld4mrec_last_error());
        exit(2);
    }
    return 0;
}

/* Every user's history, in user order, flattened with lengths; compared after a reload. */
static size_t digest(const ld4mrec_store *store, int64_t **out) {
    size_t n_users = 0, total = 0;
    int32_t status = ld4mrec_store_user_ids(store, NULL, 0, &n_users);
    FUZZ_ASSERT(status == LD4MREC_OK || status == LD4MREC_ERR_BUFFER_TOO_SMALL);
    int64_t *users = malloc((n_users + 1) * sizeof *users);
    FUZZ_ASSERT(ld4mrec_store_user_ids(store, users, n_users, &n_users) == LD4MREC_OK);
    int64_t *flat = NULL;
    for (size_t u = 0; u < n_users; u++) {
        FUZZ_ASSERT(u == 0 || users[u - 1] < users[u]); /* ascending */
        size_t length = 0;
        status = ld4mrec_store_get_history(store, users[u], NULL, 0, &length);
        FUZZ_ASSERT(status == LD4MREC_OK || status == LD4MREC_ERR_BUFFER_TOO_SMALL);
        flat = realloc(flat, (total + length + 2) * sizeof *flat);
        flat[total++] = users[u];
        flat[total++] = (int64_t)length;
        FUZZ_ASSERT(ld4mrec_store_get_history(store, users[u], flat + total, length, &length) == LD4MREC_OK);
        for (size_t j = 1; j < length; j++) FUZZ_ASSERT(flat[total + j - 1] < flat[total + j]); /* a set */
        total += length;
    }
    free(users);
    *out = flat;
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_path("store.h5");
    fuzz_write_file(path, data, size);
    ld4mrec_store *store = NULL;
    size_t unknown = 0;
    int32_t status = ld4mrec_store_load(model, path, &store, &unknown);
    fuzz_check_status(status, "ld4mrec_store_load");
    if (status != LD4MREC_OK) {
        FUZZ_ASSERT(store == NULL);
        return 0;
    }
    int64_t *before = NULL;
    const size_t length = digest(store, &before);
    if (ld4mrec_store_n_users(store) > 0) {
        int64_t top[5];
        size_t count = 0;
        status = ld4mrec_recommend_user(model, store, before[0], 5, NULL, top, NULL, 5, &count);
        fuzz_check_status(status, "ld4mrec_recommend_user");
        FUZZ_ASSERT(status == LD4MREC_OK);
    }
    /* Saved and loaded again: the same store. */
    char copy[1100];
    snprintf(copy, sizeof copy, "%s.copy", path);
    FUZZ_ASSERT(ld4mrec_store_save(store, copy) == LD4MREC_OK);
    ld4mrec_store *again = NULL;
    size_t unknown_again = 0;
    FUZZ_ASSERT(ld4mrec_store_load(model, copy, &again, &unknown_again) == LD4MREC_OK);
    FUZZ_ASSERT(unknown_again == unknown);
    int64_t *after = NULL;
    FUZZ_ASSERT(digest(again, &after) == length &&
                (length == 0 || memcmp(before, after, length * sizeof *before) == 0));
    free(before);
    free(after);
    ld4mrec_store_free(again);
    ld4mrec_store_free(store);
    return 0;
}
