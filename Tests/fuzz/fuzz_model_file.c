/*
 * fuzz_model_file.c: libFuzzer target of the model file reader, through
 * ld4mrec_model_load. Each input is written to a temporary file and loaded; a model that
 * loads must describe itself consistently and serve.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_path("model.h5");
    fuzz_write_file(path, data, size);
    ld4mrec_model *model = NULL;
    int32_t status = ld4mrec_model_load(path, &model);
    fuzz_check_status(status, "ld4mrec_model_load");
    if (status != LD4MREC_OK) {
        FUZZ_ASSERT(model == NULL);
        return 0;
    }
    ld4mrec_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    FUZZ_ASSERT(ld4mrec_model_get_info(model, &info) == LD4MREC_OK);
    const size_t n_items = ld4mrec_model_n_items(model);
    FUZZ_ASSERT(info.n_items >= 1 && (size_t)info.n_items == n_items);
    for (int32_t m = 0; m < info.n_modalities; m++) FUZZ_ASSERT(ld4mrec_model_modality_name(model, m) != NULL);

    int64_t *ids = malloc(n_items * sizeof *ids);
    size_t count = 0;
    FUZZ_ASSERT(ld4mrec_model_item_ids(model, ids, n_items, &count) == LD4MREC_OK && count == n_items);
    int64_t top[5];
    float scores[5];
    status = ld4mrec_recommend_history(model, ids, n_items < 3 ? n_items : 3, NULL, 5, NULL, top,
                                       scores, 5, &count, NULL);
    fuzz_check_status(status, "ld4mrec_recommend_history");
    FUZZ_ASSERT(status == LD4MREC_OK && count <= 5);

    ld4mrec_store *store = NULL;
    status = ld4mrec_store_from_model(model, &store);
    fuzz_check_status(status, "ld4mrec_store_from_model");
    if (status == LD4MREC_OK && ld4mrec_store_n_users(store) > 0) {
        int64_t user = 0;
        status = ld4mrec_store_user_ids(store, &user, 1, &count);
        FUZZ_ASSERT(status == LD4MREC_OK || status == LD4MREC_ERR_BUFFER_TOO_SMALL);
        status = ld4mrec_store_user_ids(store, NULL, 0, &count);
        FUZZ_ASSERT(status == LD4MREC_ERR_BUFFER_TOO_SMALL && count == ld4mrec_store_n_users(store));
        int64_t *users = malloc(count * sizeof *users);
        FUZZ_ASSERT(ld4mrec_store_user_ids(store, users, count, &count) == LD4MREC_OK);
        status = ld4mrec_recommend_user(model, store, users[0], 5, NULL, top, scores, 5, &count);
        fuzz_check_status(status, "ld4mrec_recommend_user");
        FUZZ_ASSERT(status == LD4MREC_OK);
        free(users);
    }
    ld4mrec_store_free(store);
    free(ids);
    ld4mrec_model_free(model);
    return 0;
}
