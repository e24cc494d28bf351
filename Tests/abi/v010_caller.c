/*
 * v010_caller.c: a program built against the 0.1.0 header (Tests/abi/v0.1.0/ld4mrec.h)
 * and linked against a library without symbol versions, as 0.1.0 was; run against the
 * current library it must keep working (Include/ld4mrec.h, "struct_size"):
 *   - ld4mrec_recommend_params_default gives it the 0.1.0 struct: struct_size 48, and
 *     nothing written past its 48 bytes (the library binds this binary's unversioned
 *     reference to ld4mrec_recommend_params_default@LD4MREC_0.1);
 *   - a 0.1.0 params struct, in a buffer of exactly its size, is read without going past
 *     its end and gives the answers of the defaults;
 *   - the 0.1.0 model_info is filled.
 * Tests/abi/run.sh builds the stub library and runs it:  v010_caller MODEL
 * Prints `v010: N passed, M failed`.
 */
#include "ld4mrec.h" /* the 0.1.0 header: -I Tests/abi/v0.1.0 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#if defined(__x86_64__)
/* On x86-64 a struct this large is returned through a pointer in %rdi, so calling the
 * function as one taking that pointer hands it a buffer whose tail we can inspect: an ABI
 * check, not portable C (hence no UBSan function-type check here). */
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
static void call_with_return_buffer(void *buffer) {
    void (*raw)(void *) = (void (*)(void *))(void (*)(void))ld4mrec_recommend_params_default;
    raw(buffer);
}
#endif

static void check(int ok, const char *text, int line) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("    v010_caller.c:%d: check failed: %s (last error: %s)\n", line, text,
               ld4mrec_last_error());
    }
}
#define CHECK(cond) check((cond) != 0, #cond, __LINE__)

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL\n", argv[0]);
        return 2;
    }
    CHECK(sizeof(ld4mrec_recommend_params) == 48); /* LP64: the layout this test is about */
    CHECK(ld4mrec_version_number() >= LD4MREC_VERSION_NUMBER);

    ld4mrec_recommend_params defaults = ld4mrec_recommend_params_default();
    CHECK(defaults.struct_size == sizeof(ld4mrec_recommend_params));
    CHECK(defaults.exclude_history && defaults.only_items == NULL && defaults.n_only_items == 0 &&
          defaults.excluded_items == NULL && defaults.n_excluded_items == 0);
#if defined(__x86_64__)
    /* The bytes after the caller's struct stay untouched. */
    unsigned char buffer[64];
    memset(buffer, 0xab, sizeof buffer);
    call_with_return_buffer(buffer);
    size_t size;
    memcpy(&size, buffer, sizeof size);
    CHECK(size == 48);
    int tail_untouched = 1;
    for (size_t i = 48; i < sizeof buffer; i++) tail_untouched &= buffer[i] == 0xab;
    CHECK(tail_untouched);
#endif

    ld4mrec_model *model = NULL;
    ld4mrec_store *store = NULL;
    CHECK(ld4mrec_model_load(argv[1], &model) == LD4MREC_OK);
    CHECK(ld4mrec_store_from_model(model, &store) == LD4MREC_OK);
    int64_t users[1000];
    size_t count = 0;
    CHECK(ld4mrec_store_user_ids(store, users, 1000, &count) == LD4MREC_OK && count > 0);

    /* The params in a heap block of exactly 48 bytes: under AddressSanitizer a read past
     * it would stop the test. */
    ld4mrec_recommend_params *params = malloc(sizeof *params);
    *params = ld4mrec_recommend_params_default();
    int64_t top[10], expected[10];
    float scores[10], expected_scores[10];
    size_t n = 0, n_expected = 0;
    CHECK(ld4mrec_recommend_user(model, store, users[0], 10, NULL, expected, expected_scores, 10,
                                 &n_expected) == LD4MREC_OK);
    CHECK(ld4mrec_recommend_user(model, store, users[0], 10, params, top, scores, 10, &n) ==
          LD4MREC_OK);
    CHECK(n == 10 && n_expected == 10 && memcmp(top, expected, sizeof top) == 0);
    params->exclude_history = false;
    params->excluded_items = &expected[0];
    params->n_excluded_items = 1;
    CHECK(ld4mrec_recommend_history(model, NULL, 0, NULL, 10, params, top, NULL, 10, &n, NULL) ==
          LD4MREC_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++) found |= top[i] == expected[0];
    CHECK(n == 10 && !found);
    free(params);

    ld4mrec_model_info *info = malloc(sizeof *info);
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    CHECK(ld4mrec_model_get_info(model, info) == LD4MREC_OK);
    CHECK(info->struct_size == sizeof *info && info->n_items == (int64_t)ld4mrec_model_n_items(model));
    free(info);

    ld4mrec_store_free(store);
    ld4mrec_model_free(model);
    printf("v010: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
