// swap_test.cpp: the load test of swapping models (Include/ld4mrec.h, "Swapping models").
// Readers recommend and score, writers update histories, and a swapper replaces the model
// every few hundred milliseconds, alternating between two models whose catalogues differ
// (items added, removed, reordered), through ld4mrec::SharedModel, for a bounded time.
//
//   swap_test MODEL_A MODEL_B [--seconds S] [--readers N] [--writers M] [--swap-ms T]
//             [--pool-every P] [--save PATH]
//
// Requests run on one thread each, as a server calling from many threads would, except
// one in P (default 4; 0: none) that runs on two of the library's pool threads.
//
// Checks, and prints as one summary line:
//   - requests served and failed: a request fails if it throws, or if its answer is not
//     right for the model it was given: items outside that model's catalogue, scores not
//     in descending order, or, for users whose history never changes, not the answer of
//     a single-threaded run with that model;
//   - history items lost: at the end every writer user's history must be exactly the
//     items added minus those removed (the writers keep the expected sets), whichever
//     catalogues the items belong to;
//   - replaced models freed: each replaced model must be gone once the threads stop.
// Exits 0 only if nothing failed, nothing was lost and every replaced model was freed.
#include "ld4mrec.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int32_t K = 10;
constexpr int64_t UNKNOWN_ITEM = 999'999'937;  // in neither catalogue

struct Options {
    std::string model_a, model_b, save;
    double seconds = 10;
    int readers = 4, writers = 3, swap_ms = 300, pool_every = 4;
};

// One of the two models: its file, its catalogue (sorted, to check answers), and the
// single-threaded answers for the stable users.
struct Reference {
    std::string path;
    size_t n_items = 0;
    std::vector<int64_t> sorted_ids;
    std::map<int64_t, std::vector<int64_t>> expected;  // stable user -> top-K items
};

std::atomic<bool> stop{false};
std::atomic<long> served{0}, failed{0}, updates{0}, swaps{0};
std::mutex report_lock;

void fail(const std::string &what) {
    if (failed.fetch_add(1) < 10) {  // enough to diagnose
        std::lock_guard<std::mutex> lock(report_lock);
        std::fprintf(stderr, "swap-test: FAILED request: %s\n", what.c_str());
    }
}

const Reference &reference_of(const ld4mrec::Model &model, const Reference refs[2]) {
    return model.n_items() == refs[0].n_items ? refs[0] : refs[1];
}

bool in_catalogue(const Reference &ref, int64_t item) {
    return std::binary_search(ref.sorted_ids.begin(), ref.sorted_ids.end(), item);
}

void check_answer(const Reference &ref, int64_t user, const int64_t *items, const float *scores,
                  size_t count, const char *call) {
    bool ok = count <= static_cast<size_t>(K);
    for (size_t i = 0; ok && i < count; ++i)
        ok = in_catalogue(ref, items[i]) && (i == 0 || scores[i] <= scores[i - 1]);
    auto stable = ref.expected.find(user);
    if (ok && stable != ref.expected.end())
        ok = count == stable->second.size() &&
             std::equal(items, items + count, stable->second.begin());
    if (!ok) fail(std::string(call) + " for user " + std::to_string(user) + " with " + ref.path);
}

void reader(const ld4mrec::SharedModel &current, const ld4mrec::Store &store,
            const Reference refs[2], const std::vector<int64_t> &stable,
            const std::vector<int64_t> &written, int pool_every, unsigned seed) {
    std::mt19937_64 rng(seed);
    ld4mrec_recommend_params params = ld4mrec_recommend_params_default();
    // A batch on the pool is sometimes large enough to be split by users (128 and up),
    // whose members take over each other's blocks and lists.
    constexpr int LARGE_BATCH = 160;
    std::vector<int64_t> items(LARGE_BATCH * K), batch(LARGE_BATCH);
    std::vector<float> scores(LARGE_BATCH * K);
    std::vector<size_t> counts(LARGE_BATCH);
    while (!stop.load(std::memory_order_relaxed)) {
        const std::shared_ptr<const ld4mrec::Model> model = current.get();  // one request
        const Reference &ref = reference_of(*model, refs);
        params.n_threads = pool_every > 0 && rng() % pool_every == 0 ? 2 : 1;
        const bool pick_stable = rng() % 2 == 0;
        const int64_t user = pick_stable ? stable[rng() % stable.size()] : written[rng() % written.size()];
        try {
            switch (rng() % 8) {
            case 0: {  // a batch of four, or a large one
                const int n = params.n_threads > 1 && rng() % 4 == 0 ? LARGE_BATCH : 4;
                for (int u = 0; u < n; ++u)
                    batch[u] = rng() % 2 ? stable[rng() % stable.size()] : written[rng() % written.size()];
                model->recommend_users(store, batch.data(), n, K, &params, items.data(), scores.data(), n * K, counts.data());
                for (int u = 0; u < n; ++u)
                    check_answer(ref, batch[u], items.data() + u * K, scores.data() + u * K, counts[u], "recommend_users");
                break;
            }
            case 1: {  // re-ranking: scores of known candidates are finite, unknown ones -inf
                int64_t candidates[3] = {ref.sorted_ids[rng() % ref.sorted_ids.size()], UNKNOWN_ITEM,
                                         refs[0].sorted_ids[rng() % refs[0].sorted_ids.size()]};
                size_t unknown = 0;
                model->score_user(store, user, candidates, 3, scores.data(), &unknown);
                const size_t expected_unknown = 1 + !in_catalogue(ref, candidates[2]);
                if (unknown != expected_unknown || !(scores[0] > -1e30f) || !(scores[1] < -1e30f))
                    fail("score_user for user " + std::to_string(user));
                break;
            }
            default: {
                const size_t count = model->recommend_user(store, user, K, &params, items.data(), scores.data(), K);
                check_answer(ref, user, items.data(), scores.data(), count, "recommend_user");
            }
            }
            served.fetch_add(1, std::memory_order_relaxed);
        } catch (const ld4mrec::Error &e) {
            fail(std::string("error: ") + e.what());
        }
    }
}

// Each writer owns its users and keeps what their histories must hold.
void writer(ld4mrec::Store &store, const std::vector<int64_t> &users, const std::vector<int64_t> &pool,
            std::map<int64_t, std::set<int64_t>> &expected, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> items;
    while (!stop.load(std::memory_order_relaxed)) {
        const int64_t user = users[rng() % users.size()];
        std::set<int64_t> &mine = expected[user];
        items.clear();
        for (size_t n = 1 + rng() % 5; items.size() < n;)
            items.push_back(rng() % 16 == 0 ? UNKNOWN_ITEM + static_cast<int64_t>(rng() % 3) : pool[rng() % pool.size()]);
        try {
            const unsigned action = rng() % 10;
            if (action < 6) {
                const size_t unknown = store.add(user, items);
                if (unknown > items.size()) fail("add counted more unknown ids than it was given");
                mine.insert(items.begin(), items.end());
            } else if (action < 9) {
                if (!mine.empty() && rng() % 2) items.push_back(*std::next(mine.begin(), rng() % mine.size()));
                if (store.contains(user)) {
                    store.remove(user, items);
                    for (int64_t item : items) mine.erase(item);
                }
            } else {
                store.replace(user, items);
                mine = std::set<int64_t>(items.begin(), items.end());
            }
            updates.fetch_add(1, std::memory_order_relaxed);
        } catch (const ld4mrec::Error &e) {
            fail(std::string("update error: ") + e.what());
        }
    }
}

Options parse(int argc, char **argv) {
    Options o;
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL_A MODEL_B [--seconds S] [--readers N] [--writers M] "
                             "[--swap-ms T] [--pool-every P] [--save PATH]\n", argv[0]);
        std::exit(2);
    }
    o.model_a = argv[1];
    o.model_b = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--seconds") o.seconds = std::atof(argv[i + 1]);
        else if (flag == "--readers") o.readers = std::atoi(argv[i + 1]);
        else if (flag == "--writers") o.writers = std::atoi(argv[i + 1]);
        else if (flag == "--swap-ms") o.swap_ms = std::atoi(argv[i + 1]);
        else if (flag == "--pool-every") o.pool_every = std::atoi(argv[i + 1]);
        else if (flag == "--save") o.save = argv[i + 1];
        else {
            std::fprintf(stderr, "swap-test: unknown option %s\n", flag.c_str());
            std::exit(2);
        }
    }
    if (o.readers < 1 || o.writers < 1 || o.seconds <= 0 || o.swap_ms < 1 || o.pool_every < 0) {
        std::fprintf(stderr, "swap-test: need readers, writers, seconds and swap-ms above 0, pool-every 0 or more\n");
        std::exit(2);
    }
    return o;
}

}  // namespace

int main(int argc, char **argv) {
    const Options o = parse(argc, argv);
    try {
        ld4mrec::set_num_threads(1);
        Reference refs[2];
        refs[0].path = o.model_a;
        refs[1].path = o.model_b;
        auto first = std::make_shared<const ld4mrec::Model>(o.model_a);
        ld4mrec::Store store = ld4mrec::Store::from_model(*first);
        const std::vector<int64_t> model_users = store.user_ids();
        const std::vector<int64_t> stable(model_users.begin(), model_users.begin() + model_users.size() / 2);

        // The references: catalogues and single-threaded answers of both models.
        std::vector<int64_t> pool;
        for (auto &ref : refs) {
            ld4mrec::Model model(ref.path);
            ref.n_items = model.n_items();
            ref.sorted_ids = model.item_ids();
            pool.insert(pool.end(), ref.sorted_ids.begin(), ref.sorted_ids.end());
            std::sort(ref.sorted_ids.begin(), ref.sorted_ids.end());
            for (int64_t user : stable) {
                std::vector<int64_t> top;
                for (const auto &r : model.recommend_user(store, user, K)) top.push_back(r.item);
                ref.expected[user] = top;
            }
        }
        if (refs[0].n_items == refs[1].n_items || refs[0].sorted_ids == refs[1].sorted_ids) {
            std::fprintf(stderr, "swap-test: the two models need catalogues of different sizes\n");
            return 2;
        }
        std::sort(pool.begin(), pool.end());
        pool.erase(std::unique(pool.begin(), pool.end()), pool.end());

        // Writer users: fresh ids plus the model users that readers do not check exactly.
        std::vector<std::vector<int64_t>> owned(o.writers);
        std::vector<int64_t> written;
        for (int w = 0; w < o.writers; ++w) {
            for (int u = 0; u < 40; ++u) owned[w].push_back(1'000'000 + 1000 * w + u);
            for (size_t u = model_users.size() / 2 + w; u < model_users.size(); u += o.writers)
                owned[w].push_back(model_users[u]);
            written.insert(written.end(), owned[w].begin(), owned[w].end());
        }
        std::vector<std::map<int64_t, std::set<int64_t>>> expected(o.writers);
        for (int w = 0; w < o.writers; ++w)
            for (int64_t user : owned[w])
                if (store.contains(user)) {
                    const auto history = store.history(user);
                    expected[w][user] = std::set<int64_t>(history.begin(), history.end());
                }

        ld4mrec::SharedModel current(first);
        std::vector<std::weak_ptr<const ld4mrec::Model>> replaced;
        first.reset();

        std::vector<std::thread> threads;
        for (int r = 0; r < o.readers; ++r)
            threads.emplace_back(reader, std::cref(current), std::cref(store), refs, std::cref(stable),
                                 std::cref(written), o.pool_every, 100u + r);
        for (int w = 0; w < o.writers; ++w)
            threads.emplace_back(writer, std::ref(store), std::cref(owned[w]), std::cref(pool),
                                 std::ref(expected[w]), 200u + w);

        // The swapper (this thread): load the other model, tell the store, publish it.
        const auto start = Clock::now();
        const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
        size_t unknown_after_swap = 0;
        while (Clock::now() < end) {
            std::this_thread::sleep_for(std::chrono::milliseconds(o.swap_ms));
            const long n = swaps.load() + 1;
            auto next = std::make_shared<const ld4mrec::Model>(n % 2 ? o.model_b : o.model_a);
            unknown_after_swap = store.set_model(*next);
            replaced.push_back(current.exchange(std::move(next)));  // freed by its last request
            swaps.store(n);
            if (!o.save.empty() && n % 4 == 0) store.save(o.save);
        }
        stop.store(true);
        for (auto &thread : threads) thread.join();
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

        size_t expected_items = 0, lost = 0, unexpected = 0;
        for (const auto &mine : expected)
            for (const auto &[user, items] : mine) {
                expected_items += items.size();
                std::vector<int64_t> got;
                if (store.contains(user)) got = store.history(user);
                const std::set<int64_t> have(got.begin(), got.end());
                for (int64_t item : items) lost += have.count(item) == 0;
                for (int64_t item : have) unexpected += items.count(item) == 0;
            }
        size_t freed = 0;
        for (auto &model : replaced) freed += model.expired();
        std::printf("swap-test: %.1f s, %d threads (%d readers, %d writers, 1 swapper): %ld requests served, "
                    "%ld failed; %ld swaps (every %d ms), %zu/%zu replaced models freed; %ld history updates; "
                    "history items: %zu expected, %zu lost, %zu unexpected; %zu stored items unknown to the "
                    "last model\n",
                    elapsed, o.readers + o.writers + 1, o.readers, o.writers, served.load(), failed.load(),
                    swaps.load(), o.swap_ms, freed, replaced.size(), updates.load(), expected_items, lost,
                    unexpected, unknown_after_swap);
        const bool ok = failed == 0 && lost == 0 && unexpected == 0 && freed == replaced.size() &&
                        swaps >= 2 && served > 0;
        return ok ? 0 : 1;
    } catch (const ld4mrec::Error &e) {
        std::fprintf(stderr, "swap-test: %s\n", e.what());
        return 1;
    }
}
