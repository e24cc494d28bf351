/*
 * fuzz_capi.c: libFuzzer target driving random sequences of C API calls with random
 * arguments against two small models of different catalogues (LD4MREC_FUZZ_MODEL and
 * LD4MREC_FUZZ_MODEL_B). The input is read as a program: each step picks a function and
 * its arguments (handles or NULL, ids known to one model, both or none, extreme k and
 * capacities, params structs of any struct_size in blocks of exactly that size, swapped
 * models). Pointers are always valid for the counts given, or NULL: the header makes
 * anything else the caller's undefined behaviour.
 *
 * Checked after every call: the status contract (fuzz_common.h) and the outputs: top-k
 * answers hold at most min(k, capacity) distinct items of the model's catalogue with
 * non-increasing scores, none excluded; candidate scores are -inf exactly for unknown
 * ids; and every store's histories equal a shadow copy kept by this harness from the
 * updates that succeeded, whichever model is swapped in. At exit it reports the number
 * of API calls made.
 */
#include "fuzz_common.h"

#include <math.h>

/* ---- the input as a stream of choices ------------------------------------------- */

static const uint8_t *input;
static size_t input_left;

static uint8_t next_byte(void) {
    if (input_left == 0) return 0;
    input_left--;
    return *input++;
}

static uint32_t next_u32(void) {
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) value = value << 8 | next_byte();
    return value;
}

static uint64_t next_u64(void) { return (uint64_t)next_u32() << 32 | next_u32(); }

static size_t below(size_t n) { return n == 0 ? 0 : next_u32() % n; }

/* ---- the models and what the harness knows of them ---------------------------- */

struct known_model {
    ld4mrec_model *model;
    int64_t *ids;        /* catalogue order */
    int64_t *sorted_ids; /* ascending, for lookups */
    size_t n_items;
};

static struct known_model models[2];
static unsigned long long api_calls;

static int compare_ids(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int knows(const struct known_model *m, int64_t id) {
    return bsearch(&id, m->sorted_ids, m->n_items, sizeof id, compare_ids) != NULL;
}

/* At exit: the calls made, on stderr and appended to $LD4MREC_FUZZ_CALLS (if set), where
 * Tests/fuzz/run.sh adds up the counts of libFuzzer's fork-mode children. */
static void report(void) {
    fprintf(stderr, "fuzz_capi: %llu API calls\n", api_calls);
    const char *path = getenv("LD4MREC_FUZZ_CALLS");
    FILE *file = path != NULL ? fopen(path, "a") : NULL;
    if (file != NULL) {
        fprintf(file, "%llu\n", api_calls);
        fclose(file);
    }
}

static void load_known(struct known_model *m, const char *variable) {
    const char *path = getenv(variable);
    if (path == NULL || ld4mrec_model_load(path, &m->model) != LD4MREC_OK) {
        fprintf(stderr, "fuzz_capi: set %s to a model file (%s)\n", variable, ld4mrec_last_error());
        exit(2);
    }
    m->n_items = ld4mrec_model_n_items(m->model);
    m->ids = malloc(m->n_items * sizeof *m->ids);
    m->sorted_ids = malloc(m->n_items * sizeof *m->ids);
    size_t count = 0;
    FUZZ_ASSERT(ld4mrec_model_item_ids(m->model, m->ids, m->n_items, &count) == LD4MREC_OK);
    memcpy(m->sorted_ids, m->ids, m->n_items * sizeof *m->ids);
    qsort(m->sorted_ids, m->n_items, sizeof *m->ids, compare_ids);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    load_known(&models[0], "LD4MREC_FUZZ_MODEL");
    load_known(&models[1], "LD4MREC_FUZZ_MODEL_B");
    atexit(report);
    return 0;
}

#define CALL(call) (api_calls++, (call))
#define CHECKED(status, name) fuzz_check_status(status, name)

/* ---- argument pickers ------------------------------------------------------------ */

static const int64_t odd_ids[] = {0, -1, 1, 42, 999, 500, 503, 999999937, INT64_MAX, INT64_MIN};

static int64_t pick_item(void) {
    switch (next_byte() % 4) {
    case 0: return odd_ids[below(sizeof odd_ids / sizeof odd_ids[0])];
    case 1: return models[1].ids[below(models[1].n_items)];
    default: return models[0].ids[below(models[0].n_items)];
    }
}

/* Users: a few fixed ids (some with training histories), so that updates meet. */
static const int64_t user_table[] = {500, 503, 506, 7, -7, 0, INT64_MAX, INT64_MIN};

static int64_t pick_user(void) {
    uint8_t b = next_byte();
    return b < 240 ? user_table[b % 8] : (int64_t)next_u64();
}

/* An id list of `n` ids, or NULL (with n 0 or, to be refused, not). */
static int64_t *pick_items(size_t *n) {
    *n = below(12);
    if (next_byte() % 16 == 0) return NULL;
    int64_t *items = malloc((*n ? *n : 1) * sizeof *items);
    for (size_t i = 0; i < *n; i++) items[i] = pick_item();
    return items;
}

static int32_t pick_k(void) {
    static const int32_t table[] = {1, 2, 5, 10, 0, -1, INT32_MAX, INT32_MIN, 40, 41, 60};
    uint8_t b = next_byte();
    return b < 200 ? table[b % 11] : (int32_t)next_u32();
}

static struct known_model *pick_model(void) {
    uint8_t b = next_byte() % 8;
    return b == 0 ? NULL : &models[b % 2];
}

/* A params struct in a block of exactly struct_size bytes (at least struct_size itself),
 * or NULL; *only / *excluded receive its lists for the checks. */
struct picked_params {
    ld4mrec_recommend_params *params;
    int64_t *only, *excluded;
    size_t n_only, n_excluded;
    int has_only, exclude_history;
};

static void pick_params(struct picked_params *p) {
    memset(p, 0, sizeof *p);
    p->exclude_history = 1;
    if (next_byte() % 3 == 0) return;
    ld4mrec_recommend_params full = ld4mrec_recommend_params_default();
    api_calls++;
    full.exclude_history = next_byte() % 2;
    if (next_byte() % 3 == 0) full.only_items = p->only = pick_items(&full.n_only_items);
    if (next_byte() % 3 == 0) full.excluded_items = p->excluded = pick_items(&full.n_excluded_items);
    full.n_threads = next_byte() % 8 == 0 ? (int32_t)next_u32() : (int32_t)(next_byte() % 3);
    const size_t v010 = offsetof(ld4mrec_recommend_params, n_excluded_items) + sizeof(size_t);
    static const size_t extra[] = {0, 4, 16};
    size_t size;
    switch (next_byte() % 4) {
    case 0: size = v010; break;
    case 1: size = sizeof(size_t) + below(v010); break; /* possibly cut: refused */
    default: size = sizeof full + extra[below(3)];      /* today's, or a newer caller's */
    }
    unsigned char *block = malloc(size);
    memset(block, 0x7e, size);
    full.struct_size = size;
    memcpy(block, &full, size < sizeof full ? size : sizeof full);
    p->params = (ld4mrec_recommend_params *)(void *)block;
    p->n_only = full.n_only_items;
    p->n_excluded = full.n_excluded_items;
    p->has_only = p->only != NULL || (full.n_only_items == 0 && full.only_items != NULL);
    p->exclude_history = full.exclude_history;
}

static void free_params(struct picked_params *p) {
    free(p->params);
    free(p->only);
    free(p->excluded);
}

/* ---- stores and their shadow copies ----------------------------------------------- */

#define MAX_USERS 64
#define MAX_HISTORY 512

struct shadow_user {
    int64_t user;
    int64_t items[MAX_HISTORY];
    size_t n;
};

struct slot {
    ld4mrec_store *store;
    int tracked; /* the shadow is exact (stays so while it fits) */
    struct shadow_user users[MAX_USERS];
    size_t n_users;
};

static struct slot slots[2];

static struct shadow_user *shadow_find(struct slot *s, int64_t user) {
    for (size_t u = 0; u < s->n_users; u++)
        if (s->users[u].user == user) return &s->users[u];
    return NULL;
}

static struct shadow_user *shadow_add_user(struct slot *s, int64_t user) {
    struct shadow_user *found = shadow_find(s, user);
    if (found != NULL) return found;
    if (s->n_users == MAX_USERS) {
        s->tracked = 0;
        return NULL;
    }
    found = &s->users[s->n_users++];
    found->user = user;
    found->n = 0;
    return found;
}

static void shadow_insert(struct slot *s, struct shadow_user *u, int64_t item) {
    size_t at = 0;
    while (at < u->n && u->items[at] < item) at++;
    if (at < u->n && u->items[at] == item) return;
    if (u->n == MAX_HISTORY) {
        s->tracked = 0;
        return;
    }
    memmove(&u->items[at + 1], &u->items[at], (u->n - at) * sizeof item);
    u->items[at] = item;
    u->n++;
}

static size_t shadow_remove(struct shadow_user *u, int64_t item) {
    for (size_t at = 0; at < u->n; at++)
        if (u->items[at] == item) {
            memmove(&u->items[at], &u->items[at + 1], (u->n - at - 1) * sizeof item);
            u->n--;
            return 1;
        }
    return 0;
}

/* Reads a store into its shadow through the API (after it was made or loaded). */
static void shadow_read(struct slot *s) {
    s->n_users = 0;
    s->tracked = 0;
    int64_t users[MAX_USERS];
    size_t count = 0;
    if (CALL(ld4mrec_store_user_ids(s->store, users, MAX_USERS, &count)) != LD4MREC_OK) return;
    for (size_t u = 0; u < count; u++) {
        struct shadow_user *shadow = &s->users[s->n_users++];
        shadow->user = users[u];
        if (CALL(ld4mrec_store_get_history(s->store, users[u], shadow->items, MAX_HISTORY, &shadow->n)) !=
            LD4MREC_OK)
            return;
    }
    s->tracked = 1;
}

/* The store holds exactly its shadow. */
static void shadow_verify(struct slot *s) {
    if (s->store == NULL || !s->tracked) return;
    FUZZ_ASSERT(CALL(ld4mrec_store_n_users(s->store)) == s->n_users);
    for (size_t u = 0; u < s->n_users; u++) {
        int64_t items[MAX_HISTORY];
        size_t n = 0;
        FUZZ_ASSERT(CALL(ld4mrec_store_get_history(s->store, s->users[u].user, items, MAX_HISTORY, &n)) ==
                    LD4MREC_OK);
        FUZZ_ASSERT(n == s->users[u].n && memcmp(items, s->users[u].items, n * sizeof items[0]) == 0);
    }
}

static struct slot *pick_slot(void) { return &slots[next_byte() % 2]; }

static ld4mrec_store *store_of(struct slot *s) { return next_byte() % 16 == 0 ? NULL : s->store; }

/* ---- checks of answers -------------------------------------------------------------- */

static int contains(const int64_t *items, size_t n, int64_t id) {
    for (size_t i = 0; i < n; i++)
        if (items[i] == id) return 1;
    return 0;
}

static void check_top(const struct known_model *m, const struct picked_params *p, int32_t k,
                      const int64_t *items, const float *scores, size_t count) {
    FUZZ_ASSERT(k >= 1 && count <= (size_t)k && count <= m->n_items);
    for (size_t i = 0; i < count; i++) {
        FUZZ_ASSERT(knows(m, items[i]));
        FUZZ_ASSERT(!contains(items, i, items[i]));
        FUZZ_ASSERT(!(p->excluded != NULL && contains(p->excluded, p->n_excluded, items[i])));
        FUZZ_ASSERT(!(p->has_only && !contains(p->only, p->n_only, items[i])));
        if (scores != NULL) FUZZ_ASSERT(!isnan(scores[i]) && (i == 0 || scores[i] <= scores[i - 1]));
    }
}

/* ---- the steps --------------------------------------------------------------------- */

static void step_store_make(void) {
    struct slot *s = pick_slot();
    struct known_model *m = pick_model();
    ld4mrec_model *model = m ? m->model : NULL;
    ld4mrec_store *made = NULL;
    int32_t status;
    size_t unknown = 0;
    switch (next_byte() % 4) {
    case 0: status = CALL(ld4mrec_store_new(model, &made)); break;
    case 1: status = CALL(ld4mrec_store_from_model(model, &made)); break;
    case 2: status = CALL(ld4mrec_store_load(model, fuzz_temp_path("saved.h5"), &made, &unknown)); break;
    default: status = CALL(ld4mrec_store_load(model, getenv("LD4MREC_FUZZ_MODEL"), &made, NULL)); break;
    }
    CHECKED(status, "making a store");
    if (status != LD4MREC_OK) {
        FUZZ_ASSERT(made == NULL);
        return;
    }
    CALL(ld4mrec_store_free(s->store));
    s->store = made;
    shadow_read(s);
}

static void step_update(void) {
    struct slot *s = pick_slot();
    ld4mrec_store *store = store_of(s);
    const int64_t user = pick_user();
    size_t n = 0, count = 12345;
    int64_t *items = pick_items(&n);
    const uint8_t action = next_byte() % 4;
    int32_t status;
    switch (action) {
    case 0: status = CALL(ld4mrec_store_add(store, user, items, n, next_byte() % 4 ? &count : NULL)); break;
    case 1: status = CALL(ld4mrec_store_remove(store, user, items, n, next_byte() % 4 ? &count : NULL)); break;
    case 2: status = CALL(ld4mrec_store_replace(store, user, items, n, next_byte() % 4 ? &count : NULL)); break;
    default: {
        bool existed = false;
        status = CALL(ld4mrec_store_clear_user(store, user, &existed));
        if (status == LD4MREC_OK) count = existed;
    }
    }
    CHECKED(status, "a store update");
    const int invalid = store == NULL || (items == NULL && n > 0 && action != 3);
    struct shadow_user *shadow = s->store && s->tracked ? shadow_find(s, user) : NULL;
    if (invalid) {
        FUZZ_ASSERT(status == LD4MREC_ERR_INVALID_ARGUMENT && count == 12345);
    } else if (action == 1 && s->tracked && shadow == NULL) {
        FUZZ_ASSERT(status == LD4MREC_ERR_UNKNOWN_USER);
    } else {
        FUZZ_ASSERT(status == LD4MREC_OK || (action == 1 && !s->tracked));
    }
    if (status == LD4MREC_OK && s->tracked) {
        if (action == 0 || action == 2) {
            shadow = shadow_add_user(s, user);
            if (shadow != NULL) {
                if (action == 2) shadow->n = 0;
                for (size_t i = 0; i < n; i++) shadow_insert(s, shadow, items[i]);
            }
        } else if (action == 1) {
            size_t removed = 0;
            for (size_t i = 0; i < n; i++) removed += shadow_remove(shadow, items[i]);
            if (count != 12345) FUZZ_ASSERT(count == removed);
        } else {
            FUZZ_ASSERT(count == (shadow != NULL));
            if (shadow != NULL) *shadow = s->users[--s->n_users];
        }
    }
    free(items);
    shadow_verify(s);
}

static void step_store_read(void) {
    struct slot *s = pick_slot();
    ld4mrec_store *store = store_of(s);
    const size_t capacity = below(8);
    int64_t *out = next_byte() % 8 ? malloc((capacity ? capacity : 1) * sizeof *out) : NULL;
    size_t count = 12345;
    int32_t status;
    if (next_byte() % 2) {
        status = CALL(ld4mrec_store_get_history(store, pick_user(), out, capacity, next_byte() % 8 ? &count : NULL));
    } else {
        status = CALL(ld4mrec_store_user_ids(store, out, capacity, next_byte() % 8 ? &count : NULL));
        (void)CALL(ld4mrec_store_n_users(store));
    }
    CHECKED(status, "a store read");
    if (status == LD4MREC_OK) FUZZ_ASSERT(count <= capacity);
    free(out);
}

static void step_store_file(void) {
    struct slot *s = pick_slot();
    const char *path = next_byte() % 8 ? fuzz_temp_path("saved.h5") : fuzz_temp_path("missing/saved.h5");
    int32_t status = CALL(ld4mrec_store_save(store_of(s), next_byte() % 16 ? path : NULL));
    CHECKED(status, "ld4mrec_store_save");
}

static void step_set_model(void) {
    struct slot *s = pick_slot();
    struct known_model *m = pick_model();
    size_t unknown = 12345;
    ld4mrec_store *store = store_of(s);
    int32_t status = CALL(ld4mrec_store_set_model(store, m ? m->model : NULL, &unknown));
    CHECKED(status, "ld4mrec_store_set_model");
    FUZZ_ASSERT((status == LD4MREC_OK) == (store != NULL && m != NULL));
    if (status == LD4MREC_OK && s->tracked) {
        size_t expected = 0;
        for (size_t u = 0; u < s->n_users; u++)
            for (size_t i = 0; i < s->users[u].n; i++) expected += !knows(m, s->users[u].items[i]);
        FUZZ_ASSERT(unknown == expected);
    }
    shadow_verify(s);
}

static void step_recommend(void) {
    struct known_model *m = pick_model();
    ld4mrec_model *model = m ? m->model : NULL;
    struct slot *s = pick_slot();
    ld4mrec_store *store = store_of(s);
    struct picked_params p;
    pick_params(&p);
    const int32_t k = pick_k();
    const size_t room = 64; /* more than any model's items */
    size_t capacity = next_byte() % 4 ? below(room + 1) : SIZE_MAX;
    int64_t *items = malloc(room * 4 * sizeof *items);
    float *scores = next_byte() % 4 ? malloc(room * 4 * sizeof *scores) : NULL;
    size_t count = 12345, skipped = 12345;
    int32_t status;
    switch (next_byte() % 3) {
    case 0:
        status = CALL(ld4mrec_recommend_user(model, store, pick_user(), k, p.params, items, scores, capacity, &count));
        CHECKED(status, "ld4mrec_recommend_user");
        break;
    case 1: {
        size_t n = 0;
        int64_t *history = pick_items(&n);
        int64_t user = pick_user();
        status = CALL(ld4mrec_recommend_history(model, history, n, next_byte() % 2 ? &user : NULL, k, p.params,
                                                items, scores, capacity, &count, &skipped));
        CHECKED(status, "ld4mrec_recommend_history");
        if (status == LD4MREC_OK) {
            size_t expected = 0;
            for (size_t i = 0; i < n; i++) expected += !knows(m, history[i]);
            FUZZ_ASSERT(skipped == expected);
        }
        free(history);
        break;
    }
    default: {
        int64_t users[4];
        const size_t n_users = below(5);
        for (size_t u = 0; u < n_users; u++) users[u] = pick_user();
        size_t counts[4];
        capacity = capacity == SIZE_MAX ? SIZE_MAX : below(room * 4 + 1);
        /* A capacity the buffer really has: SIZE_MAX only where every row fits. */
        if (capacity == SIZE_MAX && (k < 1 || (size_t)k > room)) capacity = room * 4;
        status = CALL(ld4mrec_recommend_users(model, store, users, n_users, k, p.params, items, scores, capacity,
                                              next_byte() % 2 ? counts : NULL));
        CHECKED(status, "ld4mrec_recommend_users");
        if (status == LD4MREC_OK) {
            FUZZ_ASSERT(k >= 1 && n_users >= 1 && capacity >= n_users * (size_t)k);
            for (size_t u = 0; u < n_users; u++) {
                size_t valid = 0;
                while (valid < (size_t)k && items[u * k + valid] != -1) valid++;
                check_top(m, &p, k, items + u * k, scores ? scores + u * k : NULL, valid);
            }
        }
        count = 0;
        status = LD4MREC_ERR_BUFFER_TOO_SMALL; /* checked above */
    }
    }
    if (status == LD4MREC_OK) {
        FUZZ_ASSERT(count <= capacity);
        check_top(m, &p, k, items, scores, count);
    }
    free(items);
    free(scores);
    free_params(&p);
}

static void step_score(void) {
    struct known_model *m = pick_model();
    ld4mrec_model *model = m ? m->model : NULL;
    struct slot *s = pick_slot();
    size_t n = 0;
    int64_t *candidates = pick_items(&n);
    float *out = next_byte() % 8 ? malloc((n ? n : 1) * sizeof *out) : NULL;
    size_t unknown = 12345, skipped = 12345;
    int32_t status;
    if (next_byte() % 2) {
        status = CALL(ld4mrec_score_user(model, store_of(s), pick_user(), candidates, n, out, &unknown));
    } else {
        size_t n_history = 0;
        int64_t *history = pick_items(&n_history);
        status = CALL(ld4mrec_score_history(model, history, n_history, NULL, candidates, n, out, &unknown, &skipped));
        free(history);
    }
    CHECKED(status, "scoring candidates");
    if (status == LD4MREC_OK) {
        size_t expected = 0;
        for (size_t i = 0; i < n; i++) {
            const int known = knows(m, candidates[i]);
            expected += !known;
            FUZZ_ASSERT(known ? isfinite(out[i]) : isinf(out[i]) && out[i] < 0);
        }
        FUZZ_ASSERT(unknown == expected);
    }
    free(candidates);
    free(out);
}

static void step_score_all(void) {
    struct known_model *m = pick_model();
    ld4mrec_model *model = m ? m->model : NULL;
    const size_t room = 4 * 64;
    float *out = next_byte() % 8 ? malloc(room * sizeof *out) : NULL;
    const size_t capacity = below(room + 1);
    int32_t status;
    if (next_byte() % 2) {
        int64_t users[4];
        const size_t n_users = below(5);
        for (size_t u = 0; u < n_users; u++) users[u] = pick_user();
        status = CALL(ld4mrec_score_all_users(model, store_of(pick_slot()), users, n_users, out, capacity));
    } else {
        size_t n = 0;
        int64_t *history = pick_items(&n);
        status = CALL(ld4mrec_score_all_history(model, history, n, NULL, out, capacity, NULL));
        free(history);
    }
    CHECKED(status, "full score vectors");
    free(out);
}

static void step_model(void) {
    struct known_model *m = pick_model();
    ld4mrec_model *model = m ? m->model : NULL;
    switch (next_byte() % 5) {
    case 0: {
        static const size_t sizes[] = {0, 8, 16, sizeof(ld4mrec_model_info) - 1, sizeof(ld4mrec_model_info),
                                       sizeof(ld4mrec_model_info) + 16};
        const size_t size = sizes[below(6)];
        unsigned char *block = malloc(size < 8 ? 8 : size);
        memcpy(block, &size, sizeof size);
        int32_t status = CALL(ld4mrec_model_get_info(model, next_byte() % 16 ? (ld4mrec_model_info *)(void *)block : NULL));
        CHECKED(status, "ld4mrec_model_get_info");
        free(block);
        break;
    }
    case 1: (void)CALL(ld4mrec_model_modality_name(model, (int32_t)next_u32() % 4 - 1)); break;
    case 2: {
        const size_t capacity = below(70);
        int64_t *out = next_byte() % 8 ? malloc((capacity ? capacity : 1) * sizeof *out) : NULL;
        size_t count = 0;
        int32_t status = CALL(ld4mrec_model_item_ids(model, out, capacity, next_byte() % 4 ? &count : NULL));
        CHECKED(status, "ld4mrec_model_item_ids");
        if (status == LD4MREC_OK) FUZZ_ASSERT(memcmp(out, m->ids, m->n_items * sizeof *out) == 0);
        free(out);
        break;
    }
    case 3: {
        int32_t status = CALL(ld4mrec_set_num_threads(next_byte() % 4 ? (int32_t)(next_byte() % 3) : (int32_t)next_u32()));
        CHECKED(status, "ld4mrec_set_num_threads");
        FUZZ_ASSERT(CALL(ld4mrec_get_num_threads()) >= 1);
        break;
    }
    default:
        FUZZ_ASSERT(CALL(ld4mrec_status_string((int32_t)next_u32())) != NULL);
        FUZZ_ASSERT(CALL(ld4mrec_last_error()) != NULL);
        (void)CALL(ld4mrec_model_n_items(model));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input = data;
    input_left = size;
    for (int steps = 0; steps < 64 && input_left > 0; steps++) {
        switch (next_byte() % 9) {
        case 0: step_store_make(); break;
        case 1: case 2: step_update(); break;
        case 3: step_store_read(); break;
        case 4: step_store_file(); break;
        case 5: step_set_model(); break;
        case 6: step_recommend(); break;
        case 7: step_score(); break;
        default: next_byte() % 2 ? step_score_all() : step_model();
        }
    }
    for (int i = 0; i < 2; i++) {
        CALL(ld4mrec_store_free(slots[i].store));
        slots[i].store = NULL;
    }
    return 0;
}
