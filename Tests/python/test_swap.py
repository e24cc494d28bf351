"""Swapping models under a store: any model serves any store and no history item is lost;
a Model or Store closed while other threads use it is freed only when their calls return."""

import threading
import time
from ctypes import byref, c_size_t

import numpy as np

import support

ld4mrec = support.import_ld4mrec()

# The default model has items 1000, 1007, ..., 3093. The retrained one drops the first
# 30, adds 40 beyond the last, and orders its catalogue by descending id.
RETRAINED = dict(items=310, first_item_id=1000 + 7 * 339, item_id_step=-7, seed=11)


def test_close_waits_for_the_calls_in_flight(model_path):
    model = ld4mrec.Model(model_path)
    freed = []
    free = type(model)._free
    model._free = lambda handle: (freed.append(True), free(handle))
    handle = model._acquire()          # what a call running on another thread holds
    model.close()
    assert model.closed and not freed  # marked closed, not freed under the call
    try:
        model.recommend_history([1000], k=3)
        raise AssertionError("a call after close() must raise")
    except ValueError as error:
        assert "closed" in str(error)
    # The call in flight can still use its handle.
    items = np.empty(3, dtype=np.int64)
    count = c_size_t()
    assert ld4mrec._capi.ld4mrec_recommend_history(
        handle, None, 0, None, 3, None, items.ctypes.data_as(ld4mrec._capi.int64_p), None, 3,
        byref(count), None) == 0 and count.value == 3
    model._release()                   # the last call returns: now it is freed
    assert freed == [True] and model._handle is None
    model.close()                      # again: nothing left to free
    assert freed == [True]


def test_a_store_outlives_its_replaced_and_closed_model(model_path, make_model):
    first = ld4mrec.Model(model_path)
    store = ld4mrec.Store.from_model(first)
    store.add(500, [1000, 4000])                       # 4000: in neither catalogue
    before = {int(u): store.history(u) for u in store.user_ids()}
    retrained = ld4mrec.Model(make_model(**RETRAINED))
    unknown = store.set_model(retrained)
    expected = sum(int((~np.isin(h, retrained.item_ids())).sum()) for h in before.values())
    assert unknown == expected > 0
    first.close()
    assert store.model is retrained
    for user, history in before.items():               # nothing lost
        np.testing.assert_array_equal(store.history(user), history)
    items, _ = store.recommend_user(500, k=5)
    np.testing.assert_array_equal(items, retrained.recommend_history(before[500], k=5, user=500)[0])
    assert store.add(500, [1000, 1000 + 7 * 320]) == 1  # 1000 is gone from the retrained model
    # A store whose model is closed without a replacement still keeps and saves histories.
    retrained.close()
    store.add(501, [1007])
    assert 1007 in store.history(501)
    try:
        store.recommend_user(500, k=5)
        raise AssertionError("serving with a closed model must raise")
    except ValueError as error:
        assert "model is closed" in str(error)
    store.close()


def test_swapping_under_load_fails_no_request_and_loses_no_item(model_path, make_model):
    """Readers recommend and writers update histories while the main thread swaps the
    store's model between two catalogues and closes the replaced model at once."""
    paths = [model_path, make_model(**RETRAINED)]
    first = ld4mrec.Model(paths[0])
    store = ld4mrec.Store.from_model(first)
    both = np.union1d(first.item_ids(), ld4mrec.Model(paths[1]).item_ids())
    readers, writers, seconds = 4, 2, 2.0
    stop = threading.Event()
    errors, served = [], [0] * readers
    expected = {}                                       # writer user -> its items
    start = threading.Barrier(readers + writers + 1)

    def reader(index):
        rng = np.random.default_rng(index)
        start.wait()
        try:
            while not stop.is_set():
                user = int(rng.choice([500, 503, 506, 10_000 + index]))
                items, scores = store.recommend_user(user, k=10)
                if len(items) != 10 or np.any(np.diff(scores) > 0):
                    raise AssertionError(f"reader {index}: {items} {scores}")
                store.score_user(user, both[:20])
                served[index] += 1
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    def writer(index):
        rng = np.random.default_rng(100 + index)
        users = [20_000 + 100 * index + u for u in range(10)]
        start.wait()
        try:
            while not stop.is_set():
                user = int(rng.choice(users))
                items = rng.choice(np.concatenate([both, [-5, 99_999]]), rng.integers(1, 6))
                mine = expected.setdefault(user, set())
                if rng.random() < 0.7:
                    store.add(user, items)
                    mine.update(int(i) for i in items)
                elif user in store.user_ids():
                    store.remove(user, items)
                    mine.difference_update(int(i) for i in items)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    threads += [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    replaced, swaps, current = [], 0, first
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not errors:
        time.sleep(0.05)
        swaps += 1
        next_model = ld4mrec.Model(paths[swaps % 2])
        store.set_model(next_model)
        current.close()                                 # while readers may be using it
        replaced.append(current)
        current = next_model
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a thread hangs"
    assert not errors, errors[:3]
    print(f"{swaps} swaps, {sum(served)} requests served")
    assert swaps >= 10 and all(served)
    assert all(model.closed and model._handle is None for model in replaced)  # all freed
    for user, items in expected.items():                # no history item lost
        np.testing.assert_array_equal(store.history(user), sorted(items))
    current.close()
    store.close()
