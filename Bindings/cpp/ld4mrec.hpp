/*
 * ld4mrec.hpp: header-only C++17 interface to libld4mrec (Include/ld4mrec.h).
 *
 *   #include "ld4mrec.hpp"
 *
 *   ld4mrec::Model model("model.h5");                    // throws ld4mrec::Error
 *   auto store = ld4mrec::Store::from_model(model);      // training histories
 *   store.add(user_id, {17, 42});                        // histories change, no retraining
 *   for (const auto &r : model.recommend_user(store, user_id, 20))
 *       std::cout << r.item << ' ' << r.score << '\n';
 *
 * - Every failing call throws ld4mrec::Error: the status code (LD4MREC_ERR_*) plus the
 *   library's message for the calling thread.
 * - Model and Store own their C handle through std::unique_ptr; both are move-only. A
 *   Model is immutable and may be shared by any number of threads (as const Model &); a
 *   Store is safe for concurrent readers and writers. A moved-from object holds no handle
 *   and must only be assigned to or destroyed.
 * - Swapping in a retrained model while threads serve requests: keep the model in a
 *   SharedModel; each request takes a std::shared_ptr<const Model> from it, and the old
 *   model is freed when the last request holding it returns. Any model serves any Store
 *   (a store keeps item ids, not rows of a model):
 *
 *     ld4mrec::SharedModel current(std::make_shared<const ld4mrec::Model>("model.h5"));
 *     // request threads:
 *     auto model = current.get();  // stays valid until `model` goes out of scope
 *     model->recommend_user(store, user_id, 20);
 *     // nightly:
 *     auto next = std::make_shared<const ld4mrec::Model>("retrained.h5");
 *     size_t unknown = store.set_model(*next);  // optional: items `next` does not know
 *     current.exchange(std::move(next));        // the old model dies with its last user
 * - Functions returning std::vector ask the library for the size first, then fill.
 *   Hot paths have pointer + size overloads that write into caller buffers and allocate
 *   nothing in this header.
 * - Build with -I<folder of ld4mrec.h> and link with -lld4mrec.
 */
#ifndef LD4MREC_HPP
#define LD4MREC_HPP

#include "ld4mrec.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ld4mrec {

// ------------------------------------------------------------------------------------
// Errors and versions
// ------------------------------------------------------------------------------------

/// A failed library call: what() is the library's message, status() the LD4MREC_ERR_*
/// code (e.g. LD4MREC_ERR_UNKNOWN_USER).
class Error : public std::runtime_error {
public:
    Error(int32_t status, const std::string &message)
        : std::runtime_error(message), status_(status) {}

    int32_t status() const noexcept { return status_; }

    /// Static text naming the status ("unknown user", ...).
    const char *status_string() const noexcept { return ld4mrec_status_string(status_); }

private:
    int32_t status_;
};

namespace detail {

/// Throws Error for a failing status, with the calling thread's last-error text.
inline void check(int32_t status) {
    if (status == LD4MREC_OK) return;
    const char *message = ld4mrec_last_error();
    std::string text = ld4mrec_status_string(status);
    if (message != nullptr && message[0] != '\0') {
        text += ": ";
        text += message;
    }
    throw Error(status, text);
}

struct ModelDeleter {
    void operator()(ld4mrec_model *model) const noexcept { ld4mrec_model_free(model); }
};

struct StoreDeleter {
    void operator()(ld4mrec_store *store) const noexcept { ld4mrec_store_free(store); }
};

inline const int64_t *optional_ptr(const std::optional<int64_t> &value) {
    return value ? &*value : nullptr;
}

}  // namespace detail

/// The library's version as text, e.g. "0.1.0".
inline const char *library_version() noexcept { return ld4mrec_version_string(); }

/// True if the loaded library is the version this header was written for.
inline bool version_matches() noexcept {
    return ld4mrec_version_number() == LD4MREC_VERSION_NUMBER &&
           ld4mrec_abi_version() == LD4MREC_ABI_VERSION;
}

/// Sets how many threads a call may use by default: n >= 1, or 0 for one per core (the
/// initial setting). A server calling from many threads should set 1.
inline void set_num_threads(int32_t n) { detail::check(ld4mrec_set_num_threads(n)); }

/// The default thread count of calls (0 resolved to the number of cores).
inline int32_t get_num_threads() noexcept { return ld4mrec_get_num_threads(); }

/// Throws Error (LD4MREC_ERR_UNSUPPORTED_VERSION) if the loaded library is not the
/// version of this header (a stale libld4mrec.so found at run time). Model's
/// constructor calls it.
inline void check_version() {
    if (version_matches()) return;
    throw Error(LD4MREC_ERR_UNSUPPORTED_VERSION,
                std::string("libld4mrec version mismatch: header ") + LD4MREC_VERSION_STRING +
                    " (ABI " + std::to_string(LD4MREC_ABI_VERSION) + "), library " +
                    ld4mrec_version_string() + " (ABI " +
                    std::to_string(ld4mrec_abi_version()) + ")");
}

// ------------------------------------------------------------------------------------
// Value types
// ------------------------------------------------------------------------------------

/// A recommended item and its score (raw model score; higher is better).
struct Recommendation {
    int64_t item;
    float score;

    friend bool operator==(const Recommendation &a, const Recommendation &b) noexcept {
        return a.item == b.item && a.score == b.score;
    }
    friend bool operator!=(const Recommendation &a, const Recommendation &b) noexcept {
        return !(a == b);
    }
};

/// Options of the top-k functions (ld4mrec_recommend_params).
struct RecommendOptions {
    /// Leave the history's own items out of the results.
    bool exclude_history = true;
    /// If set, recommend only among these item ids (an empty set gives no results).
    std::optional<std::vector<int64_t>> only_items;
    /// Never recommend these item ids.
    std::vector<int64_t> excluded_items;
    /// Threads the call may use; 0: the library's default (set_num_threads).
    int32_t n_threads = 0;

    /// The C struct; it points into this object, so it is valid while this lives
    /// unchanged.
    ld4mrec_recommend_params to_c() const noexcept {
        ld4mrec_recommend_params params = ld4mrec_recommend_params_default();
        params.exclude_history = exclude_history;
        if (only_items) {
            // A non-NULL pointer even for an empty set: "only among none".
            static const int64_t none = 0;
            params.only_items = only_items->empty() ? &none : only_items->data();
            params.n_only_items = only_items->size();
        }
        if (!excluded_items.empty()) {
            params.excluded_items = excluded_items.data();
            params.n_excluded_items = excluded_items.size();
        }
        params.n_threads = n_threads;
        return params;
    }
};

/// How a model holds its large tables (LD4MREC_PRECISION_*): bfloat16 halves their
/// memory and memory traffic, scores move by about 1e-3 of their spread.
enum class Precision : int32_t {
    float32 = LD4MREC_PRECISION_FLOAT32,
    bfloat16 = LD4MREC_PRECISION_BFLOAT16,
    float32_unscreened = LD4MREC_PRECISION_FLOAT32_UNSCREENED,
};

/// Sizes and hyperparameters of a model (ld4mrec_model_info).
using ModelInfo = ld4mrec_model_info;

class Store;

// ------------------------------------------------------------------------------------
// Model
// ------------------------------------------------------------------------------------

/// A loaded model: immutable; share one instance (by const reference) between threads.
class Model {
public:
    /// Loads and validates a model file. Throws Error (LD4MREC_ERR_IO,
    /// LD4MREC_ERR_INVALID_FILE, ...) or, on a header/library mismatch,
    /// LD4MREC_ERR_UNSUPPORTED_VERSION.
    explicit Model(const char *path, Precision precision = Precision::float32)
        : handle_(load(path, precision)) {}
    explicit Model(const std::string &path, Precision precision = Precision::float32)
        : Model(path.c_str(), precision) {}

    Model(Model &&) noexcept = default;
    Model &operator=(Model &&) noexcept = default;
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    /// The C handle, owned by this object (NULL after a move).
    ld4mrec_model *get() const noexcept { return handle_.get(); }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    // -- Description -------------------------------------------------------------------

    size_t n_items() const noexcept { return ld4mrec_model_n_items(get()); }

    ModelInfo info() const {
        ModelInfo info{};
        info.struct_size = sizeof(info);
        detail::check(ld4mrec_model_get_info(get(), &info));
        return info;
    }

    std::vector<std::string> modality_names() const {
        std::vector<std::string> names;
        for (int32_t m = 0;; ++m) {
            const char *name = ld4mrec_model_modality_name(get(), m);
            if (name == nullptr) break;
            names.emplace_back(name);
        }
        return names;
    }

    /// Item ids in the order of full score vectors.
    std::vector<int64_t> item_ids() const {
        std::vector<int64_t> ids(std::max<size_t>(n_items(), 1));
        ids.resize(item_ids(ids.data(), ids.size()));
        return ids;
    }

    /// Writes the item ids into out (room for capacity ids); returns their number.
    size_t item_ids(int64_t *out, size_t capacity) const {
        size_t count = 0;
        detail::check(ld4mrec_model_item_ids(get(), out, capacity, &count));
        return count;
    }

    // -- Top-k -------------------------------------------------------------------------

    /// The k best items for a user of the store, best first (fewer if fewer candidates).
    inline std::vector<Recommendation> recommend_user(const Store &store, int64_t user, int32_t k,
                                                 const RecommendOptions &options = {}) const;

    /// As recommend, into caller buffers (items: room for capacity ids; scores: NULL or
    /// room for capacity floats). Returns the number written. params may be NULL.
    inline size_t recommend_user(const Store &store, int64_t user, int32_t k,
                            const ld4mrec_recommend_params *params, int64_t *items,
                            float *scores, size_t capacity) const;

    /// The k best items for a history given by the caller (stateless). user selects the
    /// user's learned initial embedding (nullopt: default). skipped (may be NULL)
    /// receives the number of history items unknown to the model.
    std::vector<Recommendation> recommend_history(const std::vector<int64_t> &history,
                                                  int32_t k,
                                                  const RecommendOptions &options = {},
                                                  std::optional<int64_t> user = std::nullopt,
                                                  size_t *skipped = nullptr) const {
        const size_t capacity = clamp_k(k);
        std::vector<int64_t> items(capacity);
        std::vector<float> scores(capacity);
        const ld4mrec_recommend_params params = options.to_c();
        const size_t count =
            recommend_history(history.data(), history.size(), k, &params, items.data(),
                              scores.data(), capacity, user, skipped);
        return zip(items, scores, count);
    }

    /// As recommend_history, into caller buffers. Returns the number written.
    size_t recommend_history(const int64_t *history, size_t n_history, int32_t k,
                             const ld4mrec_recommend_params *params, int64_t *items,
                             float *scores, size_t capacity,
                             std::optional<int64_t> user = std::nullopt,
                             size_t *skipped = nullptr) const {
        size_t count = 0;
        detail::check(ld4mrec_recommend_history(get(), history, n_history,
                                                detail::optional_ptr(user), k, params, items,
                                                scores, capacity, &count, skipped));
        return count;
    }

    /// Top-k for many users of the store in one call; result[u] belongs to users[u].
    inline std::vector<std::vector<Recommendation>> recommend_users(
        const Store &store, const std::vector<int64_t> &users, int32_t k,
        const RecommendOptions &options = {}) const;

    /// As recommend_users, into caller buffers: row u starts at u * k, short rows are
    /// padded with item -1 and score -INFINITY; capacity >= n_users * k. scores and
    /// counts (n_users entries) may be NULL.
    inline void recommend_users(const Store &store, const int64_t *users, size_t n_users,
                                int32_t k, const ld4mrec_recommend_params *params,
                                int64_t *items, float *scores, size_t capacity,
                                size_t *counts) const;

    // -- Candidate scores --------------------------------------------------------------

    /// Scores of the candidates for a user of the store, in their order; -INFINITY for
    /// ids unknown to the model (counted in *unknown if not NULL).
    inline std::vector<float> score_user(const Store &store, int64_t user,
                                    const std::vector<int64_t> &candidates,
                                    size_t *unknown = nullptr) const;

    /// As score, into out (room for n_candidates floats).
    inline void score_user(const Store &store, int64_t user, const int64_t *candidates,
                      size_t n_candidates, float *out, size_t *unknown = nullptr) const;

    /// Scores of the candidates for a history given by the caller.
    std::vector<float> score_history(const std::vector<int64_t> &history,
                                     const std::vector<int64_t> &candidates,
                                     std::optional<int64_t> user = std::nullopt,
                                     size_t *unknown = nullptr,
                                     size_t *skipped = nullptr) const {
        std::vector<float> out(candidates.size());
        float none = 0;  // out_scores must not be NULL, even for no candidates
        score_history(history.data(), history.size(), candidates.data(), candidates.size(),
                      out.empty() ? &none : out.data(), user, unknown, skipped);
        return out;
    }

    /// As score_history, into out (room for n_candidates floats).
    void score_history(const int64_t *history, size_t n_history, const int64_t *candidates,
                       size_t n_candidates, float *out,
                       std::optional<int64_t> user = std::nullopt, size_t *unknown = nullptr,
                       size_t *skipped = nullptr) const {
        detail::check(ld4mrec_score_history(get(), history, n_history,
                                            detail::optional_ptr(user), candidates,
                                            n_candidates, out, unknown, skipped));
    }

    // -- Full score vectors ------------------------------------------------------------

    /// Full score vectors (order of item_ids()) of users of the store, row-major:
    /// users.size() rows of n_items() scores.
    inline std::vector<float> score_all_users(const Store &store,
                                        const std::vector<int64_t> &users) const;

    /// As score_all, into out (capacity >= n_users * n_items()).
    inline void score_all_users(const Store &store, const int64_t *users, size_t n_users,
                          float *out, size_t capacity) const;

    /// The full score vector (order of item_ids()) of a history given by the caller.
    std::vector<float> score_all_history(const std::vector<int64_t> &history,
                                         std::optional<int64_t> user = std::nullopt,
                                         size_t *skipped = nullptr) const {
        std::vector<float> out(n_items());
        score_all_history(history.data(), history.size(), out.data(), out.size(), user,
                          skipped);
        return out;
    }

    /// As score_all_history, into out (capacity >= n_items()).
    void score_all_history(const int64_t *history, size_t n_history, float *out,
                           size_t capacity, std::optional<int64_t> user = std::nullopt,
                           size_t *skipped = nullptr) const {
        detail::check(ld4mrec_score_all_history(get(), history, n_history,
                                                detail::optional_ptr(user), out, capacity,
                                                skipped));
    }

private:
    static ld4mrec_model *load(const char *path, Precision precision) {
        check_version();
        ld4mrec_load_params params = ld4mrec_load_params_default();
        params.precision = static_cast<int32_t>(precision);
        ld4mrec_model *raw = nullptr;
        detail::check(ld4mrec_model_load_with(path, &params, &raw));
        return raw;
    }

    /// Buffer rows for a top-k call: no call returns more than n_items items, so a huge
    /// k needs no huge buffer. k < 1 is left for the library to reject.
    size_t clamp_k(int32_t k) const noexcept {
        if (k < 1) return 1;
        return std::max<size_t>(1, std::min(static_cast<size_t>(k), n_items()));
    }

    static std::vector<Recommendation> zip(const std::vector<int64_t> &items,
                                           const std::vector<float> &scores, size_t count) {
        std::vector<Recommendation> out;
        out.reserve(count);
        for (size_t i = 0; i < count; ++i) out.push_back({items[i], scores[i]});
        return out;
    }

    std::unique_ptr<ld4mrec_model, detail::ModelDeleter> handle_;
};

// ------------------------------------------------------------------------------------
// Store
// ------------------------------------------------------------------------------------

/// User histories (sets of item ids) keyed by user id; safe for concurrent readers and
/// writers. Keeps every item id it is given, and any Model can serve it; independent of
/// the Model's lifetime. Its model (the one it was made with, or given to set_model) only
/// decides which ids the updates count as unknown.
class Store {
public:
    /// An empty store for the model's catalogue (ld4mrec_store_new).
    explicit Store(const Model &model) : Store(create_empty(model)) {}

    /// A store holding the training histories saved in the model file.
    static Store from_model(const Model &model) {
        ld4mrec_store *raw = nullptr;
        detail::check(ld4mrec_store_from_model(model.get(), &raw));
        return Store(raw);
    }

    /// Loads a store file written by save(), with `model` as its model; every item id is
    /// kept, and skipped (may be NULL) receives how many of them the model does not know.
    static Store load(const Model &model, const std::string &path, size_t *skipped = nullptr) {
        ld4mrec_store *raw = nullptr;
        detail::check(ld4mrec_store_load(model.get(), path.c_str(), &raw, skipped));
        return Store(raw);
    }

    /// Takes ownership of a C handle (NULL gives an empty object).
    explicit Store(ld4mrec_store *handle) noexcept : handle_(handle) {}

private:
    /// One of the history updates, which share a signature: returns its count.
    using Update = int32_t (*)(ld4mrec_store *, int64_t, const int64_t *, size_t, size_t *);
    size_t update(Update function, int64_t user, const int64_t *items, size_t n_items) {
        size_t count = 0;
        detail::check(function(get(), user, items, n_items, &count));
        return count;
    }

    static ld4mrec_store *create_empty(const Model &model) {
        ld4mrec_store *raw = nullptr;
        detail::check(ld4mrec_store_new(model.get(), &raw));
        return raw;
    }

public:

    Store(Store &&) noexcept = default;
    Store &operator=(Store &&) noexcept = default;
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    /// The C handle, owned by this object (NULL after a move).
    ld4mrec_store *get() const noexcept { return handle_.get(); }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

    /// Saves atomically (temporary file, fsync, rename).
    void save(const std::string &path) const {
        detail::check(ld4mrec_store_save(get(), path.c_str()));
    }

    // -- Updates (each one atomic) -----------------------------------------------------

    /// Adds items to a user's history (creating the user); returns how many of the ids
    /// the store's model does not know (kept all the same).
    size_t add(int64_t user, const std::vector<int64_t> &items) {
        return add(user, items.data(), items.size());
    }
    size_t add(int64_t user, const int64_t *items, size_t n_items) {
        return update(ld4mrec_store_add, user, items, n_items);
    }

    /// Removes items from a user's history; returns how many were removed. Throws Error
    /// (LD4MREC_ERR_UNKNOWN_USER) for a user absent from the store.
    size_t remove(int64_t user, const std::vector<int64_t> &items) {
        return remove(user, items.data(), items.size());
    }
    size_t remove(int64_t user, const int64_t *items, size_t n_items) {
        return update(ld4mrec_store_remove, user, items, n_items);
    }

    /// Replaces a user's history (creating the user); returns how many of the ids the
    /// store's model does not know (kept all the same).
    size_t replace(int64_t user, const std::vector<int64_t> &items) {
        return replace(user, items.data(), items.size());
    }
    size_t replace(int64_t user, const int64_t *items, size_t n_items) {
        return update(ld4mrec_store_replace, user, items, n_items);
    }

    /// Deletes a user; returns whether the user was there.
    bool clear_user(int64_t user) {
        bool existed = false;
        detail::check(ld4mrec_store_clear_user(get(), user, &existed));
        return existed;
    }

    // -- Reads -------------------------------------------------------------------------

    /// A user's history (item ids, ascending). Throws Error
    /// (LD4MREC_ERR_UNKNOWN_USER) for a user absent from the store.
    std::vector<int64_t> history(int64_t user) const {
        std::vector<int64_t> items;
        for (;;) {  // the history may grow between asking its size and copying it
            size_t count = 0;
            const int32_t status =
                ld4mrec_store_get_history(get(), user, items.data(), items.size(), &count);
            if (status == LD4MREC_OK) {
                items.resize(count);
                return items;
            }
            if (status != LD4MREC_ERR_BUFFER_TOO_SMALL) detail::check(status);
            items.resize(count);
        }
    }

    /// As history, into out (room for capacity ids); returns the history's length.
    /// Throws Error (LD4MREC_ERR_BUFFER_TOO_SMALL) if it does not fit.
    size_t history(int64_t user, int64_t *out, size_t capacity) const {
        size_t count = 0;
        detail::check(ld4mrec_store_get_history(get(), user, out, capacity, &count));
        return count;
    }

    /// True if the store holds the user (possibly with an empty history).
    bool contains(int64_t user) const {
        size_t count = 0;
        const int32_t status = ld4mrec_store_get_history(get(), user, nullptr, 0, &count);
        if (status == LD4MREC_ERR_UNKNOWN_USER) return false;
        if (status != LD4MREC_ERR_BUFFER_TOO_SMALL) detail::check(status);
        return true;
    }

    size_t n_users() const noexcept { return ld4mrec_store_n_users(get()); }

    /// The store's user ids, ascending.
    std::vector<int64_t> user_ids() const {
        std::vector<int64_t> ids(n_users() + 1);
        for (;;) {  // users may be added between asking the size and copying
            size_t count = 0;
            const int32_t status = ld4mrec_store_user_ids(get(), ids.data(), ids.size(), &count);
            if (status == LD4MREC_OK) {
                ids.resize(count);
                return ids;
            }
            if (status != LD4MREC_ERR_BUFFER_TOO_SMALL) detail::check(status);
            ids.resize(count + 1);
        }
    }

    /// Makes `model` the store's model (the one whose unknown ids add, replace and load
    /// count); returns how many stored items it does not know. No history changes: call
    /// it when swapping in a retrained model, to learn what it cannot use yet.
    size_t set_model(const Model &model) {
        size_t unknown = 0;
        detail::check(ld4mrec_store_set_model(get(), model.get(), &unknown));
        return unknown;
    }

private:
    std::unique_ptr<ld4mrec_store, detail::StoreDeleter> handle_;
};

// ------------------------------------------------------------------------------------
// SharedModel: swapping models while requests are served
// ------------------------------------------------------------------------------------

/// The model that request threads share, replaced by a retrained one while they run
/// (ld4mrec.h, "Swapping models"). get() gives each request shared ownership of the
/// current model, so a model is freed only when it has been replaced and the last
/// request holding it has returned: freeing can never race with a call. Thread-safe.
class SharedModel {
public:
    /// Throws Error (LD4MREC_ERR_INVALID_ARGUMENT) for a null or moved-from model.
    explicit SharedModel(std::shared_ptr<const Model> model) : model_(checked(std::move(model))) {}

    SharedModel(const SharedModel &) = delete;
    SharedModel &operator=(const SharedModel &) = delete;

    /// The current model, kept alive for as long as the caller holds the pointer.
    std::shared_ptr<const Model> get() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return model_;
    }

    /// Makes `next` the current model; requests that call get() from now on use it.
    /// Returns the previous one, freed when the returned pointer and every request still
    /// holding it are gone. Throws Error (LD4MREC_ERR_INVALID_ARGUMENT) for a null or
    /// moved-from model, leaving the current one in place.
    std::shared_ptr<const Model> exchange(std::shared_ptr<const Model> next) {
        next = checked(std::move(next));
        std::lock_guard<std::mutex> lock(mutex_);
        model_.swap(next);
        return next;
    }

private:
    static std::shared_ptr<const Model> checked(std::shared_ptr<const Model> model) {
        if (model == nullptr || !*model)
            throw Error(LD4MREC_ERR_INVALID_ARGUMENT, "SharedModel needs a loaded model");
        return model;
    }

    mutable std::mutex mutex_;
    std::shared_ptr<const Model> model_;
};

// ------------------------------------------------------------------------------------
// Model members that take a Store
// ------------------------------------------------------------------------------------

inline std::vector<Recommendation> Model::recommend_user(const Store &store, int64_t user,
                                                    int32_t k,
                                                    const RecommendOptions &options) const {
    const size_t capacity = clamp_k(k);
    std::vector<int64_t> items(capacity);
    std::vector<float> scores(capacity);
    const ld4mrec_recommend_params params = options.to_c();
    const size_t count =
        recommend_user(store, user, k, &params, items.data(), scores.data(), capacity);
    return zip(items, scores, count);
}

inline size_t Model::recommend_user(const Store &store, int64_t user, int32_t k,
                               const ld4mrec_recommend_params *params, int64_t *items,
                               float *scores, size_t capacity) const {
    size_t count = 0;
    detail::check(ld4mrec_recommend_user(get(), store.get(), user, k, params, items, scores,
                                         capacity, &count));
    return count;
}

inline std::vector<std::vector<Recommendation>> Model::recommend_users(
    const Store &store, const std::vector<int64_t> &users, int32_t k,
    const RecommendOptions &options) const {
    // Rows never hold more than n_items valid entries: a smaller k gives the same rows
    // without their padding.
    const int32_t row = k < 1 ? k : static_cast<int32_t>(clamp_k(k));
    const size_t width = row < 1 ? 1 : static_cast<size_t>(row);
    std::vector<int64_t> items(users.size() * width);
    std::vector<float> scores(items.size());
    std::vector<size_t> counts(users.size());
    const ld4mrec_recommend_params params = options.to_c();
    recommend_users(store, users.data(), users.size(), row, &params, items.data(),
                    scores.data(), items.size(), counts.data());
    std::vector<std::vector<Recommendation>> out(users.size());
    for (size_t u = 0; u < users.size(); ++u) {
        out[u].reserve(counts[u]);
        for (size_t i = 0; i < counts[u]; ++i)
            out[u].push_back({items[u * width + i], scores[u * width + i]});
    }
    return out;
}

inline void Model::recommend_users(const Store &store, const int64_t *users, size_t n_users,
                                   int32_t k, const ld4mrec_recommend_params *params,
                                   int64_t *items, float *scores, size_t capacity,
                                   size_t *counts) const {
    detail::check(ld4mrec_recommend_users(get(), store.get(), users, n_users, k, params, items,
                                          scores, capacity, counts));
}

inline std::vector<float> Model::score_user(const Store &store, int64_t user,
                                       const std::vector<int64_t> &candidates,
                                       size_t *unknown) const {
    std::vector<float> out(candidates.size());
    float none = 0;  // out_scores must not be NULL, even for no candidates
    score_user(store, user, candidates.data(), candidates.size(), out.empty() ? &none : out.data(),
          unknown);
    return out;
}

inline void Model::score_user(const Store &store, int64_t user, const int64_t *candidates,
                         size_t n_candidates, float *out, size_t *unknown) const {
    detail::check(
        ld4mrec_score_user(get(), store.get(), user, candidates, n_candidates, out, unknown));
}

inline std::vector<float> Model::score_all_users(const Store &store,
                                           const std::vector<int64_t> &users) const {
    std::vector<float> out(users.size() * n_items());
    score_all_users(store, users.data(), users.size(), out.data(), out.size());
    return out;
}

inline void Model::score_all_users(const Store &store, const int64_t *users, size_t n_users,
                             float *out, size_t capacity) const {
    detail::check(ld4mrec_score_all_users(get(), store.get(), users, n_users, out, capacity));
}

}  // namespace ld4mrec

#endif  // LD4MREC_HPP
