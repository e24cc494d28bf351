// recommend.cpp: serve recommendations from an LD4MRec model with the C++ binding.
//
//   g++ -std=c++17 -Wall -Wextra -I Include -I Bindings/cpp recommend.cpp
//       -L dist/lib -lld4mrec -Wl,-rpath,$PWD/dist/lib -o recommend
//   ./recommend model.h5
//
// Loads a model, serves a user from the model's training histories after adding two
// fresh interactions, then recommends for a history kept by the caller (stateless) and
// re-ranks a few candidate items.
#include <cstdio>
#include <iostream>
#include <vector>

#include "ld4mrec.hpp"

static void print_top(const std::vector<ld4mrec::Recommendation> &top) {
    for (size_t i = 0; i < top.size(); ++i)
        std::printf("  %2zu. item %-8lld score %8.4f\n", i + 1,
                    static_cast<long long>(top[i].item), top[i].score);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " MODEL\n";
        return 2;
    }
    try {
        // 1. Load the model (this also checks that header and library versions agree).
        const ld4mrec::Model model(argv[1]);
        const std::vector<int64_t> items = model.item_ids();
        if (items.size() < 20) {
            std::cerr << "error: this example needs a model with at least 20 items\n";
            return 1;
        }
        std::cout << "libld4mrec " << ld4mrec::library_version() << ": model " << argv[1]
                  << ", " << items.size() << " items\n";

        // 2. A store with the training histories saved in the model file.
        ld4mrec::Store store = ld4mrec::Store::from_model(model);
        const std::vector<int64_t> users = store.user_ids();
        const int64_t user = users.empty() ? 42 : users.front();  // any id works
        std::cout << "store: " << users.size() << " users with training histories\n";

        // 3. The user just interacted with two items: update the history, no retraining.
        store.add(user, {items[0], items[items.size() / 2]});
        std::cout << "user " << user << ": added items " << items[0] << " and "
                  << items[items.size() / 2] << ", history now " << store.history(user).size()
                  << " items\n";

        // 4. Top-10 for that user (history items are left out by default).
        std::cout << "\ntop 10 for user " << user << ":\n";
        print_top(model.recommend_user(store, user, 10));

        // 5. Stateless: a history kept by the caller; 999999999 is not in the model.
        const std::vector<int64_t> history = {items[1], items[2], items[3], 999999999};
        size_t skipped = 0;
        const auto top = model.recommend_history(history, 10, {}, std::nullopt, &skipped);
        std::cout << "\ntop 10 for the history {" << history[0] << ", " << history[1] << ", "
                  << history[2] << ", 999999999} (" << skipped << " unknown item skipped):\n";
        print_top(top);

        // Options: only among some items, never a given one.
        ld4mrec::RecommendOptions options;
        options.only_items = std::vector<int64_t>(items.begin() + 10, items.begin() + 20);
        options.excluded_items = {items[10]};
        std::cout << "\ntop 3 for the same history among items " << items[11] << " to "
                  << items[19] << ":\n";
        print_top(model.recommend_history(history, 3, options));

        // 6. Re-rank candidates chosen elsewhere: only one dot product per candidate.
        const std::vector<int64_t> candidates = {items.back(), items[items.size() / 3], 123,
                                                 items[5]};
        size_t unknown = 0;
        const std::vector<float> scores =
            model.score_history(history, candidates, std::nullopt, &unknown);
        std::cout << "\ncandidate scores for the same history (" << unknown << " unknown):\n";
        for (size_t i = 0; i < candidates.size(); ++i)
            std::printf("  item %-8lld score %8.4f\n", static_cast<long long>(candidates[i]),
                        scores[i]);
    } catch (const ld4mrec::Error &e) {
        std::cerr << "error: " << e.what() << " (status " << e.status() << ")\n";
        return 1;
    }
    return 0;
}
