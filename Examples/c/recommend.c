/*
 * recommend.c: serve recommendations from an LD4MRec model with the C API.
 *
 *   gcc -std=c99 -Wall -Wextra -I Include recommend.c -L dist/lib -lld4mrec \
 *       -Wl,-rpath,$PWD/dist/lib -o recommend
 *   ./recommend model.h5
 *
 * Loads a model, serves a user from the model's training histories after adding two
 * fresh interactions, then recommends for a history kept by the caller (stateless) and
 * re-ranks a few candidate items.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ld4mrec.h"

#define TOP_K 10

/* Prints the failing call, the status and the library's message, and returns 0. */
static int ok(int32_t status, const char *what) {
    if (status == LD4MREC_OK) return 1;
    fprintf(stderr, "error: %s: %s (%s)\n", what, ld4mrec_last_error(),
            ld4mrec_status_string(status));
    return 0;
}

static void print_top(const int64_t *items, const float *scores, size_t count) {
    for (size_t i = 0; i < count; i++)
        printf("  %2zu. item %-8lld score %8.4f\n", i + 1, (long long)items[i], scores[i]);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL\n", argv[0]);
        return 2;
    }
    if (ld4mrec_version_number() != LD4MREC_VERSION_NUMBER) {
        fprintf(stderr, "error: libld4mrec %s does not match ld4mrec.h %s\n",
                ld4mrec_version_string(), LD4MREC_VERSION_STRING);
        return 1;
    }

    int exit_code = 1;
    ld4mrec_model *model = NULL;
    ld4mrec_store *store = NULL;
    int64_t *item_ids = NULL;

    /* 1. Load the model and look at its catalogue. */
    if (!ok(ld4mrec_model_load(argv[1], &model), "loading the model")) goto done;
    size_t n_items = ld4mrec_model_n_items(model);
    if (n_items < 6) {
        fprintf(stderr, "error: this example needs a model with at least 6 items\n");
        goto done;
    }
    item_ids = malloc(n_items * sizeof *item_ids);
    if (item_ids == NULL) goto done;
    if (!ok(ld4mrec_model_item_ids(model, item_ids, n_items, NULL), "reading item ids")) goto done;
    printf("libld4mrec %s: model %s, %zu items\n", ld4mrec_version_string(), argv[1], n_items);

    /* 2. A store with the training histories saved in the model file. */
    if (!ok(ld4mrec_store_from_model(model, &store), "creating the store")) goto done;
    int64_t user = 42; /* any id works: an absent user starts with an empty history */
    size_t n_users = ld4mrec_store_n_users(store);
    if (n_users > 0) { /* serve the first user of the training data */
        int64_t *users = malloc(n_users * sizeof *users);
        if (users == NULL) goto done;
        int32_t status = ld4mrec_store_user_ids(store, users, n_users, &n_users);
        if (status == LD4MREC_OK) user = users[0];
        free(users);
        if (!ok(status, "listing users")) goto done;
    }
    printf("store: %zu users with training histories\n", ld4mrec_store_n_users(store));

    /* 3. The user just interacted with two items: update the history, no retraining. */
    int64_t clicked[2] = {item_ids[0], item_ids[n_items / 2]};
    size_t skipped = 0;
    if (!ok(ld4mrec_store_add(store, user, clicked, 2, &skipped), "adding interactions"))
        goto done;
    size_t history_length = 0;
    int32_t status = ld4mrec_store_get_history(store, user, NULL, 0, &history_length);
    if (status != LD4MREC_ERR_BUFFER_TOO_SMALL && !ok(status, "reading the history")) goto done;
    printf("user %lld: added items %lld and %lld, history now %zu items\n", (long long)user,
           (long long)clicked[0], (long long)clicked[1], history_length);

    /* 4. Top-10 for that user (history items are left out by default). */
    int64_t top[TOP_K];
    float scores[TOP_K];
    size_t count = 0;
    if (!ok(ld4mrec_recommend_user(model, store, user, TOP_K, NULL, top, scores, TOP_K, &count),
            "recommending for the user"))
        goto done;
    printf("\ntop %d for user %lld:\n", TOP_K, (long long)user);
    print_top(top, scores, count);

    /* 5. Stateless: a history kept by the caller; 999999999 is not in the model. */
    int64_t history[4] = {item_ids[1], item_ids[2], item_ids[3], 999999999};
    if (!ok(ld4mrec_recommend_history(model, history, 4, NULL, TOP_K, NULL, top, scores, TOP_K,
                                      &count, &skipped),
            "recommending for a history"))
        goto done;
    printf("\ntop %d for the history {%lld, %lld, %lld, 999999999} (%zu unknown item skipped):\n",
           TOP_K, (long long)history[0], (long long)history[1], (long long)history[2], skipped);
    print_top(top, scores, count);

    /* 6. Re-rank candidates chosen elsewhere: only one dot product per candidate. */
    int64_t candidates[4] = {item_ids[n_items - 1], item_ids[n_items / 3], 123, item_ids[5]};
    float candidate_scores[4];
    size_t unknown = 0;
    if (!ok(ld4mrec_score_history(model, history, 4, NULL, candidates, 4, candidate_scores,
                                  &unknown, NULL),
            "scoring candidates"))
        goto done;
    printf("\ncandidate scores for the same history (%zu unknown):\n", unknown);
    for (size_t i = 0; i < 4; i++)
        printf("  item %-8lld score %8.4f\n", (long long)candidates[i], candidate_scores[i]);

    exit_code = 0;
done:
    free(item_ids);
    ld4mrec_store_free(store);
    ld4mrec_model_free(model);
    return exit_code;
}
