// hpp_test.cpp: Bindings/cpp/ld4mrec.hpp compiles with -std=c++17 -Wall -Wextra -Werror
// -pedantic, and its wrappers agree with the C API they wrap.
//
//   hpp_test MODEL TMPDIR
//
// Prints `hpp: N passed, M failed` (checks) and exits 1 on any failure.
#include "ld4mrec.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

// Ownership: move-only handles.
static_assert(!std::is_copy_constructible<ld4mrec::Model>::value, "Model must be move-only");
static_assert(!std::is_copy_assignable<ld4mrec::Model>::value, "Model must be move-only");
static_assert(std::is_nothrow_move_constructible<ld4mrec::Model>::value, "Model moves");
static_assert(std::is_nothrow_move_assignable<ld4mrec::Model>::value, "Model moves");
static_assert(!std::is_copy_constructible<ld4mrec::Store>::value, "Store must be move-only");
static_assert(!std::is_copy_assignable<ld4mrec::Store>::value, "Store must be move-only");
static_assert(std::is_nothrow_move_constructible<ld4mrec::Store>::value, "Store moves");
static_assert(std::is_nothrow_move_assignable<ld4mrec::Store>::value, "Store moves");
static_assert(std::is_base_of<std::runtime_error, ld4mrec::Error>::value, "Error");
static_assert(sizeof(ld4mrec::Model) == sizeof(void *), "a Model is one pointer");

static int passed, failed;

// Same items, scores equal up to rounding (a batch computes them with another GEMM shape).
static bool same(const std::vector<ld4mrec::Recommendation> &a,
                 const std::vector<ld4mrec::Recommendation> &b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].item != b[i].item || std::fabs(a[i].score - b[i].score) > 1e-4f) return false;
    return true;
}

static void check(bool ok, const char *text, int line) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::printf("    hpp_test.cpp:%d: check failed: %s\n", line, text);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

// The expression throws ld4mrec::Error with the given status.
#define CHECK_THROWS(expr, expected)                                                  \
    do {                                                                              \
        int32_t status_ = LD4MREC_OK;                                                 \
        try {                                                                         \
            (void)(expr);                                                             \
        } catch (const ld4mrec::Error &e) {                                           \
            status_ = e.status();                                                     \
            check(std::string(e.what()).size() > 0, "message of " #expr, __LINE__);   \
        }                                                                             \
        check(status_ == (expected), #expr " throws " #expected, __LINE__);          \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL TMPDIR\n", argv[0]);
        return 2;
    }
    const std::string model_path = argv[1], tmp = argv[2];
    try {
        CHECK(ld4mrec::version_matches());
        ld4mrec::check_version();
        CHECK(std::string(ld4mrec::library_version()) == LD4MREC_VERSION_STRING);

        CHECK_THROWS(ld4mrec::Model(tmp + "/missing.h5"), LD4MREC_ERR_IO);
        CHECK_THROWS(ld4mrec::Model(tmp), LD4MREC_ERR_IO);

        ld4mrec::Model loaded(model_path);
        ld4mrec::Model model(std::move(loaded));  // the moved-from one holds nothing
        CHECK(!loaded && model);
        CHECK(model.n_items() == 300);
        CHECK(model.info().n_items == 300 && model.info().n_modalities == 2);
        CHECK(model.info().precision == LD4MREC_PRECISION_FLOAT32);
        {
            const ld4mrec::Model half(model_path, ld4mrec::Precision::bfloat16);
            CHECK(half.info().precision == LD4MREC_PRECISION_BFLOAT16 &&
                  half.info().weight_bytes < model.info().weight_bytes);
            const std::vector<float> a = model.score_all_history({1000, 1007});
            const std::vector<float> b = half.score_all_history({1000, 1007});
            float worst = 0;
            for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
            CHECK(worst > 0 && worst < 0.05f);
        }
        CHECK((model.modality_names() == std::vector<std::string>{"image", "audio"}));
        const std::vector<int64_t> items = model.item_ids();
        CHECK(items.size() == 300 && items[0] == 1000 && items[299] == 1000 + 7 * 299);
        std::vector<int64_t> few(10);
        CHECK_THROWS(model.item_ids(few.data(), few.size()), LD4MREC_ERR_BUFFER_TOO_SMALL);

        // Stores.
        ld4mrec::Store store = ld4mrec::Store::from_model(model);
        const std::vector<int64_t> users = store.user_ids();
        CHECK(users.size() == 60 && store.n_users() == 60 && users[0] == 500);
        const int64_t user = users[0];
        const std::vector<int64_t> history = store.history(user);
        CHECK(!history.empty() && store.contains(user) && !store.contains(12345));
        CHECK_THROWS(store.history(12345), LD4MREC_ERR_UNKNOWN_USER);
        CHECK_THROWS(store.remove(12345, {items[0]}), LD4MREC_ERR_UNKNOWN_USER);

        ld4mrec::Store fresh = ld4mrec::Store(model);
        CHECK(fresh.n_users() == 0 && fresh.user_ids().empty());
        // 999999999 is unknown to the model: counted, and kept.
        CHECK(fresh.add(7, {items[3], items[1], 999999999, items[3]}) == 1);
        CHECK((fresh.history(7) == std::vector<int64_t>{items[1], items[3], 999999999}));
        CHECK(fresh.remove(7, {items[1], items[2]}) == 1);
        CHECK(fresh.replace(8, {}) == 0 && fresh.history(8).empty() && fresh.contains(8));
        CHECK(fresh.clear_user(8) && !fresh.clear_user(8));
        int64_t two[2];
        CHECK(fresh.history(7, two, 2) == 2 && two[0] == items[3] && two[1] == 999999999);
        CHECK_THROWS(fresh.history(7, two, 1), LD4MREC_ERR_BUFFER_TOO_SMALL);
        fresh.save(tmp + "/hpp-store.h5");
        size_t skipped = 99;
        ld4mrec::Store reloaded = ld4mrec::Store::load(model, tmp + "/hpp-store.h5", &skipped);
        CHECK(skipped == 1 && reloaded.user_ids() == std::vector<int64_t>{7});
        CHECK((reloaded.history(7) == std::vector<int64_t>{items[3], 999999999}));
        CHECK_THROWS(ld4mrec::Store::load(model, model_path), LD4MREC_ERR_INVALID_FILE);
        ld4mrec::Store moved = std::move(reloaded);
        CHECK(!reloaded && moved.n_users() == 1);

        // Top-k agrees with the C API.
        const auto top = model.recommend_user(store, user, 10);
        int64_t c_items[10];
        float c_scores[10];
        size_t c_count = 0;
        CHECK(ld4mrec_recommend_user(model.get(), store.get(), user, 10, nullptr, c_items, c_scores,
                                     10, &c_count) == LD4MREC_OK);
        CHECK(top.size() == 10 && c_count == 10);
        for (size_t i = 0; i < top.size() && i < c_count; ++i)
            CHECK(top[i].item == c_items[i] && top[i].score == c_scores[i]);
        CHECK_THROWS(model.recommend_user(store, user, 0), LD4MREC_ERR_INVALID_ARGUMENT);

        // A huge k needs no huge buffer.
        const auto all = model.recommend_user(store, user, INT32_MAX);
        CHECK(all.size() == 300 - history.size());
        std::vector<int64_t> buffer(5);
        CHECK_THROWS(model.recommend_user(store, user, INT32_MAX, nullptr, buffer.data(), nullptr, 5),
                     LD4MREC_ERR_BUFFER_TOO_SMALL);
        CHECK(model.recommend_user(store, user, 5, nullptr, buffer.data(), nullptr, 5) == 5);
        CHECK(buffer[0] == top[0].item);

        // Stateless equals stateful for the same history and user.
        size_t unknown_skipped = 0;
        std::vector<int64_t> with_unknown = history;
        with_unknown.push_back(999999999);
        const auto stateless =
            model.recommend_history(with_unknown, 10, {}, user, &unknown_skipped);
        CHECK(stateless == top && unknown_skipped == 1);
        CHECK(model.recommend_history({}, 3).size() == 3);

        // Options.
        ld4mrec::RecommendOptions options;
        options.only_items = std::vector<int64_t>{items[10], items[20], items[30]};
        options.excluded_items = {items[20]};
        const auto only = model.recommend_user(store, 424242, 10, options);
        CHECK(only.size() == 2);
        for (const auto &r : only) CHECK(r.item == items[10] || r.item == items[30]);
        options.only_items = std::vector<int64_t>{};  // only among none
        CHECK(model.recommend_user(store, user, 10, options).empty());
        ld4mrec::RecommendOptions keep;
        keep.exclude_history = false;
        CHECK(model.recommend_user(store, user, INT32_MAX, keep).size() == 300);

        // Batch: rows equal the single answers; a huge k is clamped to the catalogue.
        const auto rows = model.recommend_users(store, {users[0], users[1], 424242}, 10);
        CHECK(rows.size() == 3 && same(rows[0], top));
        CHECK(same(rows[1], model.recommend_user(store, users[1], 10)));
        CHECK(same(rows[2], model.recommend_user(store, 424242, 10)));
        const auto huge = model.recommend_users(store, {users[0], users[1]}, INT32_MAX);
        CHECK(huge.size() == 2 && same(huge[0], all));
        CHECK_THROWS(model.recommend_users(store, {}, 10), LD4MREC_ERR_INVALID_ARGUMENT);

        // Candidate scores and full score vectors.
        size_t unknown = 0;
        const auto scores =
            model.score_user(store, user, {top[0].item, 999999999, top[9].item}, &unknown);
        CHECK(unknown == 1 && scores.size() == 3 && std::isinf(scores[1]) && scores[1] < 0);
        CHECK(std::fabs(scores[0] - top[0].score) < 1e-4f);
        CHECK(std::fabs(scores[2] - top[9].score) < 1e-4f);
        CHECK(model.score_user(store, user, {}).empty());
        const auto stateless_scores = model.score_history(history, {top[0].item}, user);
        CHECK(std::fabs(stateless_scores[0] - top[0].score) < 1e-4f);
        CHECK(model.score_history(history, {}).empty());
        const auto full = model.score_all_users(store, {user, users[1]});
        CHECK(full.size() == 600);
        const auto full_history = model.score_all_history(history, user);
        CHECK(full_history.size() == 300);
        for (size_t i = 0; i < 300; ++i)
            if (std::fabs(full[i] - full_history[i]) > 1e-4f) {
                CHECK(!"score_all row 0 equals score_all_history");
                break;
            }
        std::vector<float> short_row(299);
        CHECK_THROWS(model.score_all_history(history.data(), history.size(), short_row.data(),
                                             short_row.size()),
                     LD4MREC_ERR_BUFFER_TOO_SMALL);

        // Swapping models: a SharedModel hands out shared ownership; the replaced model
        // lives until its last holder lets go, and any model serves the store.
        {
            auto first = std::make_shared<const ld4mrec::Model>(model_path);
            std::weak_ptr<const ld4mrec::Model> watch = first;
            ld4mrec::SharedModel current(first);
            first.reset();
            std::shared_ptr<const ld4mrec::Model> in_flight = current.get();  // a request
            auto next = std::make_shared<const ld4mrec::Model>(model_path);
            CHECK(store.set_model(*next) == 0);
            auto previous = current.exchange(next);
            CHECK(previous == in_flight && current.get() == next);
            previous.reset();
            CHECK(!watch.expired());  // the request still holds it, and can use it
            CHECK(same(in_flight->recommend_user(store, user, 10), top));
            in_flight.reset();
            CHECK(watch.expired());   // freed with its last holder
            CHECK(same(current.get()->recommend_user(store, user, 10), top));
            CHECK_THROWS(current.exchange(nullptr), LD4MREC_ERR_INVALID_ARGUMENT);
            CHECK_THROWS(current.exchange(std::make_shared<const ld4mrec::Model>(std::move(loaded))),
                         LD4MREC_ERR_INVALID_ARGUMENT);  // `loaded` was moved from above
            CHECK(current.get() == next);
            CHECK_THROWS(ld4mrec::SharedModel(nullptr), LD4MREC_ERR_INVALID_ARGUMENT);
            // set_model counts against the new model; histories are untouched.
            CHECK(fresh.set_model(model) == 1);
            CHECK((fresh.history(7) == std::vector<int64_t>{items[3], 999999999}));
        }

        // Errors carry the status and the library's text.
        try {
            store.history(12345);
        } catch (const ld4mrec::Error &e) {
            CHECK(e.status() == LD4MREC_ERR_UNKNOWN_USER);
            CHECK(std::string(e.what()).find("12345") != std::string::npos);
            CHECK(std::string(e.status_string()) ==
                  ld4mrec_status_string(LD4MREC_ERR_UNKNOWN_USER));
        }
    } catch (const ld4mrec::Error &e) {
        std::printf("    unexpected ld4mrec::Error: %s (status %d)\n", e.what(), e.status());
        ++failed;
    }
    std::printf("hpp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
