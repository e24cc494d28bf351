"""Many threads on one model and one store: readers get the single-threaded answers while
writers update histories (the library's documented thread safety)."""

import os
import threading
import time

import numpy as np

import support

ld4mrec = support.import_ld4mrec()

READERS = 8
WRITERS = 2
SECONDS = 3.0
K = 10


def test_readers_and_writers(model, store, tmp_path):
    users = store.user_ids()
    stable = users[:30]                       # read by the readers
    rewritten = stable[::3]                   # ... and replaced by writers with the same content
    histories = {int(u): store.history(u) for u in users}
    scratch = np.concatenate([users[30:], 1_000_000 + np.arange(40)])  # written only, never read
    candidates = model.item_ids()[::17]

    expected = {int(u): store.recommend_user(u, k=K) for u in stable}
    expected_scores = {int(u): store.score_user(u, candidates) for u in stable}
    batch = stable[:12]
    expected_batch = store.recommend_users(batch, k=K)

    deadline = time.monotonic() + SECONDS
    errors = []
    calls = [0] * (READERS + WRITERS)
    start = threading.Barrier(READERS + WRITERS)

    def reader(index):
        rng = np.random.default_rng(index)
        start.wait()
        try:
            while time.monotonic() < deadline:
                for user in rng.permutation(stable):
                    items, scores = store.recommend_user(user, k=K)
                    want_items, want_scores = expected[int(user)]
                    if not (np.array_equal(items, want_items) and np.array_equal(scores, want_scores)):
                        raise AssertionError(f"reader {index}: user {user}: {items} != {want_items}")
                    calls[index] += 1
                if index % 2 == 0:
                    if not np.array_equal(store.score_user(stable[index], candidates),
                                          expected_scores[int(stable[index])]):
                        raise AssertionError(f"reader {index}: score_user differs")
                else:
                    got = store.recommend_users(batch, k=K)
                    if not all(np.array_equal(a, b) for a, b in zip(got, expected_batch)):
                        raise AssertionError(f"reader {index}: recommend_users differs")
                calls[index] += 1
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    def writer(index):
        rng = np.random.default_rng(100 + index)
        slot = READERS + index
        start.wait()
        try:
            while time.monotonic() < deadline:
                user = int(rng.choice(scratch))
                items = rng.choice(model.item_ids(), rng.integers(0, 12))
                action = rng.integers(0, 5)
                if action == 0:
                    store.add(user, items)
                elif action == 1:
                    store.replace(user, np.concatenate([items, [-1, 1001]]))
                elif action == 2:
                    try:
                        store.remove(user, items)
                    except ld4mrec.UnknownUserError:
                        pass  # cleared by the other writer
                elif action == 3:
                    store.clear_user(user)
                else:
                    same = int(rng.choice(rewritten))
                    store.replace(same, histories[same][::-1])  # same set, other order
                if index == 0 and calls[slot] % 200 == 0:
                    store.save(tmp_path / "snapshot.h5")
                calls[slot] += 1
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    threads += [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
        assert not thread.is_alive(), "a thread hangs"

    assert not errors, errors[:3]
    print("calls per thread:", calls)
    assert all(count > 0 for count in calls), calls
    for user in stable:
        np.testing.assert_array_equal(store.history(user), histories[int(user)])
    for user in store.user_ids():  # every history is still a sorted set
        assert np.all(np.diff(store.history(user)) > 0)
    snapshot = ld4mrec.Store.load(model, tmp_path / "snapshot.h5")
    # The writers' -1 and 1001 are no items of the model: kept, and counted on loading.
    assert snapshot.skipped == sum(int((~np.isin(snapshot.history(u), model.item_ids())).sum())
                                   for u in snapshot.user_ids())
    for user in stable:
        np.testing.assert_array_equal(snapshot.history(user), histories[int(user)])


def test_many_threads_load_and_score(model_path):
    """Loading is serialised inside the library; scoring on separately loaded models of
    the same file gives the same answers."""
    results = {}
    errors = []

    def work(index):
        try:
            with ld4mrec.Model(model_path) as model:
                results[index] = model.score_all_history([1000, 1007, 1014 + 7 * index], user=500)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(min(8, 2 * (os.cpu_count() or 1)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with ld4mrec.Model(model_path) as model:
        for index, scores in results.items():
            np.testing.assert_array_equal(scores, model.score_all_history([1000, 1007, 1014 + 7 * index], user=500))
