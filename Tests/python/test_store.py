"""History stores on disk: save/load round trips, other catalogues, the file format, and
atomic saves that survive the saving process being killed at any moment."""

import random
import signal
import subprocess
import time

import numpy as np
import pytest

import support

ld4mrec = support.import_ld4mrec()
h5py = pytest.importorskip("h5py")
from crash_saver import content  # noqa: E402


def all_histories(store):
    return {int(u): store.history(u) for u in store.user_ids()}


def assert_same_histories(got, want):
    assert sorted(got) == sorted(want)
    for user in want:
        np.testing.assert_array_equal(got[user], want[user], err_msg=f"user {user}")


def test_round_trip(tmp_path, model, store):
    store.add(500, [1000, 2093])               # 2093 is no item of the model: kept
    store.replace(1, [1014, 1007, 1007, 1000])
    store.replace(2, [])                       # an empty history is kept
    store.add(-3, [model.item_ids()[-1]])        # negative user id, cold item
    before = all_histories(store)
    path = tmp_path / "store.h5"
    store.save(path)
    store.add(500, [1021])                     # later changes are not in the file

    with ld4mrec.Store.load(model, path) as loaded:
        assert loaded.skipped == 1                     # 2093, counted and kept
        assert 2093 in loaded.history(500)
        assert loaded.n_users == len(before) == 63
        assert_same_histories(all_histories(loaded), before)
        np.testing.assert_array_equal(loaded.history(2), [])
        # A loaded store serves like the original.
        np.testing.assert_array_equal(loaded.score_all_users([500, 1]), ld4mrec.Store.load(
            model, path).score_all_users([500, 1]))

    store.save(path)                           # overwrites
    with ld4mrec.Store.load(model, path) as loaded:
        assert 1021 in loaded.history(500)


def test_file_format(tmp_path, model):
    store = ld4mrec.Store(model)
    store.replace(9, [1014, 1000])
    store.replace(4, [1007])
    store.replace(6, [])
    path = tmp_path / "store.h5"
    store.save(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "ld4mrec-store" and f.attrs["format_version"] == 1
        assert f["users"].dtype == np.int64 and f["items"].dtype == np.int64
        np.testing.assert_array_equal(f["users"], [4, 6, 9])           # ascending
        np.testing.assert_array_equal(f["offsets"], [0, 1, 1, 3])
        np.testing.assert_array_equal(f["items"], [1007, 1000, 1014])  # ids, item order
    assert not [p for p in tmp_path.iterdir() if p.name != "store.h5"]  # no temporary left


def test_load_into_another_catalogue(tmp_path, model, store, make_model):
    """Loaded with a model that knows fewer items, a store keeps them all (since 0.2.0;
    0.1.0 dropped them) and counts them; the model skips them when it scores."""
    path = tmp_path / "store.h5"
    store.save(path)
    before = all_histories(store)
    with ld4mrec.Model(make_model(items=200)) as small:   # ids 1000 ... 2393
        expected_unknown = sum(int((~np.isin(h, small.item_ids())).sum()) for h in before.values())
        assert expected_unknown > 0
        with ld4mrec.Store.load(small, path) as loaded:
            assert loaded.skipped == expected_unknown
            assert_same_histories(all_histories(loaded), before)
            history = before[500]
            assert not np.isin(history, small.item_ids()).all()
            items, _ = loaded.recommend_user(500, k=5)         # scored with the small model
            np.testing.assert_array_equal(items, small.recommend_history(history, k=5, user=500)[0])
            # Served by the full model again, with every item.
            assert loaded.set_model(model) == 0
            np.testing.assert_array_equal(loaded.recommend_user(500, k=5)[0],
                                          model.recommend_history(history, k=5, user=500)[0])


def test_save_errors(tmp_path, store):
    with pytest.raises(ld4mrec.FileIOError) as caught:
        store.save(tmp_path / "no" / "such" / "folder" / "store.h5")
    assert caught.value.status == 3 and "folder" in caught.value.message
    with pytest.raises(ld4mrec.FileIOError) as caught:
        store.save(tmp_path)                                   # a directory
    assert caught.value.status == 3
    assert list(tmp_path.iterdir()) == []                      # nothing left behind


def test_crash_during_save(tmp_path, model_path):
    """SIGKILL a process that saves large stores over the same path in a loop: the file
    must always load and hold one complete version (the first, A or B), never a mix."""
    users = 2_000  # ~350,000 items: a 3 MB file, ~30 ms per save
    path = tmp_path / "store.h5"
    with ld4mrec.Model(model_path) as model:
        old = ld4mrec.Store(model)
        old.replace(1, [1000, 1007])
        old.replace(2, [1014])
        old.save(path)
        order = np.argsort(model.item_ids())

        def expected(version):
            histories = {}
            for user, items in content(model.item_ids(), version, users).items():
                rows = np.unique(np.searchsorted(model.item_ids(), items, sorter=order))
                histories[user] = model.item_ids()[order[rows]]
            return histories

        versions = {"old": all_histories(old), "A": expected("A"), "B": expected("B")}
        rng = random.Random(20240601)
        seen, mid_save, attempt = [], 0, 0
        # About half of the kills land while a temporary file exists (during a save);
        # kill until two did.
        while attempt < 16 and (attempt < 4 or mid_save < 2):
            attempt += 1
            child = subprocess.Popen(
                [support.PYTHON, str(support.TESTS / "crash_saver.py"), str(model_path), str(path), str(users)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=support.python_env())
            try:
                line = child.stdout.readline()
                assert line.strip() == "ready", f"child failed: {line}{child.stderr.read()}"
                time.sleep(rng.uniform(0.0, 0.4))
                child.send_signal(signal.SIGKILL)
                assert child.wait(timeout=30) == -signal.SIGKILL
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                child.stdout.close()
                child.stderr.close()
            leftovers = [p for p in tmp_path.iterdir() if p.name.startswith("store.h5.tmp-")]
            mid_save += bool(leftovers)
            for leftover in leftovers:   # a killed writer cannot clean up its temporary file
                leftover.unlink()

            with ld4mrec.Store.load(model, path) as loaded:
                assert loaded.skipped == 0
                got = all_histories(loaded)
            name = {2: "old", users: "A"}.get(len(got))
            if name == "A" and np.array_equal(got[10_000], versions["B"][10_000]):
                name = "B"
            assert name is not None, f"attempt {attempt}: {len(got)} users"
            assert_same_histories(got, versions[name])
            seen.append(name)
        print(f"versions found after each kill: {seen}; kills during a save: {mid_save}")
        assert mid_save >= 1, "no kill landed during a save: the test did not test anything"
