/*
 * ld4mrec.h: the C interface of libld4mrec, a serving library for LD4MRec, a light
 * diffusion model for multimedia recommendation.
 *
 * Life cycle
 * ----------
 *   ld4mrec_model *model;
 *   if (ld4mrec_model_load("model.h5", &model) != LD4MREC_OK)
 *       fprintf(stderr, "%s\n", ld4mrec_last_error());
 *   ld4mrec_store *store;
 *   ld4mrec_store_from_model(model, &store);          (or ld4mrec_store_new / _load)
 *   int64_t items[] = {17, 42};
 *   ld4mrec_store_add(store, user_id, items, 2, NULL); (histories change, no retraining)
 *   int64_t top[20]; float scores[20]; size_t n;
 *   ld4mrec_recommend_user(model, store, user_id, 20, NULL, top, scores, 20, &n);
 *   ld4mrec_store_free(store);
 *   ld4mrec_model_free(model);
 *
 * Swapping models
 * ---------------
 * A store holds item ids, not rows of a model, so any model can serve any store: a
 * retrained model with a different catalogue (items added, removed, reordered) serves
 * the same store at once, and no history item is lost on the way. An item the serving
 * model does not know is skipped when it scores (the stateless functions count it in
 * out_skipped) and stays in the store, to be served again by a later model that knows
 * it. To replace a model while requests are being served:
 *   1. load the new model: ld4mrec_model_load("retrained.h5", &next); (a file that may
 *      be malformed can first be checked in a child process, see the Conventions);
 *   2. optionally tell each store, to learn how many of its items the new model does
 *      not know: ld4mrec_store_set_model(store, next, &unknown);
 *   3. publish `next` to the threads that serve requests (an atomic pointer, a lock):
 *      calls that start from now on use it;
 *   4. free the old model once the last call that was given it has returned
 *      (reference counts, an epoch or a grace period): ld4mrec_model_free(old).
 * The library never frees a model by itself, and ld4mrec_model_free must not race
 * with calls using the model (step 4). Bindings/cpp/ld4mrec.hpp does steps 3 and 4 by
 * construction (ld4mrec::SharedModel, std::shared_ptr); the Python binding defers a
 * close() until calls in flight have returned.
 *
 * Conventions
 * -----------
 * - Capacities are element counts; SIZE_MAX means "large enough".
 * - Every fallible function returns an int32_t status: LD4MREC_OK (0) or one of the
 *   LD4MREC_ERR_* codes below. On failure, ld4mrec_last_error() describes the problem and
 *   no output argument is modified, except where a function says otherwise (a too-small
 *   buffer reports the required count).
 * - Ids are the caller's int64 ids of users and items (the model file maps them to rows).
 *   Item ids the model does not know are skipped and counted, never an error. Stores
 *   keep every item id they are given, known to the serving model or not.
 * - Outputs are caller-allocated with an element capacity. Inputs are only read during
 *   the call and may be freed once it returns. Nothing returned needs freeing except the
 *   handles, through their ld4mrec_*_free function, which accepts NULL.
 * - Structs that cross the ABI start with struct_size, set by the caller to the size it
 *   was compiled with: the library reads and writes only the fields that size covers,
 *   so a caller built against an older, smaller struct keeps working. Structs returned
 *   by value (ld4mrec_recommend_params_default, ld4mrec_load_params_default) come in one
 *   symbol version per layout, so a binary gets the layout of the header it was built
 *   with (see ld4mrec_recommend_params_default).
 * - Thread safety: a loaded model is immutable and may be shared by any number of threads.
 *   A store is safe for concurrent readers and writers (readers see each update whole).
 *   Scoring functions keep their scratch memory per call, never in a global.
 * - No input, however wrong, may abort the calling process: invalid arguments produce a
 *   status code. Passing a pointer that is not NULL but invalid (dangling, too short for
 *   the count given) is undefined behaviour, as in any C library. One exception the
 *   library cannot rule out: model and store files are read by libhdf5, and libhdf5
 *   1.10.8 can crash or hang on some deliberately malformed files (found by fuzzing,
 *   docs/TESTING.md). Files the library or your own trainer wrote are safe; a file of
 *   unknown origin can be checked first in a child process (`timeout 60 ld4mrec inspect
 *   FILE` reads a model file the same way) before a long-running service loads it.
 */
#ifndef LD4MREC_H
#define LD4MREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LD4MREC_API __attribute__((visibility("default")))

/* ---------------------------------------------------------------------------------- */
/* Versions                                                                             */
/* ---------------------------------------------------------------------------------- */

#define LD4MREC_VERSION_MAJOR 0
#define LD4MREC_VERSION_MINOR 2
#define LD4MREC_VERSION_PATCH 0
#define LD4MREC_VERSION_NUMBER \
    (LD4MREC_VERSION_MAJOR * 10000 + LD4MREC_VERSION_MINOR * 100 + LD4MREC_VERSION_PATCH)
#define LD4MREC_VERSION_STRING "0.2.0"

/* The ABI version; also the SONAME suffix (libld4mrec.so.1). Bumped only by a change
 * that breaks existing callers; new functions and appended struct fields do not. */
#define LD4MREC_ABI_VERSION 1

/* The library's LD4MREC_VERSION_NUMBER; compare with the header's to detect a mismatch.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_version_number(void);

/* The library's version as static text, e.g. "0.2.0". Thread-safe. Since 0.1.0. */
LD4MREC_API const char *ld4mrec_version_string(void);

/* The library's LD4MREC_ABI_VERSION. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_abi_version(void);

/* ---------------------------------------------------------------------------------- */
/* Status codes and errors                                                              */
/* ---------------------------------------------------------------------------------- */

/* Fixed values: codes are only ever appended, never renumbered. */
enum {
    LD4MREC_OK = 0,
    LD4MREC_ERR_INVALID_ARGUMENT = 1,    /* NULL pointer, k < 1, bad params struct, ... */
    LD4MREC_ERR_BUFFER_TOO_SMALL = 2,    /* capacity below the required element count */
    LD4MREC_ERR_IO = 3,                  /* a file could not be opened, read or written */
    LD4MREC_ERR_INVALID_FILE = 4,        /* not a valid model or store file */
    LD4MREC_ERR_UNSUPPORTED_VERSION = 5, /* a file format version this library cannot read */
    LD4MREC_ERR_UNKNOWN_USER = 6,        /* the store holds no history for this user */
    LD4MREC_ERR_OUT_OF_MEMORY = 7,       /* a request too large to allocate */
    LD4MREC_ERR_INTERNAL = 8             /* a bug in the library: please report it */
};

/* Static, English text naming a status code ("invalid argument", ...); never NULL, also
 * for unknown codes. Thread-safe. Since 0.1.0. */
LD4MREC_API const char *ld4mrec_status_string(int32_t status);

/* The message of the last failing call on the calling thread ("" if none failed yet).
 * Owned by the library; valid until the next failing call on the same thread. Each thread
 * has its own message. Thread-safe. Since 0.1.0. */
LD4MREC_API const char *ld4mrec_last_error(void);

/* ---------------------------------------------------------------------------------- */
/* Threads                                                                              */
/* ---------------------------------------------------------------------------------- */

/* Sets how many threads a call may use when its params leave n_threads at 0: n >= 1, or
 * 0 for one per core (the initial setting, right for batches and notebooks). A server
 * that calls the library from many threads at once should set 1 (or pass n_threads = 1),
 * so that concurrent requests do not compete for the cores; a call never starts more
 * threads than the library's pool (one per core). The library runs OpenBLAS's kernels
 * on its own threads and sets OpenBLAS to one thread when it is first used. The pool's
 * threads live as long as the process, so the library is linked not to unload
 * (-z nodelete): dlclose() on it leaves it loaded.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT (n < 0). Thread-safe. Since 0.2.0. */
LD4MREC_API int32_t ld4mrec_set_num_threads(int32_t n);

/* The default thread count of calls (0 resolved to the number of cores). Thread-safe.
 * Since 0.2.0. */
LD4MREC_API int32_t ld4mrec_get_num_threads(void);

/* ---------------------------------------------------------------------------------- */
/* Model                                                                                */
/* ---------------------------------------------------------------------------------- */

/* A loaded LD4MRec model: immutable, may be used by any number of threads at once. */
typedef struct ld4mrec_model ld4mrec_model;

/* Loads a model file (HDF5, format described in docs/FORMAT.md). The file is validated
 * whole (names, shapes, dtypes, finite values, unique ids, version) and copied into
 * memory; it is not kept open.
 *   path       in, not NULL: a NUL-terminated file path.
 *   out_model  out, not NULL: receives the new model; free with ld4mrec_model_free.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _IO (missing or unreadable file),
 * _INVALID_FILE (not an HDF5 file, or missing/malformed content: the message names the
 * dataset or attribute), _UNSUPPORTED_VERSION, _OUT_OF_MEMORY.
 * Tables of 2 MB and more are allocated on 2 MB boundaries and advised to the kernel as
 * transparent huge pages (madvise MADV_HUGEPAGE; honoured where THP is "madvise" or
 * "always"), which their scattered row reads need; each rounds up to whole 2 MB.
 * Thread-safe (file access is serialised inside the library). Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_model_load(const char *path, ld4mrec_model **out_model);

/* How a loaded model holds its large tables (the C-Net's weights, the input layer, the
 * item-item prior). Fixed values, append-only. */
enum {
    LD4MREC_PRECISION_FLOAT32 = 0,  /* as trained (the default). On CPUs with AVX512_BF16
                                       the output layer is held in bfloat16 as well (half
                                       its memory again) to screen top-K requests: the
                                       items that can make a list are found in bfloat16
                                       and scored in float32, so lists and scores are the
                                       float32 ones, at about the cost of reading bfloat16
                                       weights (AMX tiles for batches where the CPU has
                                       them: the first screened batch asks Linux for the
                                       AMX state, arch_prctl ARCH_REQ_XCOMP_PERM, which
                                       enlarges signal frames process-wide, as PyTorch and
                                       oneDNN do; a host with small alternate signal stacks
                                       loads with _FLOAT32_UNSCREENED) */
    LD4MREC_PRECISION_BFLOAT16 = 1, /* half the memory and memory traffic: weights and
                                       activations rounded to bfloat16, sums in float32
                                       (AVX512_BF16 instructions where the CPU has them);
                                       scores move by about 1e-3 of their spread, see
                                       BENCHMARKS.md for the effect on accuracy */
    LD4MREC_PRECISION_FLOAT32_UNSCREENED = 2  /* float32 without the bfloat16 screen: the
                                       least memory for float32 scores, slower top-K */
};

/* Options of ld4mrec_model_load_with. Fields are appended in later versions; struct_size
 * tells the library which ones the caller knows (as ld4mrec_recommend_params). */
typedef struct ld4mrec_load_params {
    size_t struct_size;  /* sizeof(ld4mrec_load_params) as the caller compiled it */
    int32_t precision;   /* LD4MREC_PRECISION_* (default FLOAT32) */
} ld4mrec_load_params;

/* The default load options. Thread-safe. Since 0.2.0. */
LD4MREC_API ld4mrec_load_params ld4mrec_load_params_default(void);

/* As ld4mrec_model_load, with options (NULL: the defaults). Also returns
 * _INVALID_ARGUMENT for an unknown precision or a struct_size below the 0.2.0 struct.
 * Thread-safe. Since 0.2.0. */
LD4MREC_API int32_t ld4mrec_model_load_with(const char *path, const ld4mrec_load_params *params,
                                            ld4mrec_model **out_model);

/* Frees a model. NULL is a no-op. Stores created from it keep their own data and stay
 * valid; any other model can serve them. Must not be called while another thread still
 * uses the model (see "Swapping models" above). Since 0.1.0. */
LD4MREC_API void ld4mrec_model_free(ld4mrec_model *model);

/* Sizes and hyperparameters of a loaded model, filled by ld4mrec_model_get_info. */
typedef struct ld4mrec_model_info {
    size_t struct_size;          /* set by the caller: sizeof(ld4mrec_model_info) */
    int32_t format_version;      /* model file format version */
    int64_t n_items;             /* items in the catalogue (length of score vectors) */
    int64_t n_users;             /* users with a learned initial-step embedding */
    int64_t n_history_users;     /* users with a training history stored in the file */
    int32_t hidden_size;         /* d */
    int32_t svd_rank;            /* k */
    int32_t step_embedding_size; /* d_f */
    int32_t n_steps;             /* T */
    int32_t n_blocks;            /* S, stacked CG/PG blocks */
    int32_t film_hidden_size;    /* h_mlp */
    int32_t n_modalities;        /* M; names via ld4mrec_model_modality_name */
    /* Since 0.2.0. */
    int32_t precision;           /* LD4MREC_PRECISION_* the model was loaded with */
    int64_t weight_bytes;        /* memory of the tables scoring reads */
} ld4mrec_model_info;

/* Fills *out_info. The caller sets out_info->struct_size to sizeof(ld4mrec_model_info)
 * as it compiled it; it must be at least the size of the 0.1.0 struct (up to
 * n_modalities). The library fills only the fields that struct_size covers, and leaves
 * struct_size as it was.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT (NULL model or out_info, struct_size too
 * small). Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_model_get_info(const ld4mrec_model *model,
                                           ld4mrec_model_info *out_info);

/* Number of items of the model, 0 for NULL. Thread-safe. Since 0.1.0. */
LD4MREC_API size_t ld4mrec_model_n_items(const ld4mrec_model *model);

/* The name of modality `index` (0-based, in the order the model applies them), as text
 * owned by the model and valid while it lives; NULL if model is NULL or index out of
 * range. Thread-safe. Since 0.1.0. */
LD4MREC_API const char *ld4mrec_model_modality_name(const ld4mrec_model *model,
                                                    int32_t index);

/* Copies the model's item ids, in the order of full score vectors, into out_ids.
 *   out_ids   out: room for `capacity` ids; may be NULL if capacity is 0.
 *   out_count out, may be NULL: the number of items (also when the buffer is too small,
 *             so that a call with capacity 0 asks for the size).
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _BUFFER_TOO_SMALL (capacity < n_items).
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_model_item_ids(const ld4mrec_model *model, int64_t *out_ids,
                                           size_t capacity, size_t *out_count);

/* ---------------------------------------------------------------------------------- */
/* User-history store                                                                   */
/* ---------------------------------------------------------------------------------- */

/* Histories (sets of item ids) per user id. Safe for any number of concurrent readers
 * and writers; every update is atomic. A store keeps every item id it is given and can
 * be served by any model (see "Swapping models" above). It remembers one model, "its
 * model" (the one it was created with, or set by ld4mrec_store_set_model), only to count
 * the ids that model does not know in the out_skipped results of add, replace and load;
 * it holds that model's item ids, not the model, so freeing the model is safe. */
typedef struct ld4mrec_store ld4mrec_store;

/* Creates an empty store whose model is `model`.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_new(const ld4mrec_model *model, ld4mrec_store **out_store);

/* Creates a store holding the training histories saved in the model file (empty if the
 * file has none), so that known users can be served at once.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _OUT_OF_MEMORY. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_from_model(const ld4mrec_model *model,
                                             ld4mrec_store **out_store);

/* Loads a store saved by ld4mrec_store_save, with `model` as its model. Every item id
 * of the file is kept; how many of them (one per user and item) the model does not know
 * goes to *out_skipped (may be NULL). (Before 0.2.0, those ids were dropped.)
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _IO, _INVALID_FILE, _UNSUPPORTED_VERSION,
 * _OUT_OF_MEMORY. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_load(const ld4mrec_model *model, const char *path,
                                       ld4mrec_store **out_store, size_t *out_skipped);

/* Saves the store atomically: written to a temporary file in the same folder
 * (`path`.tmp-PID-N), flushed to disk, then renamed over `path`; on any failure the
 * previous file at `path` is intact. A process killed mid-save may leave its temporary
 * file behind; it is never read and may be deleted.
 * Sees one consistent state of the store while concurrent writers wait.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _IO. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_save(const ld4mrec_store *store, const char *path);

/* Frees a store. NULL is a no-op. Must not be called while another thread uses it.
 * Since 0.1.0. */
LD4MREC_API void ld4mrec_store_free(ld4mrec_store *store);

/* Adds items to a user's history (creating the user if needed); items already present
 * are ignored. How many of the given ids (repeats counted once) the store's model does
 * not know goes to *out_skipped (may be NULL); they are added all the same. (Before
 * 0.2.0, those ids were dropped.) `items` may be NULL only if n_items is 0.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_add(ld4mrec_store *store, int64_t user_id,
                                      const int64_t *items, size_t n_items,
                                      size_t *out_skipped);

/* Removes items from a user's history; items not in it are ignored. *out_removed (may
 * be NULL) receives the number actually removed. The user stays (possibly empty).
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _UNKNOWN_USER. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_remove(ld4mrec_store *store, int64_t user_id,
                                         const int64_t *items, size_t n_items,
                                         size_t *out_removed);

/* Replaces a user's history by `items` (creating the user if needed), counting the ids
 * the store's model does not know in *out_skipped as ld4mrec_store_add does.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_replace(ld4mrec_store *store, int64_t user_id,
                                          const int64_t *items, size_t n_items,
                                          size_t *out_skipped);

/* Deletes a user and their history from the store; a no-op for an absent user.
 * *out_existed (may be NULL) tells whether the user was there.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_clear_user(ld4mrec_store *store, int64_t user_id,
                                             bool *out_existed);

/* Copies a user's history (item ids, ascending) to out_items. (Before 0.2.0: ascending
 * by the model's item order.)
 *   out_items  out: room for `capacity` ids; may be NULL if capacity is 0.
 *   out_count  out, not NULL: the history's length (also when the buffer is too small,
 *              so that a call with capacity 0 asks for the size).
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _UNKNOWN_USER, _BUFFER_TOO_SMALL.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_get_history(const ld4mrec_store *store, int64_t user_id,
                                              int64_t *out_items, size_t capacity,
                                              size_t *out_count);

/* Number of users in the store, 0 for NULL. Thread-safe. Since 0.1.0. */
LD4MREC_API size_t ld4mrec_store_n_users(const ld4mrec_store *store);

/* Copies the store's user ids (ascending) to out_ids (may be NULL if capacity is 0);
 * out_count as in ld4mrec_store_get_history. Returns LD4MREC_OK, _INVALID_ARGUMENT, _BUFFER_TOO_SMALL.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_store_user_ids(const ld4mrec_store *store, int64_t *out_ids,
                                           size_t capacity, size_t *out_count);

/* Makes `model` the store's model (whose unknown ids add, replace and load count) and
 * reports how many stored items (one per user and item) it does not know. Histories are
 * not changed: no item is dropped, and any model may serve the store before and after.
 * Call it when swapping in a retrained model, to learn how much of the stored history
 * the new model cannot use yet. The store keeps the model's item ids, not the model.
 *   out_unknown out, may be NULL: the count, over the histories as they were when the
 *               model was set.
 * Returns LD4MREC_OK or _INVALID_ARGUMENT. Thread-safe: requests using the store go on
 * meanwhile; updates wait while it counts (one hash lookup per stored item).
 * Since 0.2.0. */
LD4MREC_API int32_t ld4mrec_store_set_model(ld4mrec_store *store, const ld4mrec_model *model,
                                            size_t *out_unknown);

/* ---------------------------------------------------------------------------------- */
/* Recommending and scoring                                                             */
/* ---------------------------------------------------------------------------------- */

/* Options of the top-K functions. Get defaults from ld4mrec_recommend_params_default();
 * pass NULL for the defaults. Fields are appended in later versions, never changed:
 * struct_size tells the library which ones the caller knows, and the library reads only
 * the fields that struct_size covers (a caller compiled against 0.1.0 keeps working; the
 * fields it does not know take their defaults). */
typedef struct ld4mrec_recommend_params {
    size_t struct_size;            /* sizeof(ld4mrec_recommend_params) as the caller
                                      compiled it; at least 0.1.0's (up to n_excluded_items) */
    bool exclude_history;          /* leave the history's items out (default true) */
    const int64_t *only_items;     /* if not NULL: recommend only among these item ids
                                      (non-NULL with n_only_items 0: no candidates) */
    size_t n_only_items;
    const int64_t *excluded_items; /* if not NULL: never recommend these item ids */
    size_t n_excluded_items;
    /* Since 0.2.0. */
    int32_t n_threads;             /* threads the call may use; 0 (default): the
                                      library's default, see ld4mrec_set_num_threads */
} ld4mrec_recommend_params;

/* The default options (exclude the history, no item restriction), with struct_size set
 * to the size of the struct as the caller was compiled. The struct comes back by value,
 * in a buffer the caller sized: so the library exports this function once per layout
 * (GNU symbol versions LD4MREC_0.1 for 0.1.0's 48-byte struct, LD4MREC_0.2 for today's),
 * and a binary built against an older header keeps getting, and passing back, its own
 * smaller struct. Thread-safe. Since 0.1.0. */
LD4MREC_API ld4mrec_recommend_params ld4mrec_recommend_params_default(void);

/* Top-k items for a user of the store, best first. A user absent from the store is
 * served with an empty history; a user unknown to the model with the default initial
 * embedding (z_in_default).
 *   k           in: at least 1; fewer items are returned when fewer are candidates.
 *   params      in, may be NULL (defaults).
 *   out_items   out, not NULL: item ids, room for `capacity` ids.
 *   out_scores  out, may be NULL: their scores.
 *   out_count   out, not NULL: items written; with _BUFFER_TOO_SMALL, the count needed
 *               (min(k, candidates)).
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _BUFFER_TOO_SMALL, _OUT_OF_MEMORY.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_recommend_user(const ld4mrec_model *model,
                                           const ld4mrec_store *store, int64_t user_id,
                                           int32_t k, const ld4mrec_recommend_params *params,
                                           int64_t *out_items, float *out_scores,
                                           size_t capacity, size_t *out_count);

/* Top-k items for a history given by the caller (stateless: for services that keep
 * histories elsewhere). Unknown item ids in the history are skipped and counted.
 *   history     in: item ids; may be NULL if n_history is 0.
 *   user_id     in, may be NULL: the user, to use their learned initial embedding;
 *               NULL or an id unknown to the model uses z_in_default.
 *   out_skipped out, may be NULL: history items unknown to the model.
 *   Other arguments and returns as ld4mrec_recommend_user. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_recommend_history(const ld4mrec_model *model,
                                              const int64_t *history, size_t n_history,
                                              const int64_t *user_id, int32_t k,
                                              const ld4mrec_recommend_params *params,
                                              int64_t *out_items, float *out_scores,
                                              size_t capacity, size_t *out_count,
                                              size_t *out_skipped);

/* Top-k for many users of the store in one call (one matrix product per layer).
 * Row u of the outputs (u < n_users) starts at u * k; rows with fewer than k candidates
 * are padded with item id -1 and score -INFINITY. (k beyond the number of items only adds
 * padding: pass at most n_items.)
 *   user_ids    in, not NULL: n_users ids (n_users >= 1).
 *   out_items   out, not NULL: room for `capacity` ids; capacity >= n_users * k, else
 *               _BUFFER_TOO_SMALL.
 *   out_scores  out, may be NULL: same layout.
 *   out_counts  out, may be NULL: n_users valid-item counts.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _BUFFER_TOO_SMALL, _OUT_OF_MEMORY.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_recommend_users(const ld4mrec_model *model,
                                            const ld4mrec_store *store,
                                            const int64_t *user_ids, size_t n_users,
                                            int32_t k,
                                            const ld4mrec_recommend_params *params,
                                            int64_t *out_items, float *out_scores,
                                            size_t capacity, size_t *out_counts);

/* Scores of given candidate items for a user of the store (re-ranking). Costs one C-Net
 * pass up to the last hidden layer plus one dot product per candidate.
 *   candidates  in: item ids; may be NULL if n_candidates is 0.
 *   out_scores  out: n_candidates scores in the order of `candidates` (may be NULL only
 *               if n_candidates is 0);
 *               -INFINITY for ids unknown to the model.
 *   out_unknown out, may be NULL: how many candidates were unknown.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _OUT_OF_MEMORY. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_score_user(const ld4mrec_model *model, const ld4mrec_store *store,
                                       int64_t user_id, const int64_t *candidates,
                                       size_t n_candidates, float *out_scores,
                                       size_t *out_unknown);

/* As ld4mrec_score_user for a history given by the caller; user_id and out_skipped as
 * in ld4mrec_recommend_history. Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_score_history(const ld4mrec_model *model, const int64_t *history,
                                          size_t n_history, const int64_t *user_id,
                                          const int64_t *candidates, size_t n_candidates,
                                          float *out_scores, size_t *out_unknown,
                                          size_t *out_skipped);

/* Full score vectors (one score per item, in the order of ld4mrec_model_item_ids) for
 * users of the store: row u starts at u * n_items.
 *   out_scores  out, not NULL: room for `capacity` floats >= n_users * n_items.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _BUFFER_TOO_SMALL, _OUT_OF_MEMORY.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_score_all_users(const ld4mrec_model *model,
                                            const ld4mrec_store *store,
                                            const int64_t *user_ids, size_t n_users,
                                            float *out_scores, size_t capacity);

/* The full score vector for a history given by the caller; capacity >= n_items.
 * user_id and out_skipped as in ld4mrec_recommend_history.
 * Returns LD4MREC_OK, _INVALID_ARGUMENT, _BUFFER_TOO_SMALL, _OUT_OF_MEMORY.
 * Thread-safe. Since 0.1.0. */
LD4MREC_API int32_t ld4mrec_score_all_history(const ld4mrec_model *model,
                                              const int64_t *history, size_t n_history,
                                              const int64_t *user_id, float *out_scores,
                                              size_t capacity, size_t *out_skipped);

#ifdef __cplusplus
}
#endif

#endif /* LD4MREC_H */
