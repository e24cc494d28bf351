/*
 * capi_test.c: tests of the C API of libld4mrec (Include/ld4mrec.h) through the built
 * library: error codes instead of crashes, buffer protocols, filter semantics, files,
 * per-thread errors and concurrent use.
 *
 *   capi_test MODEL SMALL_MODEL TMPDIR
 *
 * MODEL is a synthesized model (`ld4mrec synthesize --items 300 --users 60 --hidden 32
 * --svd-rank 8 --step-embedding 10 --blocks 2 --film-hidden 16 --modalities
 * image:16,audio:8`), SMALL_MODEL one with --items 100 (a catalogue that is a prefix of
 * MODEL's), TMPDIR a writable folder. Tests/abi/run.sh prepares all three.
 * Prints one line per test and `capi: N passed, M failed`; exits 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include "ld4mrec.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------- */
/* A tiny test framework                                                               */
/* ---------------------------------------------------------------------------------- */

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static int current_failures; /* failed checks in the running test (any thread) */
static int tests_passed, tests_failed;

static void fail_at(const char *file, int line, const char *format, ...) {
    va_list args;
    pthread_mutex_lock(&report_lock);
    current_failures++;
    if (current_failures <= 20) { /* enough to diagnose, without flooding */
        fprintf(stdout, "    %s:%d: ", file, line);
        va_start(args, format);
        vfprintf(stdout, format, args);
        va_end(args);
        fputc('\n', stdout);
    }
    pthread_mutex_unlock(&report_lock);
}

static int check_at(int ok, const char *text, const char *file, int line) {
    if (!ok) fail_at(file, line, "check failed: %s", text);
    return ok;
}

static int check_status_at(int32_t actual, int32_t expected, const char *text, const char *file,
                           int line) {
    if (actual == expected) return 1;
    fail_at(file, line, "%s returned %d (%s), expected %d (%s); last error: \"%s\"", text, actual,
            ld4mrec_status_string(actual), expected, ld4mrec_status_string(expected),
            ld4mrec_last_error());
    return 0;
}

#define CHECK(cond) check_at((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_STATUS(call, expected) check_status_at((call), (expected), #call, __FILE__, __LINE__)
#define CHECK_OK(call) CHECK_STATUS(call, LD4MREC_OK)

/* A failing call with a marker in its message (the missing path), to tell whether the
 * next failing call set a message of its own. */
#define MARKER "ld4mrec-abi-test-marker"
static void arm_last_error(void) {
    ld4mrec_model *model = NULL;
    if (ld4mrec_model_load("/nonexistent-" MARKER "/model.h5", &model) != LD4MREC_ERR_IO)
        fail_at(__FILE__, __LINE__, "arming the last error: loading a missing file is not _IO");
}

/* The call fails with `expected` and sets a new, non-empty last error. */
static void check_error_at(int32_t actual, int32_t expected, const char *text, const char *file,
                           int line) {
    if (!check_status_at(actual, expected, text, file, line)) return;
    const char *message = ld4mrec_last_error();
    if (message == NULL || message[0] == '\0')
        fail_at(file, line, "%s: empty last error", text);
    else if (strstr(message, MARKER) != NULL)
        fail_at(file, line, "%s: last error not updated (still \"%s\")", text, message);
}

#define CHECK_ERROR(call, expected)                                          \
    do {                                                                     \
        arm_last_error();                                                    \
        check_error_at((call), (expected), #call, __FILE__, __LINE__);       \
    } while (0)
#define CHECK_INVALID(call) CHECK_ERROR(call, LD4MREC_ERR_INVALID_ARGUMENT)

typedef void (*test_fn)(void);

static void run_test(const char *name, test_fn fn) {
    current_failures = 0;
    fn();
    if (current_failures == 0) {
        tests_passed++;
        printf("ok   %s\n", name);
    } else {
        tests_failed++;
        printf("FAIL %s (%d failed checks)\n", name, current_failures);
    }
    fflush(stdout);
}

#define RUN(fn) run_test(#fn, fn)

/* ---------------------------------------------------------------------------------- */
/* Fixtures                                                                             */
/* ---------------------------------------------------------------------------------- */

/* What Tests/abi/run.sh synthesizes. */
#define N_ITEMS 300
#define N_USERS 60
#define SMALL_N_ITEMS 100

static const char *model_path, *small_model_path, *tmp_dir;
static ld4mrec_model *model;       /* shared by the tests, freed at the end */
static int64_t items[N_ITEMS];     /* the model's item ids, in score-vector order */
static int64_t users[N_USERS];     /* the users with training histories */
static const int64_t UNKNOWN_ITEM = 999999937;
static const int64_t NEW_USER = 777777;

static char *temp_path(const char *name) {
    static char buffers[8][1024];
    static int next;
    char *buffer = buffers[next++ % 8];
    snprintf(buffer, sizeof buffers[0], "%s/%s", tmp_dir, name);
    return buffer;
}

static long item_index(int64_t id) {
    for (long i = 0; i < N_ITEMS; i++)
        if (items[i] == id) return i;
    return -1;
}

static int write_file(const char *path, const void *data, size_t size) {
    FILE *file = fopen(path, "wb");
    if (file == NULL) return 0;
    size_t written = size ? fwrite(data, 1, size, file) : 0;
    return fclose(file) == 0 && written == size;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *data = malloc(length > 0 ? (size_t)length : 1);
    if (data != NULL && fread(data, 1, (size_t)length, file) != (size_t)length) {
        free(data);
        data = NULL;
    }
    fclose(file);
    *size = (size_t)length;
    return data;
}

static int close_enough(float a, float b) {
    if (isinf(a) || isinf(b)) return a == b;
    float scale = fabsf(a) > 1 ? fabsf(a) : 1;
    return fabsf(a - b) <= 1e-4f * scale;
}

static ld4mrec_store *store_from_model(void) {
    ld4mrec_store *store = NULL;
    CHECK_OK(ld4mrec_store_from_model(model, &store));
    return store;
}

/* A user's history, or -1 for an unknown user. */
static long history_of(const ld4mrec_store *store, int64_t user, int64_t *out, size_t capacity) {
    size_t count = 0;
    int32_t status = ld4mrec_store_get_history(store, user, out, capacity, &count);
    if (status == LD4MREC_ERR_UNKNOWN_USER) return -1;
    if (!CHECK_OK(status)) return -1;
    return (long)count;
}

/*
 * Checks a top-k answer against the full score vector: `allowed[i]` says whether item row
 * i is a candidate; the answer must hold min(k, candidates) distinct candidates, best
 * first, with their scores, and no left-out candidate may score better than the last one.
 */
static void check_top_k_at(const float *full, const int *allowed, size_t k, const int64_t *top,
                           const float *scores, size_t count, const char *file, int line) {
    size_t candidates = 0;
    for (size_t i = 0; i < N_ITEMS; i++) candidates += allowed[i] != 0;
    size_t expected = k < candidates ? k : candidates;
    if (count != expected) {
        fail_at(file, line, "top-k returned %zu items, expected %zu", count, expected);
        return;
    }
    int chosen[N_ITEMS] = {0};
    for (size_t j = 0; j < count; j++) {
        long i = item_index(top[j]);
        if (i < 0 || !allowed[i] || chosen[i]) {
            fail_at(file, line, "top-k item %lld at rank %zu is not a candidate or repeated",
                    (long long)top[j], j);
            return;
        }
        chosen[i] = 1;
        if (!close_enough(scores[j], full[i]))
            fail_at(file, line, "score of item %lld is %g, full vector says %g", (long long)top[j],
                    scores[j], full[i]);
        if (j > 0 && scores[j] > scores[j - 1])
            fail_at(file, line, "scores not in descending order at rank %zu", j);
    }
    if (count == 0) return;
    for (size_t i = 0; i < N_ITEMS; i++)
        if (allowed[i] && !chosen[i] && full[i] > scores[count - 1] + 1e-4f)
            fail_at(file, line, "item %lld (score %g) beats the last recommended one (%g)",
                    (long long)items[i], full[i], scores[count - 1]);
}

#define CHECK_TOP_K(full, allowed, k, top, scores, count) \
    check_top_k_at(full, allowed, k, top, scores, count, __FILE__, __LINE__)

/* ---------------------------------------------------------------------------------- */
/* Versions and status text                                                             */
/* ---------------------------------------------------------------------------------- */

static void test_versions(void) {
    CHECK(ld4mrec_version_number() == LD4MREC_VERSION_NUMBER);
    CHECK(ld4mrec_version_string() != NULL);
    if (ld4mrec_version_string() != NULL)
        CHECK(strcmp(ld4mrec_version_string(), LD4MREC_VERSION_STRING) == 0);
    CHECK(ld4mrec_abi_version() == LD4MREC_ABI_VERSION);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", LD4MREC_VERSION_MAJOR, LD4MREC_VERSION_MINOR,
             LD4MREC_VERSION_PATCH);
    CHECK(strcmp(expected, LD4MREC_VERSION_STRING) == 0);
}

static void test_status_strings(void) {
    const char *texts[9];
    for (int32_t code = 0; code <= LD4MREC_ERR_INTERNAL; code++) {
        texts[code] = ld4mrec_status_string(code);
        if (!CHECK(texts[code] != NULL && texts[code][0] != '\0')) return;
        for (int32_t other = 0; other < code; other++)
            if (strcmp(texts[other], texts[code]) == 0)
                fail_at(__FILE__, __LINE__, "codes %d and %d share the text \"%s\"", other, code,
                        texts[code]);
    }
    CHECK(strcmp(ld4mrec_status_string(LD4MREC_OK), "ok") == 0);
    CHECK(strcmp(ld4mrec_status_string(LD4MREC_ERR_INVALID_ARGUMENT), "invalid argument") == 0);
    const int32_t unknown[] = {-1, LD4MREC_ERR_INTERNAL + 1, 100, INT32_MAX, INT32_MIN};
    for (size_t j = 0; j < sizeof unknown / sizeof unknown[0]; j++) {
        const char *text = ld4mrec_status_string(unknown[j]);
        if (!CHECK(text != NULL && text[0] != '\0')) continue;
        for (int32_t code = 0; code <= LD4MREC_ERR_INTERNAL; code++)
            if (strcmp(text, texts[code]) == 0)
                fail_at(__FILE__, __LINE__, "unknown code %d reads as code %d (\"%s\")",
                        unknown[j], code, text);
    }
}

/* ---------------------------------------------------------------------------------- */
/* Invalid arguments: NULL handles and pointers                                          */
/* ---------------------------------------------------------------------------------- */

static void test_free_null(void) {
    ld4mrec_model_free(NULL);
    ld4mrec_store_free(NULL);
    CHECK(1); /* reaching this line is the test */
}

static void test_null_model_functions(void) {
    ld4mrec_model *out = (ld4mrec_model *)&out; /* a sentinel: must stay untouched */
    CHECK_INVALID(ld4mrec_model_load(NULL, &out));
    CHECK(out == (ld4mrec_model *)&out);
    CHECK_INVALID(ld4mrec_model_load(model_path, NULL));

    ld4mrec_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_INVALID(ld4mrec_model_get_info(NULL, &info));
    CHECK_INVALID(ld4mrec_model_get_info(model, NULL));
    CHECK(ld4mrec_model_n_items(NULL) == 0);
    CHECK(ld4mrec_model_modality_name(NULL, 0) == NULL);

    int64_t ids[N_ITEMS];
    size_t count = 12345;
    CHECK_INVALID(ld4mrec_model_item_ids(NULL, ids, N_ITEMS, &count));
    CHECK(count == 12345);
    CHECK_INVALID(ld4mrec_model_item_ids(model, NULL, N_ITEMS, &count));
    CHECK(count == 12345);
}

static void test_null_store_functions(void) {
    ld4mrec_store *store = store_from_model();
    ld4mrec_store *out = (ld4mrec_store *)&out;
    CHECK_INVALID(ld4mrec_store_new(NULL, &out));
    CHECK_INVALID(ld4mrec_store_new(model, NULL));
    CHECK_INVALID(ld4mrec_store_from_model(NULL, &out));
    CHECK_INVALID(ld4mrec_store_from_model(model, NULL));
    size_t skipped = 12345;
    CHECK_INVALID(ld4mrec_store_load(NULL, temp_path("any.h5"), &out, &skipped));
    CHECK_INVALID(ld4mrec_store_load(model, NULL, &out, &skipped));
    CHECK_INVALID(ld4mrec_store_load(model, temp_path("any.h5"), NULL, &skipped));
    CHECK(out == (ld4mrec_store *)&out);
    CHECK(skipped == 12345);
    CHECK_INVALID(ld4mrec_store_save(NULL, temp_path("any.h5")));
    CHECK_INVALID(ld4mrec_store_save(store, NULL));

    int64_t two[2] = {items[0], items[1]};
    CHECK_INVALID(ld4mrec_store_add(NULL, users[0], two, 2, &skipped));
    CHECK_INVALID(ld4mrec_store_add(store, users[0], NULL, 2, &skipped));
    CHECK_INVALID(ld4mrec_store_remove(NULL, users[0], two, 2, &skipped));
    CHECK_INVALID(ld4mrec_store_remove(store, users[0], NULL, 2, &skipped));
    CHECK_INVALID(ld4mrec_store_replace(NULL, users[0], two, 2, &skipped));
    CHECK_INVALID(ld4mrec_store_replace(store, users[0], NULL, 2, &skipped));
    CHECK(skipped == 12345);
    bool existed = true;
    CHECK_INVALID(ld4mrec_store_clear_user(NULL, users[0], &existed));
    CHECK(existed == true);

    int64_t buffer[N_ITEMS];
    size_t count = 12345;
    CHECK_INVALID(ld4mrec_store_get_history(NULL, users[0], buffer, N_ITEMS, &count));
    CHECK_INVALID(ld4mrec_store_get_history(store, users[0], buffer, N_ITEMS, NULL));
    /* out_items may be NULL only with capacity 0. */
    CHECK_INVALID(ld4mrec_store_get_history(store, users[0], NULL, N_ITEMS, &count));
    CHECK(count == 12345);
    CHECK(ld4mrec_store_n_users(NULL) == 0);
    CHECK_INVALID(ld4mrec_store_user_ids(NULL, buffer, N_ITEMS, &count));
    CHECK_INVALID(ld4mrec_store_user_ids(store, buffer, N_ITEMS, NULL));
    CHECK(count == 12345);
    CHECK_INVALID(ld4mrec_store_set_model(NULL, model, &count));
    CHECK_INVALID(ld4mrec_store_set_model(store, NULL, &count));
    CHECK(count == 12345);

    /* The failed calls changed nothing. */
    CHECK(ld4mrec_store_n_users(store) == N_USERS);
    ld4mrec_store_free(store);
}

static void test_null_recommend_functions(void) {
    ld4mrec_store *store = store_from_model();
    int64_t top[10];
    float scores[10];
    size_t count = 12345, skipped = 12345;
    const int64_t user = users[0];
    int64_t history[2] = {items[0], items[1]};

    CHECK_INVALID(ld4mrec_recommend_user(NULL, store, user, 10, NULL, top, scores, 10, &count));
    CHECK_INVALID(ld4mrec_recommend_user(model, NULL, user, 10, NULL, top, scores, 10, &count));
    CHECK_INVALID(ld4mrec_recommend_user(model, store, user, 10, NULL, NULL, scores, 10, &count));
    CHECK_INVALID(ld4mrec_recommend_user(model, store, user, 10, NULL, top, scores, 10, NULL));

    CHECK_INVALID(ld4mrec_recommend_history(NULL, history, 2, NULL, 10, NULL, top, scores, 10,
                                            &count, &skipped));
    CHECK_INVALID(ld4mrec_recommend_history(model, NULL, 2, NULL, 10, NULL, top, scores, 10,
                                            &count, &skipped));
    CHECK_INVALID(ld4mrec_recommend_history(model, history, 2, NULL, 10, NULL, NULL, scores, 10,
                                            &count, &skipped));
    CHECK_INVALID(ld4mrec_recommend_history(model, history, 2, NULL, 10, NULL, top, scores, 10,
                                            NULL, &skipped));
    CHECK(count == 12345 && skipped == 12345);

    int64_t many[20];
    size_t counts[2] = {12345, 12345};
    int64_t two_users[2] = {users[0], users[1]};
    CHECK_INVALID(ld4mrec_recommend_users(NULL, store, two_users, 2, 10, NULL, many, NULL, 20,
                                          counts));
    CHECK_INVALID(ld4mrec_recommend_users(model, NULL, two_users, 2, 10, NULL, many, NULL, 20,
                                          counts));
    CHECK_INVALID(ld4mrec_recommend_users(model, store, NULL, 2, 10, NULL, many, NULL, 20,
                                          counts));
    CHECK_INVALID(ld4mrec_recommend_users(model, store, two_users, 0, 10, NULL, many, NULL, 20,
                                          counts));
    CHECK_INVALID(ld4mrec_recommend_users(model, store, two_users, 2, 10, NULL, NULL, NULL, 20,
                                          counts));
    CHECK(counts[0] == 12345 && counts[1] == 12345);

    int64_t candidates[3] = {items[5], items[6], items[7]};
    float out[3];
    size_t unknown = 12345;
    CHECK_INVALID(ld4mrec_score_user(NULL, store, user, candidates, 3, out, &unknown));
    CHECK_INVALID(ld4mrec_score_user(model, NULL, user, candidates, 3, out, &unknown));
    CHECK_INVALID(ld4mrec_score_user(model, store, user, NULL, 3, out, &unknown));
    CHECK_INVALID(ld4mrec_score_user(model, store, user, candidates, 3, NULL, &unknown));
    CHECK_INVALID(ld4mrec_score_history(NULL, history, 2, NULL, candidates, 3, out, &unknown,
                                        &skipped));
    CHECK_INVALID(ld4mrec_score_history(model, NULL, 2, NULL, candidates, 3, out, &unknown,
                                        &skipped));
    CHECK_INVALID(ld4mrec_score_history(model, history, 2, NULL, NULL, 3, out, &unknown,
                                        &skipped));
    CHECK_INVALID(ld4mrec_score_history(model, history, 2, NULL, candidates, 3, NULL, &unknown,
                                        &skipped));
    CHECK(unknown == 12345 && skipped == 12345);

    float *full = malloc(2 * N_ITEMS * sizeof *full);
    CHECK_INVALID(ld4mrec_score_all_users(NULL, store, two_users, 2, full, 2 * N_ITEMS));
    CHECK_INVALID(ld4mrec_score_all_users(model, NULL, two_users, 2, full, 2 * N_ITEMS));
    CHECK_INVALID(ld4mrec_score_all_users(model, store, NULL, 2, full, 2 * N_ITEMS));
    CHECK_INVALID(ld4mrec_score_all_users(model, store, two_users, 0, full, 2 * N_ITEMS));
    CHECK_INVALID(ld4mrec_score_all_users(model, store, two_users, 2, NULL, 2 * N_ITEMS));
    CHECK_INVALID(ld4mrec_score_all_history(NULL, history, 2, NULL, full, N_ITEMS, &skipped));
    CHECK_INVALID(ld4mrec_score_all_history(model, NULL, 2, NULL, full, N_ITEMS, &skipped));
    CHECK_INVALID(ld4mrec_score_all_history(model, history, 2, NULL, NULL, N_ITEMS, &skipped));
    CHECK(skipped == 12345);
    free(full);
    ld4mrec_store_free(store);
}

/* NULL is fine where the header says so. */
static void test_optional_pointers(void) {
    ld4mrec_store *store = store_from_model();
    int64_t top[5];
    size_t count = 0;
    CHECK_OK(ld4mrec_model_item_ids(model, items, N_ITEMS, NULL));
    CHECK_OK(ld4mrec_store_add(store, NEW_USER, NULL, 0, NULL)); /* creates the user */
    CHECK(history_of(store, NEW_USER, top, 5) == 0);
    CHECK_OK(ld4mrec_store_add(store, NEW_USER, &items[3], 1, NULL));
    CHECK_OK(ld4mrec_store_replace(store, NEW_USER, &items[4], 1, NULL));
    CHECK_OK(ld4mrec_store_remove(store, NEW_USER, &items[4], 1, NULL));
    CHECK_OK(ld4mrec_store_clear_user(store, NEW_USER, NULL));
    CHECK_OK(ld4mrec_recommend_user(model, store, users[0], 5, NULL, top, NULL, 5, &count));
    CHECK(count == 5);
    CHECK_OK(ld4mrec_recommend_history(model, NULL, 0, NULL, 5, NULL, top, NULL, 5, &count,
                                       NULL));
    CHECK(count == 5);
    int64_t many[10];
    CHECK_OK(ld4mrec_recommend_users(model, store, users, 2, 5, NULL, many, NULL, 10, NULL));
    float score;
    CHECK_OK(ld4mrec_score_user(model, store, users[0], &items[0], 1, &score, NULL));
    CHECK_OK(ld4mrec_score_history(model, NULL, 0, NULL, &items[0], 1, &score, NULL, NULL));
    /* No candidates: NULL candidates and NULL or non-NULL out_scores. */
    CHECK_OK(ld4mrec_score_user(model, store, users[0], NULL, 0, NULL, NULL));
    CHECK_OK(ld4mrec_score_user(model, store, users[0], NULL, 0, &score, NULL));
    CHECK_OK(ld4mrec_score_history(model, &items[0], 1, NULL, NULL, 0, &score, NULL, NULL));
    CHECK_OK(ld4mrec_score_history(model, &items[0], 1, NULL, NULL, 0, NULL, NULL, NULL));
    float *full = malloc(N_ITEMS * sizeof *full);
    CHECK_OK(ld4mrec_score_all_history(model, NULL, 0, NULL, full, N_ITEMS, NULL));
    free(full);
    ld4mrec_store_free(store);
}

/* ---------------------------------------------------------------------------------- */
/* Loading models                                                                       */
/* ---------------------------------------------------------------------------------- */

static void check_load_fails_at(const char *path, int32_t expected, const char *file, int line) {
    ld4mrec_model *out = (ld4mrec_model *)&out;
    arm_last_error();
    int32_t status = ld4mrec_model_load(path, &out);
    char text[1200];
    snprintf(text, sizeof text, "ld4mrec_model_load(\"%s\")", path);
    check_error_at(status, expected, text, file, line);
    if (out != (ld4mrec_model *)&out) {
        fail_at(file, line, "%s changed out_model on failure", text);
        if (status == LD4MREC_OK) ld4mrec_model_free(out);
    }
}

#define CHECK_LOAD_FAILS(path, expected) check_load_fails_at(path, expected, __FILE__, __LINE__)

static void test_load_missing_and_not_regular(void) {
    CHECK_LOAD_FAILS(temp_path("does-not-exist.h5"), LD4MREC_ERR_IO);
    CHECK_LOAD_FAILS(tmp_dir, LD4MREC_ERR_IO); /* a folder */
    ld4mrec_model *out = NULL;
    CHECK(ld4mrec_model_load("", &out) != LD4MREC_OK);
    CHECK(out == NULL);
}

static void test_load_invalid_files(void) {
    const char *path = temp_path("invalid.h5");
    CHECK(write_file(path, "", 0));
    CHECK_LOAD_FAILS(path, LD4MREC_ERR_INVALID_FILE); /* empty */

    unsigned char noise[8192];
    unsigned seed = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        seed = seed * 1103515245u + 12345u;
        noise[i] = (unsigned char)(seed >> 16);
    }
    CHECK(write_file(path, noise, sizeof noise));
    CHECK_LOAD_FAILS(path, LD4MREC_ERR_INVALID_FILE); /* random bytes */
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    memcpy(noise, signature, sizeof signature);
    CHECK(write_file(path, noise, sizeof noise));
    CHECK_LOAD_FAILS(path, LD4MREC_ERR_INVALID_FILE); /* HDF5 signature, then noise */
    const char *text = "format = \"ld4mrec-model\"\n";
    CHECK(write_file(path, text, strlen(text)));
    CHECK_LOAD_FAILS(path, LD4MREC_ERR_INVALID_FILE); /* text */

    size_t size = 0;
    unsigned char *bytes = read_file(model_path, &size);
    if (!CHECK(bytes != NULL && size > 4096)) return;
    const size_t lengths[] = {1, 8, 100, 512, 1024, 2048, 4096, size / 4, size / 2,
                              size - 4096, size - 100, size - 1};
    for (size_t j = 0; j < sizeof lengths / sizeof lengths[0]; j++) {
        CHECK(write_file(path, bytes, lengths[j]));
        CHECK_LOAD_FAILS(path, LD4MREC_ERR_INVALID_FILE); /* truncated */
    }
    free(bytes);
}

/* Damaged (not truncated) model files: any status but a crash, a hang or _INTERNAL. Each
 * load runs in a child process, so that a crash is reported rather than fatal. */
static void test_load_damaged_files(void) {
    size_t size = 0;
    unsigned char *bytes = read_file(model_path, &size);
    if (!CHECK(bytes != NULL && size > 4096)) return;
    const char *path = temp_path("damaged.h5");
    unsigned seed = 777;
    int loaded = 0, rejected = 0;
    for (int round = 0; round < 24; round++) {
        unsigned char *copy = malloc(size);
        memcpy(copy, bytes, size);
        for (int flip = 0; flip < 1 + round % 4; flip++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = round < 12 ? (seed >> 8) % 4096 : (seed >> 8) % size; /* header first */
            copy[at] ^= (unsigned char)(1u << (seed % 8));
        }
        CHECK(write_file(path, copy, size));
        free(copy);
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            alarm(60);
            ld4mrec_model *damaged = NULL;
            int32_t status = ld4mrec_model_load(path, &damaged);
            if (status == LD4MREC_OK) {
                /* It loaded: it must serve too. */
                int64_t top[10];
                size_t count = 0;
                if (ld4mrec_recommend_history(damaged, NULL, 0, NULL, 10, NULL, top, NULL, 10,
                                              &count, NULL) != LD4MREC_OK)
                    _exit(100);
                ld4mrec_model_free(damaged);
            } else if (ld4mrec_last_error()[0] == '\0') {
                _exit(101);
            }
            _exit(status);
        }
        int wait_status = 0;
        if (!CHECK(child > 0 && waitpid(child, &wait_status, 0) == child)) break;
        if (WIFSIGNALED(wait_status)) {
            fail_at(__FILE__, __LINE__, "round %d: a damaged model killed the process (signal %d)",
                    round, WTERMSIG(wait_status));
            continue;
        }
        int status = WEXITSTATUS(wait_status);
        if (status == 100 || status == 101 || status == LD4MREC_ERR_INTERNAL ||
            status == LD4MREC_ERR_IO || status == LD4MREC_ERR_INVALID_ARGUMENT)
            fail_at(__FILE__, __LINE__, "round %d: loading a damaged model gave %d", round, status);
        if (status == 0) loaded++;
        else rejected++;
    }
    free(bytes);
    printf("    (damaged models: %d rejected, %d loaded and served)\n", rejected, loaded);
}

static void test_model_info(void) {
    ld4mrec_model_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (!CHECK_OK(ld4mrec_model_get_info(model, &info))) return;
    CHECK(info.struct_size == sizeof info);
    CHECK(info.format_version == 1);
    CHECK(info.n_items == N_ITEMS);
    CHECK(info.n_users == N_USERS);
    CHECK(info.n_history_users == N_USERS);
    CHECK(info.hidden_size == 32);
    CHECK(info.svd_rank == 8);
    CHECK(info.step_embedding_size == 10);
    CHECK(info.n_steps == 5);
    CHECK(info.n_blocks == 2);
    CHECK(info.film_hidden_size == 16);
    CHECK(info.n_modalities == 2);
    CHECK(ld4mrec_model_n_items(model) == N_ITEMS);
    const char *first = ld4mrec_model_modality_name(model, 0);
    const char *second = ld4mrec_model_modality_name(model, 1);
    CHECK(first != NULL && strcmp(first, "image") == 0);
    CHECK(second != NULL && strcmp(second, "audio") == 0);
    CHECK(ld4mrec_model_modality_name(model, 2) == NULL);
    CHECK(ld4mrec_model_modality_name(model, -1) == NULL);
    CHECK(ld4mrec_model_modality_name(model, INT32_MAX) == NULL);

    CHECK(info.precision == LD4MREC_PRECISION_FLOAT32 && info.weight_bytes > 0);

    /* struct_size below the 0.1.0 struct (which ends at n_modalities): rejected, nothing
     * written. */
    const size_t v010 = offsetof(ld4mrec_model_info, n_modalities) + sizeof(int32_t);
    const size_t sizes[] = {0, 1, sizeof(size_t), v010 - 1};
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
        memset(&info, 0x5a, sizeof info);
        info.struct_size = sizes[j];
        CHECK_INVALID(ld4mrec_model_get_info(model, &info));
        CHECK(info.struct_size == sizes[j] && info.format_version == 0x5a5a5a5a);
    }
    /* A caller compiled against 0.1.0: the fields it knows are filled, the bytes past its
     * struct are not touched. */
    memset(&info, 0x5a, sizeof info);
    info.struct_size = v010;
    CHECK_OK(ld4mrec_model_get_info(model, &info));
    CHECK(info.struct_size == v010 && info.n_items == N_ITEMS && info.n_modalities == 2);
    CHECK(info.precision == 0x5a5a5a5a);
}

static void test_load_options(void) {
    ld4mrec_load_params params = ld4mrec_load_params_default();
    CHECK(params.struct_size == sizeof params && params.precision == LD4MREC_PRECISION_FLOAT32);
    ld4mrec_model *half = NULL, *full = NULL;
    CHECK_OK(ld4mrec_model_load_with(model_path, NULL, &full));
    params.precision = LD4MREC_PRECISION_BFLOAT16;
    CHECK_OK(ld4mrec_model_load_with(model_path, &params, &half));
    ld4mrec_model_info a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
    CHECK_OK(ld4mrec_model_get_info(full, &a));
    CHECK_OK(ld4mrec_model_get_info(half, &b));
    CHECK(b.precision == LD4MREC_PRECISION_BFLOAT16 && b.weight_bytes < a.weight_bytes);
    /* bf16 scores stay close to the float32 ones. */
    const int64_t history[] = {1000, 1007, 1014};
    static float x[N_ITEMS], y[N_ITEMS];
    CHECK_OK(ld4mrec_score_all_history(full, history, 3, NULL, x, N_ITEMS, NULL));
    CHECK_OK(ld4mrec_score_all_history(half, history, 3, NULL, y, N_ITEMS, NULL));
    double worst = 0, spread = 0;
    for (size_t i = 0; i < N_ITEMS; i++) {
        worst = fmax(worst, fabs((double)x[i] - y[i]));
        spread = fmax(spread, fabs((double)x[i]));
    }
    CHECK(worst > 0 && worst < 0.02 * spread);
    ld4mrec_model_free(half);

    /* float32 without the bf16 screen: the same lists and scores, never more memory. */
    ld4mrec_model *plain = NULL;
    params.precision = LD4MREC_PRECISION_FLOAT32_UNSCREENED;
    CHECK_OK(ld4mrec_model_load_with(model_path, &params, &plain));
    ld4mrec_model_info c = {.struct_size = sizeof c};
    CHECK_OK(ld4mrec_model_get_info(plain, &c));
    CHECK(c.precision == LD4MREC_PRECISION_FLOAT32_UNSCREENED && c.weight_bytes <= a.weight_bytes);
    int64_t top_a[20], top_c[20];
    float scores_a[20], scores_c[20];
    size_t count_a = 0, count_c = 0;
    CHECK_OK(ld4mrec_recommend_history(full, history, 3, NULL, 20, NULL, top_a, scores_a, 20, &count_a, NULL));
    CHECK_OK(ld4mrec_recommend_history(plain, history, 3, NULL, 20, NULL, top_c, scores_c, 20, &count_c, NULL));
    CHECK(count_a == 20 && count_c == 20);
    for (size_t i = 0; i < 20; i++)
        CHECK(top_a[i] == top_c[i] && fabs((double)scores_a[i] - scores_c[i]) <= 1e-5 * fmax(1, fabs(scores_c[i])));
    ld4mrec_model_free(plain);
    ld4mrec_model_free(full);

    ld4mrec_model *bad = NULL;
    params.precision = 7;
    CHECK_INVALID(ld4mrec_model_load_with(model_path, &params, &bad));
    CHECK(bad == NULL && strstr(ld4mrec_last_error(), "precision") != NULL);
    params = ld4mrec_load_params_default();
    params.struct_size = sizeof(size_t);
    CHECK_INVALID(ld4mrec_model_load_with(model_path, &params, &bad));
    CHECK(bad == NULL);
}

static void test_item_ids(void) {
    int64_t ids[N_ITEMS + 1];
    size_t count = 0;
    CHECK_OK(ld4mrec_model_item_ids(model, ids, N_ITEMS + 1, &count));
    CHECK(count == N_ITEMS);
    for (size_t i = 0; i < N_ITEMS; i++)
        if (!CHECK(ids[i] == 1000 + 7 * (int64_t)i)) break;

    /* Too small: the needed count, the buffer untouched. */
    for (size_t i = 0; i < N_ITEMS; i++) ids[i] = -5;
    count = 0;
    CHECK_ERROR(ld4mrec_model_item_ids(model, ids, N_ITEMS - 1, &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_ITEMS);
    CHECK(ids[0] == -5 && ids[N_ITEMS - 2] == -5);
    count = 0;
    CHECK_ERROR(ld4mrec_model_item_ids(model, ids, 0, &count), LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_ITEMS);
    CHECK_ERROR(ld4mrec_model_item_ids(model, ids, 1, NULL), LD4MREC_ERR_BUFFER_TOO_SMALL);
}

/* ---------------------------------------------------------------------------------- */
/* Stores                                                                               */
/* ---------------------------------------------------------------------------------- */

static void test_store_from_model(void) {
    ld4mrec_store *store = store_from_model();
    CHECK(ld4mrec_store_n_users(store) == N_USERS);
    int64_t ids[N_USERS];
    size_t count = 0;
    CHECK_OK(ld4mrec_store_user_ids(store, ids, N_USERS, &count));
    CHECK(count == N_USERS);
    for (size_t u = 0; u < N_USERS; u++) CHECK(ids[u] == users[u]);
    for (size_t u = 0; u < N_USERS; u++) {
        CHECK(users[u] == 500 + 3 * (int64_t)u);
        int64_t history[N_ITEMS];
        long length = history_of(store, users[u], history, N_ITEMS);
        CHECK(length > 0);
        for (long j = 1; j < length; j++) /* ascending in the model's item order */
            CHECK(item_index(history[j - 1]) < item_index(history[j]));
    }

    ld4mrec_store *empty = NULL;
    CHECK_OK(ld4mrec_store_new(model, &empty));
    CHECK(ld4mrec_store_n_users(empty) == 0);
    count = 99;
    CHECK_OK(ld4mrec_store_user_ids(empty, ids, N_USERS, &count));
    CHECK(count == 0);
    ld4mrec_store_free(empty);
    ld4mrec_store_free(store);
}

static void test_store_updates(void) {
    ld4mrec_store *store = NULL;
    if (!CHECK_OK(ld4mrec_store_new(model, &store))) return;
    const int64_t user = NEW_USER;
    int64_t history[N_ITEMS];
    size_t skipped = 99, removed = 99;
    bool existed = false;

    /* add: ids unknown to the model are counted and kept (a later model may know them),
     * repeats kept once, ids ascending. */
    int64_t added[6] = {items[9], UNKNOWN_ITEM, items[2], items[9], -1, items[5]};
    CHECK_OK(ld4mrec_store_add(store, user, added, 6, &skipped));
    CHECK(skipped == 2);
    CHECK(history_of(store, user, history, N_ITEMS) == 5);
    CHECK(history[0] == -1 && history[1] == items[2] && history[2] == items[5] &&
          history[3] == items[9] && history[4] == UNKNOWN_ITEM);
    CHECK_OK(ld4mrec_store_add(store, user, &items[5], 1, &skipped)); /* already there */
    CHECK(skipped == 0);
    CHECK(history_of(store, user, history, N_ITEMS) == 5);

    /* remove: counts what was there, known to the model or not; absent items are
     * ignored. */
    int64_t gone[4] = {items[5], items[7], UNKNOWN_ITEM, items[5]};
    CHECK_OK(ld4mrec_store_remove(store, user, gone, 4, &removed));
    CHECK(removed == 2);
    CHECK(history_of(store, user, history, N_ITEMS) == 3);
    int64_t rest[3] = {items[2], items[9], -1};
    CHECK_OK(ld4mrec_store_remove(store, user, rest, 3, &removed));
    CHECK(removed == 3);
    CHECK(history_of(store, user, history, N_ITEMS) == 0); /* the user stays, empty */
    CHECK(ld4mrec_store_n_users(store) == 1);
    removed = 99;
    CHECK_ERROR(ld4mrec_store_remove(store, user + 1, rest, 2, &removed),
                LD4MREC_ERR_UNKNOWN_USER);
    CHECK(removed == 99);

    /* replace: creates the user; unknown ids counted and kept. */
    int64_t replacement[3] = {items[299], UNKNOWN_ITEM, items[0]};
    CHECK_OK(ld4mrec_store_replace(store, user + 1, replacement, 3, &skipped));
    CHECK(skipped == 1);
    CHECK(history_of(store, user + 1, history, N_ITEMS) == 3);
    CHECK(history[0] == items[0] && history[1] == items[299] && history[2] == UNKNOWN_ITEM);
    CHECK_OK(ld4mrec_store_replace(store, user + 1, NULL, 0, &skipped));
    CHECK(skipped == 0);
    CHECK(history_of(store, user + 1, history, N_ITEMS) == 0);
    CHECK(ld4mrec_store_n_users(store) == 2);

    /* clear_user */
    CHECK_OK(ld4mrec_store_clear_user(store, user, &existed));
    CHECK(existed == true);
    CHECK_OK(ld4mrec_store_clear_user(store, user, &existed));
    CHECK(existed == false);
    CHECK(ld4mrec_store_n_users(store) == 1);
    size_t count = 99;
    CHECK_ERROR(ld4mrec_store_get_history(store, user, history, N_ITEMS, &count),
                LD4MREC_ERR_UNKNOWN_USER);
    CHECK(count == 99);
    ld4mrec_store_free(store);
}

static void test_store_buffers(void) {
    ld4mrec_store *store = store_from_model();
    int64_t history[N_ITEMS];
    long length = history_of(store, users[3], history, N_ITEMS);
    if (!CHECK(length >= 2)) return;

    size_t count = 0;
    CHECK_ERROR(ld4mrec_store_get_history(store, users[3], NULL, 0, &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == (size_t)length);
    int64_t small[N_ITEMS];
    for (long j = 0; j < length; j++) small[j] = -5;
    count = 0;
    CHECK_ERROR(ld4mrec_store_get_history(store, users[3], small, (size_t)length - 1, &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == (size_t)length);
    CHECK(small[0] == -5);
    CHECK_OK(ld4mrec_store_get_history(store, users[3], small, (size_t)length, &count));
    CHECK(count == (size_t)length && memcmp(small, history, count * sizeof *small) == 0);

    /* An empty history needs no buffer. */
    CHECK_OK(ld4mrec_store_replace(store, NEW_USER, NULL, 0, NULL));
    count = 99;
    CHECK_OK(ld4mrec_store_get_history(store, NEW_USER, NULL, 0, &count));
    CHECK(count == 0);

    int64_t ids[N_USERS + 1];
    for (size_t u = 0; u < N_USERS; u++) ids[u] = -5;
    count = 0;
    CHECK_ERROR(ld4mrec_store_user_ids(store, ids, N_USERS, &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_USERS + 1);
    CHECK(ids[0] == -5);
    count = 0;
    CHECK_ERROR(ld4mrec_store_user_ids(store, ids, 0, &count), LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_USERS + 1);
    CHECK_OK(ld4mrec_store_user_ids(store, ids, N_USERS + 1, &count));
    CHECK(count == N_USERS + 1 && ids[N_USERS] == NEW_USER);
    ld4mrec_store_free(store);
}

static int same_store(const ld4mrec_store *a, const ld4mrec_store *b) {
    int64_t ids_a[N_USERS + 8], ids_b[N_USERS + 8];
    size_t n_a = 0, n_b = 0;
    if (!CHECK_OK(ld4mrec_store_user_ids(a, ids_a, N_USERS + 8, &n_a))) return 0;
    if (!CHECK_OK(ld4mrec_store_user_ids(b, ids_b, N_USERS + 8, &n_b))) return 0;
    if (!CHECK(n_a == n_b && memcmp(ids_a, ids_b, n_a * sizeof ids_a[0]) == 0)) return 0;
    for (size_t u = 0; u < n_a; u++) {
        int64_t h_a[N_ITEMS], h_b[N_ITEMS];
        long l_a = history_of(a, ids_a[u], h_a, N_ITEMS);
        long l_b = history_of(b, ids_a[u], h_b, N_ITEMS);
        size_t length = (size_t)(l_a > 0 ? l_a : 0);
        if (!CHECK(l_a == l_b && memcmp(h_a, h_b, length * sizeof h_a[0]) == 0)) return 0;
    }
    return 1;
}

static void test_store_files(void) {
    ld4mrec_store *store = store_from_model();
    CHECK_OK(ld4mrec_store_add(store, NEW_USER, &items[250], 3, NULL));
    CHECK_OK(ld4mrec_store_replace(store, NEW_USER + 1, NULL, 0, NULL)); /* empty history */
    const char *path = temp_path("store.h5");
    CHECK_OK(ld4mrec_store_save(store, path));

    ld4mrec_store *loaded = NULL;
    size_t skipped = 99;
    if (CHECK_OK(ld4mrec_store_load(model, path, &loaded, &skipped))) {
        CHECK(skipped == 0);
        CHECK(ld4mrec_store_n_users(loaded) == N_USERS + 2);
        CHECK(same_store(store, loaded));
        ld4mrec_store_free(loaded);
    }

    /* Saving again replaces the file. */
    CHECK_OK(ld4mrec_store_clear_user(store, NEW_USER, NULL));
    CHECK_OK(ld4mrec_store_save(store, path));
    loaded = NULL;
    if (CHECK_OK(ld4mrec_store_load(model, path, &loaded, NULL))) {
        CHECK(ld4mrec_store_n_users(loaded) == N_USERS + 1);
        CHECK(same_store(store, loaded));
        ld4mrec_store_free(loaded);
    }

    /* The same file with a smaller catalogue: items beyond it are counted, and kept. */
    ld4mrec_model *small = NULL;
    if (CHECK_OK(ld4mrec_model_load(small_model_path, &small))) {
        size_t expected = 0;
        int64_t ids[N_USERS + 8];
        size_t n = 0;
        CHECK_OK(ld4mrec_store_user_ids(store, ids, N_USERS + 8, &n));
        for (size_t u = 0; u < n; u++) {
            int64_t history[N_ITEMS];
            long length = history_of(store, ids[u], history, N_ITEMS);
            for (long j = 0; j < length; j++) expected += item_index(history[j]) >= SMALL_N_ITEMS;
        }
        loaded = NULL;
        skipped = 0;
        if (CHECK_OK(ld4mrec_store_load(small, path, &loaded, &skipped))) {
            CHECK(skipped == expected && expected > 0);
            CHECK(ld4mrec_store_n_users(loaded) == n);
            CHECK(same_store(store, loaded));
            ld4mrec_store_free(loaded);
        }
        ld4mrec_model_free(small);
    }

    /* Files of the wrong kind, missing files and unwritable paths. */
    ld4mrec_store *out = (ld4mrec_store *)&out;
    skipped = 99;
    CHECK_ERROR(ld4mrec_store_load(model, model_path, &out, &skipped), LD4MREC_ERR_INVALID_FILE);
    CHECK_ERROR(ld4mrec_store_load(model, temp_path("missing-store.h5"), &out, &skipped),
                LD4MREC_ERR_IO);
    const char *garbage = temp_path("garbage-store.h5");
    CHECK(write_file(garbage, "not a store", 11));
    CHECK_ERROR(ld4mrec_store_load(model, garbage, &out, &skipped), LD4MREC_ERR_INVALID_FILE);
    size_t size = 0;
    unsigned char *bytes = read_file(path, &size);
    if (CHECK(bytes != NULL && size > 64)) {
        CHECK(write_file(garbage, bytes, size / 2));
        CHECK_ERROR(ld4mrec_store_load(model, garbage, &out, &skipped), LD4MREC_ERR_INVALID_FILE);
    }
    free(bytes);
    CHECK(out == (ld4mrec_store *)&out && skipped == 99);
    CHECK_LOAD_FAILS(path, LD4MREC_ERR_INVALID_FILE); /* a store file is not a model */
    CHECK_ERROR(ld4mrec_store_save(store, temp_path("no-such-folder/store.h5")), LD4MREC_ERR_IO);
    ld4mrec_store_free(store);
}

/* A store keeps its data after its model is freed, and another model serves it: the
 * history items it does not know are skipped when it scores, and kept in the store. */
static void test_store_served_by_another_model(void) {
    ld4mrec_model *small = NULL;
    if (!CHECK_OK(ld4mrec_model_load(small_model_path, &small))) return;
    ld4mrec_store *store = NULL;
    CHECK_OK(ld4mrec_store_from_model(small, &store));
    ld4mrec_model_free(small);
    int64_t history[N_ITEMS];
    CHECK(history_of(store, users[0], history, N_ITEMS) > 0);
    /* items[250] is beyond the small model's catalogue, known to `model`. */
    int64_t mixed[3] = {items[1], items[250], UNKNOWN_ITEM};
    size_t unknown = 99;
    CHECK_OK(ld4mrec_store_replace(store, NEW_USER, mixed, 3, &unknown));
    CHECK(unknown == 2); /* counted against the store's model, the small one */
    CHECK_OK(ld4mrec_store_save(store, temp_path("orphan-store.h5")));

    /* `model` serves it as it would the history's known items, given statelessly. */
    int64_t top[5], expected_top[5];
    float scores[5], expected_scores[5];
    size_t count = 99, expected_count = 0, skipped = 0;
    CHECK_OK(ld4mrec_recommend_user(model, store, NEW_USER, 5, NULL, top, scores, 5, &count));
    CHECK_OK(ld4mrec_recommend_history(model, mixed, 3, &NEW_USER, 5, NULL, expected_top,
                                       expected_scores, 5, &expected_count, &skipped));
    CHECK(skipped == 1 && count == 5 && expected_count == 5);
    CHECK(memcmp(top, expected_top, sizeof top) == 0);
    float score = 0, expected_score = 1;
    CHECK_OK(ld4mrec_score_user(model, store, NEW_USER, &items[7], 1, &score, NULL));
    CHECK_OK(ld4mrec_score_history(model, mixed, 3, &NEW_USER, &items[7], 1, &expected_score,
                                   NULL, NULL));
    CHECK(close_enough(score, expected_score));
    float *full = malloc(N_ITEMS * sizeof *full);
    CHECK_OK(ld4mrec_score_all_users(model, store, users, 1, full, N_ITEMS));
    int64_t many[5];
    CHECK_OK(ld4mrec_recommend_users(model, store, &NEW_USER, 1, 5, NULL, many, NULL, 5, NULL));
    CHECK(memcmp(many, expected_top, sizeof many) == 0);
    free(full);
    /* Nothing was dropped on the way. */
    CHECK(history_of(store, NEW_USER, history, N_ITEMS) == 3);
    CHECK(history[0] == items[1] && history[1] == items[250] && history[2] == UNKNOWN_ITEM);
    ld4mrec_store_free(store);
}

/* ld4mrec_store_set_model counts the stored items the new model does not know and
 * changes what add and replace count; it changes no history. */
static void test_store_set_model(void) {
    ld4mrec_model *small = NULL;
    if (!CHECK_OK(ld4mrec_model_load(small_model_path, &small))) return;
    ld4mrec_store *store = store_from_model();
    int64_t extra[2] = {items[150], UNKNOWN_ITEM};
    CHECK_OK(ld4mrec_store_add(store, NEW_USER, extra, 2, NULL));

    /* The expected count, from the histories: ids beyond the small catalogue, or in no
     * catalogue. */
    size_t expected_small = 0, expected_model = 0, n = 0;
    int64_t ids[N_USERS + 1];
    CHECK_OK(ld4mrec_store_user_ids(store, ids, N_USERS + 1, &n));
    static int64_t before[N_USERS + 1][N_ITEMS + 1];
    long lengths[N_USERS + 1];
    for (size_t u = 0; u < n; u++) {
        lengths[u] = history_of(store, ids[u], before[u], N_ITEMS + 1);
        for (long j = 0; j < lengths[u]; j++) {
            long i = item_index(before[u][j]);
            expected_small += i < 0 || i >= SMALL_N_ITEMS;
            expected_model += i < 0;
        }
    }
    size_t unknown = 0;
    CHECK_OK(ld4mrec_store_set_model(store, small, &unknown));
    CHECK(unknown == expected_small && expected_small > expected_model);
    CHECK_OK(ld4mrec_store_add(store, NEW_USER + 1, extra, 2, &unknown));
    CHECK(unknown == 2);
    CHECK_OK(ld4mrec_store_replace(store, NEW_USER + 1, &items[SMALL_N_ITEMS - 1], 2, &unknown));
    CHECK(unknown == 1);
    CHECK_OK(ld4mrec_store_clear_user(store, NEW_USER + 1, NULL));
    for (size_t u = 0; u < n; u++) { /* every history as it was */
        int64_t now[N_ITEMS + 1];
        CHECK(history_of(store, ids[u], now, N_ITEMS + 1) == lengths[u] &&
              memcmp(now, before[u], (size_t)lengths[u] * sizeof now[0]) == 0);
    }
    ld4mrec_model_free(small); /* the store keeps item ids, not the model */
    CHECK_OK(ld4mrec_store_set_model(store, model, &unknown));
    CHECK(unknown == expected_model && expected_model == 1);
    CHECK_OK(ld4mrec_store_set_model(store, model, NULL));
    CHECK(ld4mrec_store_n_users(store) == N_USERS + 1);
    ld4mrec_store_free(store);
}

/* ---------------------------------------------------------------------------------- */
/* Recommending                                                                         */
/* ---------------------------------------------------------------------------------- */

static void test_k_validation(void) {
    ld4mrec_store *store = store_from_model();
    int64_t top[5];
    size_t count = 99;
    const int32_t bad[] = {0, -1, INT32_MIN};
    for (size_t j = 0; j < 3; j++) {
        CHECK_INVALID(ld4mrec_recommend_user(model, store, users[0], bad[j], NULL, top, NULL, 5,
                                             &count));
        CHECK_INVALID(ld4mrec_recommend_history(model, &items[0], 1, NULL, bad[j], NULL, top,
                                                NULL, 5, &count, NULL));
        CHECK_INVALID(ld4mrec_recommend_users(model, store, users, 1, bad[j], NULL, top, NULL, 5,
                                              NULL));
    }
    CHECK(count == 99);
    ld4mrec_store_free(store);
}

static void test_huge_k(void) {
    ld4mrec_store *store = store_from_model();
    int64_t history[N_ITEMS];
    long length = history_of(store, users[1], history, N_ITEMS);
    if (!CHECK(length > 0)) return;

    int64_t top[N_ITEMS];
    float scores[N_ITEMS];
    for (size_t i = 0; i < 5; i++) top[i] = -5;
    size_t count = 0;
    CHECK_ERROR(ld4mrec_recommend_user(model, store, users[1], INT32_MAX, NULL, top, scores, 5,
                                       &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_ITEMS - (size_t)length);
    CHECK(top[0] == -5); /* nothing written */
    count = 0;
    CHECK_ERROR(ld4mrec_recommend_history(model, history, (size_t)length, NULL, INT32_MAX, NULL,
                                          top, scores, 0, &count, NULL),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_ITEMS - (size_t)length);

    ld4mrec_recommend_params params = ld4mrec_recommend_params_default();
    params.exclude_history = false;
    count = 0;
    CHECK_ERROR(ld4mrec_recommend_user(model, store, users[1], INT32_MAX, &params, top, scores,
                                       5, &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == N_ITEMS);

    /* only_items: one history item, two others, one unknown id: two candidates. */
    int in_history[N_ITEMS] = {0};
    for (long j = 0; j < length; j++) in_history[item_index(history[j])] = 1;
    int64_t only[4] = {history[0], -1, UNKNOWN_ITEM, -1};
    for (size_t i = 0, found = 0; i < N_ITEMS && found < 2; i++)
        if (!in_history[i]) only[found++ == 0 ? 1 : 3] = items[i];
    params = ld4mrec_recommend_params_default();
    params.only_items = only;
    params.n_only_items = 4;
    count = 0;
    CHECK_ERROR(ld4mrec_recommend_user(model, store, users[1], INT32_MAX, &params, top, scores,
                                       1, &count),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 2);

    /* With room for every candidate: all of them, best first. */
    count = 0;
    CHECK_OK(ld4mrec_recommend_user(model, store, users[1], INT32_MAX, NULL, top, scores,
                                    N_ITEMS, &count));
    CHECK(count == N_ITEMS - (size_t)length);
    for (size_t j = 1; j < count; j++) CHECK(scores[j] <= scores[j - 1]);

    /* Many rows of a huge k cannot fit. */
    int64_t rows[10];
    CHECK_ERROR(ld4mrec_recommend_users(model, store, users, 2, INT32_MAX, NULL, rows, NULL, 10,
                                        NULL),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK_ERROR(ld4mrec_recommend_users(model, store, users, 2, 6, NULL, rows, NULL, 11, NULL),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    ld4mrec_store_free(store);
}

static void test_params(void) {
    ld4mrec_recommend_params params = ld4mrec_recommend_params_default();
    CHECK(params.struct_size == sizeof(ld4mrec_recommend_params));
    CHECK(params.exclude_history == true);
    CHECK(params.only_items == NULL && params.n_only_items == 0);
    CHECK(params.excluded_items == NULL && params.n_excluded_items == 0);

    ld4mrec_store *store = store_from_model();
    int64_t top[10], top_default[10];
    float scores[10], scores_default[10];
    size_t count = 0, count_default = 0;
    CHECK_OK(ld4mrec_recommend_user(model, store, users[2], 10, NULL, top_default, scores_default,
                                    10, &count_default));
    CHECK_OK(ld4mrec_recommend_user(model, store, users[2], 10, &params, top, scores, 10, &count));
    CHECK(count == count_default && memcmp(top, top_default, sizeof top) == 0 &&
          memcmp(scores, scores_default, sizeof scores) == 0);

    /* Smaller than the 0.1.0 struct (which ends at n_excluded_items): refused. */
    const size_t v010 = offsetof(ld4mrec_recommend_params, n_excluded_items) + sizeof(size_t);
    const size_t sizes[] = {0, 1, sizeof(size_t), v010 - 1};
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
        params = ld4mrec_recommend_params_default();
        params.struct_size = sizes[j];
        count = 99;
        CHECK_INVALID(ld4mrec_recommend_user(model, store, users[2], 10, &params, top, scores, 10,
                                             &count));
        CHECK_INVALID(ld4mrec_recommend_history(model, NULL, 0, NULL, 10, &params, top, scores,
                                                10, &count, NULL));
        CHECK_INVALID(ld4mrec_recommend_users(model, store, users, 1, 10, &params, top, scores,
                                              10, NULL));
        CHECK(count == 99);
    }
    /* A caller compiled against 0.1.0: its struct ends before n_threads, which the
     * library must not read (here it holds garbage). */
    params = ld4mrec_recommend_params_default();
    params.struct_size = v010;
    params.n_threads = -12345;
    CHECK_OK(ld4mrec_recommend_user(model, store, users[2], 10, &params, top, scores, 10, &count));
    CHECK(count == count_default && memcmp(top, top_default, sizeof top) == 0);
    params.struct_size = sizeof params;
    CHECK_INVALID(ld4mrec_recommend_user(model, store, users[2], 10, &params, top, scores, 10, &count));
    CHECK(strstr(ld4mrec_last_error(), "n_threads") != NULL);
    /* Item lists given as NULL with a count. */
    params = ld4mrec_recommend_params_default();
    params.n_only_items = 3;
    CHECK_INVALID(ld4mrec_recommend_user(model, store, users[2], 10, &params, top, scores, 10,
                                         &count));
    params = ld4mrec_recommend_params_default();
    params.n_excluded_items = 3;
    CHECK_INVALID(ld4mrec_recommend_user(model, store, users[2], 10, &params, top, scores, 10,
                                         &count));
    ld4mrec_store_free(store);
}

/* The struct_size rule (Include/ld4mrec.h, Conventions) with structs in heap blocks of
 * exactly the caller's size, so that AddressSanitizer (make asan-test) catches a read or
 * write past them: a 0.1.0 caller's params, a cut prefix, a newer caller's larger
 * struct; the same for model_info and load_params. */
static void test_struct_prefixes(void) {
    ld4mrec_store *store = store_from_model();
    const size_t v010 = offsetof(ld4mrec_recommend_params, n_excluded_items) + sizeof(size_t);
    CHECK(v010 == 48 && sizeof(ld4mrec_recommend_params) == 56); /* LP64 */
    int64_t top[10], expected[10], unfiltered[10];
    size_t count = 0, n_expected = 0;
    CHECK_OK(ld4mrec_recommend_user(model, store, users[6], 10, NULL, unfiltered, NULL, 10, &count));
    ld4mrec_recommend_params params = ld4mrec_recommend_params_default();
    params.excluded_items = &unfiltered[0];
    params.n_excluded_items = 1;
    params.n_threads = 1;
    CHECK_OK(ld4mrec_recommend_user(model, store, users[6], 10, &params, expected, NULL, 10,
                                    &n_expected));
    CHECK(n_expected == 10 && expected[0] == unfiltered[1]);

    /* A 0.1.0 struct (no n_threads) and today's, each in a block of its size; and a
     * newer caller's, 16 bytes longer, whose unknown tail the library ignores. */
    const size_t sizes[] = {v010, sizeof params, sizeof params + 16};
    for (size_t j = 0; j < 3; j++) {
        unsigned char *block = malloc(sizes[j]);
        memset(block, 0x7f, sizes[j]); /* garbage beyond the fields copied below */
        ld4mrec_recommend_params prefix = params;
        prefix.struct_size = sizes[j];
        memcpy(block, &prefix, sizes[j] < sizeof prefix ? sizes[j] : sizeof prefix);
        const ld4mrec_recommend_params *caller = (const ld4mrec_recommend_params *)(void *)block;
        count = 0;
        CHECK_OK(ld4mrec_recommend_user(model, store, users[6], 10, caller, top, NULL, 10, &count));
        CHECK(count == 10 && memcmp(top, expected, sizeof top) == 0);
        CHECK_OK(ld4mrec_recommend_users(model, store, &users[6], 1, 10, caller, top, NULL, 10,
                                         NULL));
        CHECK(memcmp(top, expected, sizeof top) == 0);
        free(block);
    }
    /* Cut below 0.1.0's struct: refused, in a block of the cut size. */
    for (size_t size = sizeof(size_t); size < v010; size += 8) {
        ld4mrec_recommend_params *cut = malloc(size);
        memcpy(cut, &params, size);
        cut->struct_size = size;
        count = 99;
        CHECK_INVALID(ld4mrec_recommend_history(model, NULL, 0, NULL, 10, cut, top, NULL, 10,
                                                &count, NULL));
        CHECK(count == 99);
        free(cut);
    }

    /* model_info: 0.1.0's struct (up to n_modalities: precision and weight_bytes came in
     * 0.2.0), today's, and a newer caller's 16 bytes longer, each in a block of its size
     * (what lies beyond the fields the size covers stays untouched); cut below 0.1.0's:
     * refused, nothing written. */
    const size_t info_v010 = offsetof(ld4mrec_model_info, n_modalities) + sizeof(int32_t);
    ld4mrec_model_info reference;
    memset(&reference, 0, sizeof reference);
    reference.struct_size = sizeof reference;
    CHECK_OK(ld4mrec_model_get_info(model, &reference));
    const size_t info_sizes[] = {info_v010, sizeof reference, sizeof reference + 16};
    for (size_t j = 0; j < 3; j++) {
        const size_t size = info_sizes[j];
        unsigned char *block = malloc(size);
        memset(block, 0x5a, size);
        memcpy(block, &size, sizeof size);
        CHECK_OK(ld4mrec_model_get_info(model, (ld4mrec_model_info *)(void *)block));
        ld4mrec_model_info got;
        memset(&got, 0x5a, sizeof got);
        memcpy(&got, block, size < sizeof got ? size : sizeof got);
        CHECK(got.struct_size == size); /* as the caller gave it */
        CHECK(got.format_version == reference.format_version && got.n_items == reference.n_items &&
              got.n_users == reference.n_users && got.n_history_users == reference.n_history_users &&
              got.hidden_size == reference.hidden_size && got.svd_rank == reference.svd_rank &&
              got.step_embedding_size == reference.step_embedding_size &&
              got.n_steps == reference.n_steps && got.n_blocks == reference.n_blocks &&
              got.film_hidden_size == reference.film_hidden_size &&
              got.n_modalities == reference.n_modalities);
        if (size >= sizeof got)
            CHECK(got.precision == reference.precision && got.weight_bytes == reference.weight_bytes);
        int tail = 1;
        for (size_t i = sizeof reference; i < size; i++) tail &= block[i] == 0x5a;
        CHECK(tail);
        free(block);
    }
    /* load_params (0.2.0's is the first): in a block of its size, and a newer caller's
     * 16 bytes longer with a garbage tail the library must not read as anything. */
    const size_t load_sizes[] = {sizeof(ld4mrec_load_params), sizeof(ld4mrec_load_params) + 16};
    for (size_t j = 0; j < 2; j++) {
        unsigned char *block = malloc(load_sizes[j]);
        memset(block, 0x7e, load_sizes[j]);
        ld4mrec_load_params load = ld4mrec_load_params_default();
        load.struct_size = load_sizes[j];
        memcpy(block, &load, sizeof load);
        ld4mrec_model *loaded = NULL;
        CHECK_OK(ld4mrec_model_load_with(model_path, (const ld4mrec_load_params *)(void *)block, &loaded));
        CHECK(ld4mrec_model_n_items(loaded) == N_ITEMS);
        ld4mrec_model_free(loaded);
        free(block);
    }
    for (size_t size = sizeof(size_t); size < info_v010; size += 4) {
        unsigned char *block = malloc(size);
        memset(block, 0x5a, size);
        memcpy(block, &size, sizeof size);
        CHECK_INVALID(ld4mrec_model_get_info(model, (ld4mrec_model_info *)(void *)block));
        int untouched = 1;
        for (size_t i = sizeof size; i < size; i++) untouched &= block[i] == 0x5a;
        CHECK(untouched);
        free(block);
    }
    ld4mrec_store_free(store);
}

static void test_filters(void) {
    ld4mrec_store *store = store_from_model();
    const int64_t user = users[4];
    int64_t history[N_ITEMS];
    long length = history_of(store, user, history, N_ITEMS);
    if (!CHECK(length >= 3)) return;
    float full[N_ITEMS];
    CHECK_OK(ld4mrec_score_all_history(model, history, (size_t)length, &user, full, N_ITEMS,
                                       NULL));
    int in_history[N_ITEMS] = {0}, allowed[N_ITEMS];
    for (long j = 0; j < length; j++) in_history[item_index(history[j])] = 1;

    int64_t top[N_ITEMS];
    float scores[N_ITEMS];
    size_t count = 0;
    ld4mrec_recommend_params params = ld4mrec_recommend_params_default();

    /* Default: every item but the history's. */
    for (size_t i = 0; i < N_ITEMS; i++) allowed[i] = !in_history[i];
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 20, NULL, top, scores, N_ITEMS, &count));
    CHECK_TOP_K(full, allowed, 20, top, scores, count);

    /* exclude_history = false: history items compete too. */
    params.exclude_history = false;
    for (size_t i = 0; i < N_ITEMS; i++) allowed[i] = 1;
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 20, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, 20, top, scores, count);
    CHECK_OK(ld4mrec_recommend_user(model, store, user, N_ITEMS, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK(count == N_ITEMS);

    /* only_items: a few items, two of them in the history, one unknown, one repeated. */
    int64_t only[7] = {history[0], history[1], items[10], items[20], UNKNOWN_ITEM, items[30],
                       items[10]};
    params = ld4mrec_recommend_params_default();
    params.only_items = only;
    params.n_only_items = 7;
    for (size_t i = 0; i < N_ITEMS; i++) allowed[i] = 0;
    for (size_t j = 0; j < 7; j++) {
        long i = item_index(only[j]);
        if (i >= 0 && !in_history[i]) allowed[i] = 1;
    }
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 10, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, 10, top, scores, count);
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 2, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, 2, top, scores, count);
    params.exclude_history = false;
    allowed[item_index(history[0])] = allowed[item_index(history[1])] = 1;
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 10, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, 10, top, scores, count);

    /* only_items non-NULL but empty: no candidates at all. */
    params = ld4mrec_recommend_params_default();
    params.only_items = only;
    params.n_only_items = 0;
    count = 99;
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 10, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK(count == 0);

    /* excluded_items: never recommended (with an unknown id among them). */
    float best = -INFINITY;
    long best_index = -1;
    for (size_t i = 0; i < N_ITEMS; i++)
        if (!in_history[i] && full[i] > best) best = full[best_index = (long)i];
    int64_t excluded[4] = {items[best_index], UNKNOWN_ITEM, items[40], history[2]};
    params = ld4mrec_recommend_params_default();
    params.excluded_items = excluded;
    params.n_excluded_items = 4;
    for (size_t i = 0; i < N_ITEMS; i++) allowed[i] = !in_history[i];
    allowed[best_index] = allowed[40] = 0;
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 15, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, 15, top, scores, count);
    CHECK_OK(ld4mrec_recommend_user(model, store, user, INT32_MAX, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, N_ITEMS, top, scores, count);

    /* excluded and only together: excluded wins. */
    params.only_items = only;
    params.n_only_items = 7;
    params.excluded_items = &items[20];
    params.n_excluded_items = 1;
    for (size_t i = 0; i < N_ITEMS; i++) allowed[i] = 0;
    allowed[10] = !in_history[10];
    allowed[30] = !in_history[30];
    CHECK_OK(ld4mrec_recommend_user(model, store, user, 10, &params, top, scores, N_ITEMS,
                                    &count));
    CHECK_TOP_K(full, allowed, 10, top, scores, count);

    /* The same through the stateless function. */
    params.exclude_history = true;
    CHECK_OK(ld4mrec_recommend_history(model, history, (size_t)length, &user, 10, &params, top,
                                       scores, N_ITEMS, &count, NULL));
    CHECK_TOP_K(full, allowed, 10, top, scores, count);
    ld4mrec_store_free(store);
}

/* A user of the store, the same history given statelessly and the full scores agree. */
static void test_stateful_equals_stateless(void) {
    ld4mrec_store *store = store_from_model();
    int64_t top_a[10], top_b[10];
    float scores_a[10], scores_b[10];
    size_t count_a = 0, count_b = 0, skipped = 99;
    for (size_t u = 0; u < N_USERS; u += 7) {
        int64_t history[N_ITEMS + 2];
        long length = history_of(store, users[u], history, N_ITEMS);
        CHECK_OK(ld4mrec_recommend_user(model, store, users[u], 10, NULL, top_a, scores_a, 10,
                                        &count_a));
        history[length] = UNKNOWN_ITEM; /* skipped and counted, changing nothing */
        history[length + 1] = history[0];
        CHECK_OK(ld4mrec_recommend_history(model, history, (size_t)length + 2, &users[u], 10,
                                           NULL, top_b, scores_b, 10, &count_b, &skipped));
        CHECK(skipped == 1);
        CHECK(count_a == 10 && count_b == 10);
        CHECK(memcmp(top_a, top_b, sizeof top_a) == 0);
        for (size_t j = 0; j < 10; j++) CHECK(close_enough(scores_a[j], scores_b[j]));

        float full[N_ITEMS];
        CHECK_OK(ld4mrec_score_all_users(model, store, &users[u], 1, full, N_ITEMS));
        float picked[3];
        size_t unknown = 99;
        int64_t candidates[3] = {top_a[0], UNKNOWN_ITEM, top_a[9]};
        CHECK_OK(ld4mrec_score_user(model, store, users[u], candidates, 3, picked, &unknown));
        CHECK(unknown == 1);
        CHECK(close_enough(picked[0], scores_a[0]) && close_enough(picked[2], scores_a[9]));
        CHECK(isinf(picked[1]) && picked[1] < 0);
        CHECK(close_enough(full[item_index(top_a[0])], scores_a[0]));
        CHECK(close_enough(full[item_index(top_a[9])], scores_a[9]));

        unknown = 99;
        skipped = 99;
        CHECK_OK(ld4mrec_score_history(model, history, (size_t)length + 2, &users[u], candidates,
                                       3, picked, &unknown, &skipped));
        CHECK(unknown == 1 && skipped == 1);
        CHECK(close_enough(picked[0], scores_a[0]) && isinf(picked[1]) && picked[1] < 0);
    }

    /* The user's learned embedding matters: without it the answer is the default one's. */
    const int64_t unknown_user = 31337;
    CHECK_OK(ld4mrec_recommend_history(model, NULL, 0, NULL, 10, NULL, top_a, scores_a, 10,
                                       &count_a, NULL));
    CHECK_OK(ld4mrec_recommend_history(model, NULL, 0, &unknown_user, 10, NULL, top_b, scores_b,
                                       10, &count_b, NULL));
    CHECK(memcmp(top_a, top_b, sizeof top_a) == 0);
    CHECK(memcmp(scores_a, scores_b, sizeof scores_a) == 0);
    /* A user absent from the store has an empty history (and the default embedding). */
    CHECK_OK(ld4mrec_recommend_user(model, store, unknown_user, 10, NULL, top_b, scores_b, 10,
                                    &count_b));
    CHECK(memcmp(top_a, top_b, sizeof top_a) == 0);
    CHECK(memcmp(scores_a, scores_b, sizeof scores_a) == 0);
    /* A model user cleared from the store: empty history, own embedding. */
    CHECK_OK(ld4mrec_store_clear_user(store, users[5], NULL));
    CHECK_OK(ld4mrec_recommend_user(model, store, users[5], 10, NULL, top_a, scores_a, 10,
                                    &count_a));
    CHECK_OK(ld4mrec_recommend_history(model, NULL, 0, &users[5], 10, NULL, top_b, scores_b, 10,
                                       &count_b, NULL));
    CHECK(count_a == 10 && memcmp(top_a, top_b, sizeof top_a) == 0);

    /* All unknown history items: like an empty history. */
    int64_t unknown_items[2] = {UNKNOWN_ITEM, -7};
    size_t skipped_all = 0;
    CHECK_OK(ld4mrec_recommend_history(model, unknown_items, 2, &users[5], 10, NULL, top_b,
                                       scores_b, 10, &count_b, &skipped_all));
    CHECK(skipped_all == 2 && memcmp(top_a, top_b, sizeof top_a) == 0);
    ld4mrec_store_free(store);
}

static void test_recommend_users(void) {
    ld4mrec_store *store = store_from_model();
    enum { N = 4, K = 6 };
    int64_t batch[N] = {users[0], users[10], 31337 /* not in the store */, users[20]};
    int64_t rows[N * K];
    float scores[N * K];
    size_t counts[N];
    if (!CHECK_OK(ld4mrec_recommend_users(model, store, batch, N, K, NULL, rows, scores, N * K,
                                          counts)))
        return;
    for (size_t u = 0; u < N; u++) {
        int64_t top[K];
        float top_scores[K];
        size_t count = 0;
        CHECK_OK(ld4mrec_recommend_user(model, store, batch[u], K, NULL, top, top_scores, K,
                                        &count));
        CHECK(counts[u] == K && count == K);
        CHECK(memcmp(&rows[u * K], top, sizeof top) == 0);
        for (size_t j = 0; j < K; j++) CHECK(close_enough(scores[u * K + j], top_scores[j]));
    }

    /* Few candidates: rows padded with -1 / -INFINITY, counts per user. Users 0 and 1 get
     * one of the only_items added to their history, so they have one candidate less. */
    int64_t only[3] = {items[100], items[101], items[102]};
    CHECK_OK(ld4mrec_store_remove(store, batch[0], only, 3, NULL));
    CHECK_OK(ld4mrec_store_remove(store, batch[1], only, 3, NULL));
    CHECK_OK(ld4mrec_store_remove(store, batch[3], only, 3, NULL));
    CHECK_OK(ld4mrec_store_add(store, batch[0], &items[100], 1, NULL));
    CHECK_OK(ld4mrec_store_add(store, batch[1], &items[101], 1, NULL));
    ld4mrec_recommend_params params = ld4mrec_recommend_params_default();
    params.only_items = only;
    params.n_only_items = 3;
    for (size_t i = 0; i < N * K; i++) rows[i] = 12345;
    if (!CHECK_OK(ld4mrec_recommend_users(model, store, batch, N, K, &params, rows, scores, N * K,
                                          counts)))
        return;
    const size_t expected[N] = {2, 2, 3, 3};
    for (size_t u = 0; u < N; u++) {
        CHECK(counts[u] == expected[u]);
        for (size_t j = 0; j < K; j++) {
            if (j < expected[u]) {
                CHECK(rows[u * K + j] >= items[100] && rows[u * K + j] <= items[102]);
                CHECK(isfinite(scores[u * K + j]));
            } else {
                CHECK(rows[u * K + j] == -1);
                CHECK(isinf(scores[u * K + j]) && scores[u * K + j] < 0);
            }
        }
        int64_t top[K];
        size_t count = 0;
        CHECK_OK(ld4mrec_recommend_user(model, store, batch[u], K, &params, top, NULL, K, &count));
        CHECK(count == expected[u] && memcmp(top, &rows[u * K], count * sizeof top[0]) == 0);
    }
    /* Without scores and counts. */
    CHECK_OK(ld4mrec_recommend_users(model, store, batch, N, K, &params, rows, NULL, N * K, NULL));
    CHECK(rows[K - 1] == -1);
    ld4mrec_store_free(store);
}

static void test_score_all(void) {
    ld4mrec_store *store = store_from_model();
    enum { N = 3 };
    int64_t batch[N] = {users[7], 31337, users[8]};
    float *full = malloc(N * N_ITEMS * sizeof *full);
    float *row = malloc(N_ITEMS * sizeof *row);
    CHECK_OK(ld4mrec_score_all_users(model, store, batch, N, full, N * N_ITEMS));
    for (size_t u = 0; u < N; u++) {
        int64_t history[N_ITEMS];
        long length = history_of(store, batch[u], history, N_ITEMS);
        CHECK_OK(ld4mrec_score_all_history(model, history, length > 0 ? (size_t)length : 0,
                                           &batch[u], row, N_ITEMS, NULL));
        for (size_t i = 0; i < N_ITEMS; i++)
            if (!CHECK(close_enough(full[u * N_ITEMS + i], row[i]))) break;
    }
    /* Too small: nothing written. */
    for (size_t i = 0; i < N * N_ITEMS; i++) full[i] = 42.0f;
    CHECK_ERROR(ld4mrec_score_all_users(model, store, batch, N, full, N * N_ITEMS - 1),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK_ERROR(ld4mrec_score_all_users(model, store, batch, N, full, 0),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK_ERROR(ld4mrec_score_all_history(model, NULL, 0, NULL, full, N_ITEMS - 1, NULL),
                LD4MREC_ERR_BUFFER_TOO_SMALL);
    CHECK(full[0] == 42.0f && full[N_ITEMS - 2] == 42.0f);

    /* out_skipped of the stateless full scores. */
    int64_t history[3] = {items[1], UNKNOWN_ITEM, items[2]};
    size_t skipped = 0;
    CHECK_OK(ld4mrec_score_all_history(model, history, 3, NULL, row, N_ITEMS, &skipped));
    CHECK(skipped == 1);
    for (size_t i = 0; i < N_ITEMS; i++)
        if (!CHECK(isfinite(row[i]))) break;
    free(full);
    free(row);
    ld4mrec_store_free(store);
}

/* ---------------------------------------------------------------------------------- */
/* Threads                                                                              */
/* ---------------------------------------------------------------------------------- */

static pthread_barrier_t error_barrier;

struct error_thread {
    char path[1100];
    int32_t status;
    char seen_before[64];
    char message[1200];
};

static void *error_thread_main(void *arg) {
    struct error_thread *t = arg;
    /* A fresh thread has no error yet. */
    snprintf(t->seen_before, sizeof t->seen_before, "%s", ld4mrec_last_error());
    ld4mrec_model *out = NULL;
    t->status = ld4mrec_model_load(t->path, &out);
    pthread_barrier_wait(&error_barrier); /* both threads have failed */
    /* A successful call leaves the message alone. */
    (void)ld4mrec_model_n_items(model);
    snprintf(t->message, sizeof t->message, "%s", ld4mrec_last_error());
    return NULL;
}

static void test_last_error_per_thread(void) {
    /* This thread has its own message, which the others must not touch. */
    CHECK_INVALID(ld4mrec_store_new(NULL, NULL));
    char mine[1200];
    snprintf(mine, sizeof mine, "%s", ld4mrec_last_error());

    struct error_thread threads[2];
    pthread_t ids[2];
    pthread_barrier_init(&error_barrier, NULL, 2);
    for (int t = 0; t < 2; t++) {
        memset(&threads[t], 0, sizeof threads[t]);
        snprintf(threads[t].path, sizeof threads[t].path, "%s/missing-from-thread-%d.h5", tmp_dir,
                 t);
        CHECK(pthread_create(&ids[t], NULL, error_thread_main, &threads[t]) == 0);
    }
    for (int t = 0; t < 2; t++) pthread_join(ids[t], NULL);
    pthread_barrier_destroy(&error_barrier);
    for (int t = 0; t < 2; t++) {
        CHECK(threads[t].seen_before[0] == '\0');
        CHECK(threads[t].status == LD4MREC_ERR_IO);
        CHECK(strstr(threads[t].message, threads[t].path) != NULL);
        CHECK(strstr(threads[t].message, threads[1 - t].path) == NULL);
    }
    CHECK(strcmp(mine, ld4mrec_last_error()) == 0);
}

/* 8 readers recommend for a set of users while 2 writers change other users' histories
 * and replace the readers' users' histories with the same content. */
enum { READERS = 8, WRITERS = 2, READ_USERS = 12, TOP = 10, READ_ROUNDS = 400,
       WRITE_ROUNDS = 2000 };

static ld4mrec_store *shared_store;
static int64_t read_users[READ_USERS];
static int64_t expected_top[READ_USERS][TOP];
static float expected_scores[READ_USERS][TOP];
static int64_t expected_history[READ_USERS][N_ITEMS];
static long expected_length[READ_USERS];
static pthread_barrier_t start_barrier; /* all threads start together */

static void *reader_main(void *arg) {
    unsigned index = (unsigned)(size_t)arg;
    pthread_barrier_wait(&start_barrier);
    for (unsigned round = 0; round < READ_ROUNDS; round++) {
        unsigned u = (index + round) % READ_USERS;
        int64_t top[TOP];
        float scores[TOP];
        size_t count = 0;
        int32_t status = ld4mrec_recommend_user(model, shared_store, read_users[u], TOP, NULL, top,
                                                scores, TOP, &count);
        if (status != LD4MREC_OK) {
            fail_at(__FILE__, __LINE__, "reader %u: status %d (%s)", index, status,
                    ld4mrec_last_error());
            continue;
        }
        if (count != TOP || memcmp(top, expected_top[u], sizeof top) != 0 ||
            memcmp(scores, expected_scores[u], sizeof scores) != 0)
            fail_at(__FILE__, __LINE__, "reader %u, user %lld: not the single-threaded result",
                    index, (long long)read_users[u]);
        if (round % 5 == 0) {
            int64_t history[N_ITEMS];
            count = 0;
            status = ld4mrec_store_get_history(shared_store, read_users[u], history, N_ITEMS,
                                               &count);
            if (status != LD4MREC_OK || (long)count != expected_length[u] ||
                memcmp(history, expected_history[u], count * sizeof history[0]) != 0)
                fail_at(__FILE__, __LINE__, "reader %u: history of user %lld changed", index,
                        (long long)read_users[u]);
        }
        if (round % 7 == 0) { /* batch and stateless paths too */
            int64_t rows[2 * TOP];
            size_t counts[2];
            int64_t pair[2] = {read_users[u], read_users[(u + 1) % READ_USERS]};
            status = ld4mrec_recommend_users(model, shared_store, pair, 2, TOP, NULL, rows, NULL,
                                             2 * TOP, counts);
            const size_t row = sizeof expected_top[u];
            if (status != LD4MREC_OK || memcmp(rows, expected_top[u], row) != 0 ||
                memcmp(rows + TOP, expected_top[(u + 1) % READ_USERS], row) != 0)
                fail_at(__FILE__, __LINE__, "reader %u: batch result differs", index);
            status = ld4mrec_recommend_history(model, expected_history[u],
                                               (size_t)expected_length[u], &read_users[u], TOP,
                                               NULL, top, NULL, TOP, &count, NULL);
            if (status != LD4MREC_OK || memcmp(top, expected_top[u], sizeof top) != 0)
                fail_at(__FILE__, __LINE__, "reader %u: stateless result differs", index);
        }
    }
    return NULL;
}

static void *writer_main(void *arg) {
    unsigned index = (unsigned)(size_t)arg;
    unsigned seed = 1000 + index;
    pthread_barrier_wait(&start_barrier);
    for (unsigned round = 0; round < WRITE_ROUNDS; round++) {
        seed = seed * 1103515245u + 12345u;
        /* Users READ_USERS.. of the model, plus fresh ids, belong to the writers. */
        int64_t user = (seed >> 4) % 3 == 0
                           ? 900000 + (int64_t)((seed >> 8) % 50)
                           : users[READ_USERS + (seed >> 8) % (N_USERS - READ_USERS)];
        int64_t some[5];
        for (int j = 0; j < 5; j++) {
            seed = seed * 1103515245u + 12345u;
            some[j] = j == 4 ? UNKNOWN_ITEM : items[(seed >> 8) % N_ITEMS];
        }
        int32_t status = LD4MREC_OK;
        switch (round % 5) {
        case 0: status = ld4mrec_store_add(shared_store, user, some, 5, NULL); break;
        case 1:
            status = ld4mrec_store_remove(shared_store, user, some, 3, NULL);
            if (status == LD4MREC_ERR_UNKNOWN_USER) status = LD4MREC_OK;
            break;
        case 2: status = ld4mrec_store_replace(shared_store, user, some, 5, NULL); break;
        case 3: status = ld4mrec_store_clear_user(shared_store, user, NULL); break;
        case 4: { /* a reader's user, replaced by the same history */
            unsigned u = (seed >> 8) % READ_USERS;
            status = ld4mrec_store_replace(shared_store, read_users[u], expected_history[u],
                                           (size_t)expected_length[u], NULL);
            break;
        }
        }
        if (status != LD4MREC_OK)
            fail_at(__FILE__, __LINE__, "writer %u: status %d (%s)", index, status,
                    ld4mrec_last_error());
        if (round % 50 == 0) { /* a consistent save while others write */
            char path[1100];
            snprintf(path, sizeof path, "%s/concurrent-%u.h5", tmp_dir, index);
            status = ld4mrec_store_save(shared_store, path);
            if (status != LD4MREC_OK)
                fail_at(__FILE__, __LINE__, "writer %u: save failed: %s", index,
                        ld4mrec_last_error());
        }
    }
    return NULL;
}

static void test_concurrent_readers_and_writers(void) {
    shared_store = store_from_model();
    for (size_t u = 0; u < READ_USERS; u++) {
        read_users[u] = users[u];
        expected_length[u] = history_of(shared_store, users[u], expected_history[u], N_ITEMS);
        size_t count = 0;
        CHECK_OK(ld4mrec_recommend_user(model, shared_store, users[u], TOP, NULL, expected_top[u],
                                        expected_scores[u], TOP, &count));
        CHECK(count == TOP);
    }
    pthread_t threads[READERS + WRITERS];
    pthread_barrier_init(&start_barrier, NULL, READERS + WRITERS);
    for (size_t t = 0; t < READERS + WRITERS; t++)
        CHECK(pthread_create(&threads[t], NULL, t < READERS ? reader_main : writer_main,
                             (void *)(t < READERS ? t : t - READERS)) == 0);
    for (size_t t = 0; t < READERS + WRITERS; t++) pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&start_barrier);
    for (size_t u = 0; u < READ_USERS; u++) {
        int64_t history[N_ITEMS];
        CHECK(history_of(shared_store, users[u], history, N_ITEMS) == expected_length[u]);
    }
    ld4mrec_store_free(shared_store);
}

/* Several threads load the same file at once; each model serves the same answers. */
static int64_t load_expected[TOP];

static void *loader_main(void *arg) {
    (void)arg;
    for (int round = 0; round < 3; round++) {
        ld4mrec_model *own = NULL;
        int32_t status = ld4mrec_model_load(model_path, &own);
        if (status != LD4MREC_OK) {
            fail_at(__FILE__, __LINE__, "concurrent load: %s", ld4mrec_last_error());
            return NULL;
        }
        int64_t top[TOP];
        size_t count = 0;
        status = ld4mrec_recommend_history(own, &items[3], 4, &users[2], TOP, NULL, top, NULL, TOP,
                                           &count, NULL);
        if (status != LD4MREC_OK || memcmp(top, load_expected, sizeof top) != 0)
            fail_at(__FILE__, __LINE__, "concurrently loaded model answers differently");
        ld4mrec_model_free(own);
    }
    return NULL;
}

static void test_concurrent_loads(void) {
    size_t count = 0;
    CHECK_OK(ld4mrec_recommend_history(model, &items[3], 4, &users[2], TOP, NULL, load_expected,
                                       NULL, TOP, &count, NULL));
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) CHECK(pthread_create(&threads[t], NULL, loader_main, NULL) == 0);
    for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
}

/* ---------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL SMALL_MODEL TMPDIR\n", argv[0]);
        return 2;
    }
    model_path = argv[1];
    small_model_path = argv[2];
    tmp_dir = argv[3];
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Tests before the fixture needs a model. */
    RUN(test_versions);
    RUN(test_status_strings);
    RUN(test_free_null);
    RUN(test_load_missing_and_not_regular);

    int32_t status = ld4mrec_model_load(model_path, &model);
    size_t count = 0;
    if (status != LD4MREC_OK ||
        ld4mrec_model_item_ids(model, items, N_ITEMS, &count) != LD4MREC_OK ||
        count != N_ITEMS) {
        printf("FAIL the fixture model %s: status %d, %zu items (expected %d)\n", model_path,
               status, count, N_ITEMS);
        printf("capi: %d passed, %d failed\n", tests_passed, tests_failed + 1);
        return 1;
    }
    ld4mrec_store *store = NULL;
    count = 0;
    if (ld4mrec_store_from_model(model, &store) != LD4MREC_OK ||
        ld4mrec_store_user_ids(store, users, N_USERS, &count) != LD4MREC_OK || count != N_USERS) {
        printf("FAIL the fixture model's store does not have %d users\n", N_USERS);
        printf("capi: %d passed, %d failed\n", tests_passed, tests_failed + 1);
        return 1;
    }
    ld4mrec_store_free(store);

    RUN(test_null_model_functions);
    RUN(test_null_store_functions);
    RUN(test_null_recommend_functions);
    RUN(test_optional_pointers);
    RUN(test_load_invalid_files);
    RUN(test_load_damaged_files);
    RUN(test_model_info);
    RUN(test_load_options);
    RUN(test_item_ids);
    RUN(test_store_from_model);
    RUN(test_store_updates);
    RUN(test_store_buffers);
    RUN(test_store_files);
    RUN(test_store_served_by_another_model);
    RUN(test_store_set_model);
    RUN(test_k_validation);
    RUN(test_huge_k);
    RUN(test_params);
    RUN(test_struct_prefixes);
    RUN(test_filters);
    RUN(test_stateful_equals_stateless);
    RUN(test_recommend_users);
    RUN(test_score_all);
    RUN(test_last_error_per_thread);
    RUN(test_concurrent_readers_and_writers);
    RUN(test_concurrent_loads);

    ld4mrec_model_free(model);
    printf("capi: %d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
