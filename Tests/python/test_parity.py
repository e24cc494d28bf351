"""Numerical parity: the library against an independent NumPy forward pass (reference.py),
and the consistency of the library's own entry points (candidates vs full vectors, batch
vs single, top-K options vs numpy argsort)."""

import numpy as np
import pytest

import support

ld4mrec = support.import_ld4mrec()
pytest.importorskip("h5py")
from reference import ReferenceModel, top_k  # noqa: E402

ATOL = 1e-4   # library (float32) vs reference (float64)
SAME = 1e-5   # two library paths (GEMM vs dot products, batch vs single row)
K = 20
UNKNOWN_IDS = [-1, 3, 999_999_999, 1001]  # 1001 is between two item ids (1000, 1007)

CONFIGS = {
    "default": {},
    "no-item-item": {"no_item_item": True},
    "sparse-item-item": {"sparse_item_item": True, "seed": 5},
    "no-modalities": {"modalities": ""},
    "1-block": {"blocks": 1, "seed": 2},
    "3-blocks": {"blocks": 3, "seed": 3},
    "3-modalities": {"items": 400, "users": 40, "hidden": 48, "svd_rank": 12, "step_embedding": 6,
                     "film_hidden": 20, "modalities": "a:5,b:3,c:7", "seed": 7},
}


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def case(request, make_model):
    path = make_model(**CONFIGS[request.param])
    model = ld4mrec.Model(path)
    store = ld4mrec.Store.from_model(model)
    reference = ReferenceModel(path)
    yield model, store, reference
    store.close()
    model.close()


def assert_parity(library_scores, reference_scores, what):
    library_scores = np.asarray(library_scores)
    assert library_scores.dtype == np.float32 and library_scores.shape == reference_scores.shape
    diff = np.abs(library_scores.astype(np.float64) - reference_scores).max()
    assert diff < ATOL, f"{what}: max abs diff {diff}"
    got, want = top_k(library_scores, K), top_k(reference_scores, K)
    assert got.tolist() == want.tolist(), f"{what}: top-{K} differs"


def cold_ids(reference):
    return reference.item_ids[reference.degrees == 0]


def warm_ids(reference):
    return reference.item_ids[reference.degrees > 0]


# ---- library vs reference ---------------------------------------------------------------


def test_model_matches_the_file(case):
    model, store, reference = case
    assert model.n_items == reference.n_items
    np.testing.assert_array_equal(model.item_ids(), reference.item_ids)
    assert list(model.modality_names) == list(reference.modality_names)
    assert model.info.n_blocks == reference.n_blocks
    np.testing.assert_array_equal(store.user_ids(), np.sort(reference.user_ids))


def test_known_users_with_training_histories(case):
    model, store, reference = case
    users = list(reference.user_ids[:8]) + list(reference.user_ids[-4:])
    for user in users:
        history = reference.histories[int(user)]
        np.testing.assert_array_equal(store.history(user), np.sort(history))
        expected = reference.scores(history, user)
        assert_parity(store.score_all_users([user])[0], expected, f"store user {user}")
        assert_parity(model.score_all_history(history, user=user), expected, f"history of user {user}")
        # The learned embedding matters: without it the scores differ.
        assert np.abs(reference.scores(history) - expected).max() > 1e-3


def test_unknown_user_uses_z_in_default(case):
    model, store, reference = case
    history = reference.histories[int(reference.user_ids[0])]
    expected = reference.scores(history)  # no user: z_in_default
    assert_parity(model.score_all_history(history), expected, "no user")
    assert_parity(model.score_all_history(history, user=123_456_789), expected, "unknown user id")
    store.replace(123_456_789, history)  # a store user the model does not know
    assert_parity(store.score_all_users([123_456_789])[0], expected, "unknown store user")
    store.clear_user(123_456_789)


def test_empty_history(case):
    model, store, reference = case
    assert_parity(model.score_all_history([]), reference.scores([]), "empty, no user")
    user = int(reference.user_ids[1])
    assert_parity(model.score_all_history([], user=user), reference.scores([], user), "empty, known user")
    # A user absent from the store is served with an empty history.
    absent = 987_654_321
    assert_parity(store.score_all_users([absent])[0], reference.scores([]), "absent store user")


def test_history_with_unknown_and_repeated_ids(case):
    model, store, reference = case
    known = list(warm_ids(reference)[[0, 5, 9]])
    history = UNKNOWN_IDS[:2] + known + [known[0], known[1]] + UNKNOWN_IDS[2:]
    scores, skipped = model.score_all_history(history, return_counts=True)
    assert skipped == len(UNKNOWN_IDS)
    assert_parity(scores, reference.scores(known), "unknown and repeated ids")
    np.testing.assert_array_equal(scores, model.score_all_history(known))


def test_cold_items(case):
    model, store, reference = case
    cold = cold_ids(reference)
    assert len(cold) >= 5 and cold[-1] == reference.item_ids[-1]  # the last ~5% are cold
    warm = list(warm_ids(reference)[[1, 2, 3]])
    for history in ([int(cold[0])], list(cold[:3]), warm + [int(cold[-1])], warm + list(cold)):
        assert_parity(model.score_all_history(history), reference.scores(history), f"history {history}")
        user = int(reference.user_ids[2])
        assert_parity(model.score_all_history(history, user=user), reference.scores(history, user),
                      f"history {history}, user {user}")
    # A cold item still counts: it changes the scores through W_in, c_u's first half and |H|.
    assert np.abs(model.score_all_history(warm + [int(cold[0])]) - model.score_all_history(warm)).max() > 1e-4


# ---- consistency of the library's entry points ------------------------------------------


def test_candidate_scores_equal_full_scores(case):
    model, store, reference = case
    user = int(reference.user_ids[3])
    history = reference.histories[user]
    full = model.score_all_history(history, user=user)
    rng = np.random.default_rng(0)
    candidates = rng.choice(model.item_ids(), 40, replace=False)
    rows = np.searchsorted(model.item_ids(), candidates)
    np.testing.assert_allclose(model.score_history(history, candidates, user=user), full[rows], rtol=0, atol=SAME)
    np.testing.assert_allclose(store.score_user(user, candidates), full[rows], rtol=0, atol=SAME)
    np.testing.assert_allclose(model.score_history(history, model.item_ids(), user=user), full, rtol=0, atol=SAME)

    mixed = [int(candidates[0]), -5, int(candidates[1]), 1001, int(candidates[0])]
    scores, unknown, skipped = model.score_history(list(history) + [-7], mixed, user=user, return_counts=True)
    assert (unknown, skipped) == (2, 1)
    assert np.isneginf(scores[[1, 3]]).all()
    np.testing.assert_allclose(scores[[0, 2, 4]], full[rows[[0, 1, 0]]], rtol=0, atol=SAME)
    scores, unknown = store.score_user(user, mixed, return_counts=True)
    assert unknown == 2 and np.isneginf(scores[[1, 3]]).all()
    assert model.score_history(history, []).shape == (0,)


def test_batch_equals_single(case):
    model, store, reference = case
    users = np.concatenate([store.user_ids(), [111_111, 222_222]])  # + two absent users
    batch = store.score_all_users(users)
    assert batch.shape == (len(users), model.n_items)
    for row, user in enumerate(users):
        np.testing.assert_allclose(batch[row], store.score_all_users([user])[0], rtol=0, atol=SAME)

    items, scores, counts = store.recommend_users(users, k=K)
    assert items.shape == scores.shape == (len(users), K)
    for row, user in enumerate(users):
        single_items, single_scores = store.recommend_user(user, k=K)
        assert counts[row] == len(single_items) == K
        np.testing.assert_array_equal(items[row], single_items)
        np.testing.assert_allclose(scores[row], single_scores, rtol=0, atol=SAME)


def test_exclude_history(case):
    model, store, reference = case
    user = int(reference.user_ids[4])
    history = reference.histories[user]
    full = model.score_all_history(history, user=user)
    rows = np.searchsorted(model.item_ids(), history)
    others = np.setdiff1d(np.arange(model.n_items), rows)

    items, scores = model.recommend_history(history, k=K, user=user)
    np.testing.assert_array_equal(items, top_k(full, K, others, model.item_ids()))
    # A screened top-K (the default on CPUs with AVX512_BF16) scores its candidates with
    # their own dot products, the full vector with one matrix product: equal up to float32
    # rounding of the sums.
    np.testing.assert_allclose(scores, full[np.searchsorted(model.item_ids(), items)], rtol=2e-6, atol=1e-7)
    assert not set(items.tolist()) & set(history.tolist())

    items, scores = model.recommend_history(history, k=K, user=user, exclude_history=False)
    np.testing.assert_array_equal(items, top_k(full, K, None, model.item_ids()))

    for exclude in (True, False):
        got = store.recommend_user(user, k=K, exclude_history=exclude)
        want = model.recommend_history(history, k=K, user=user, exclude_history=exclude)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_excluded_items(case):
    model, store, reference = case
    user = int(reference.user_ids[5])
    history = reference.histories[user]
    full = model.score_all_history(history, user=user)
    best = model.recommend_history(history, k=K, user=user)[0]
    excluded = np.concatenate([best[::2], [-1, 1001], history[:1]])
    blocked = np.searchsorted(model.item_ids(), np.concatenate([best[::2], history]))
    candidates = np.setdiff1d(np.arange(model.n_items), blocked)

    items, scores = model.recommend_history(history, k=K, user=user, excluded_items=excluded)
    np.testing.assert_array_equal(items, top_k(full, K, candidates, model.item_ids()))
    items_store, _ = store.recommend_user(user, k=K, excluded_items=excluded)
    np.testing.assert_array_equal(items_store, items)
    assert not set(items.tolist()) & set(excluded.tolist())


def test_only_items(case):
    model, store, reference = case
    user = int(reference.user_ids[6])
    history = reference.histories[user]
    rng = np.random.default_rng(1)
    pool = rng.choice(model.item_ids(), 30, replace=False)
    only = np.concatenate([pool, pool[:5], history[:2], [-3, 1001]])  # repeats, history, unknown
    excluded = pool[:4]

    for exclude_history in (True, False):
        allowed = set(pool.tolist()) | set(history[:2].tolist())
        if exclude_history:
            allowed -= set(history.tolist())
        allowed -= set(excluded.tolist())
        allowed = np.array(sorted(allowed), dtype=np.int64)
        candidate_scores = model.score_history(history, allowed, user=user)  # the same dot products
        order = top_k(candidate_scores, K)
        want_items, want_scores = allowed[order], candidate_scores[order]

        got_items, got_scores = model.recommend_history(history, k=K, user=user, only_items=only,
                                                excluded_items=excluded, exclude_history=exclude_history)
        np.testing.assert_array_equal(got_items, want_items)
        np.testing.assert_array_equal(got_scores, want_scores)
        got_items, got_scores = store.recommend_user(user, k=K, only_items=only, excluded_items=excluded,
                                                     exclude_history=exclude_history)
        np.testing.assert_array_equal(got_items, want_items)
        np.testing.assert_array_equal(got_scores, want_scores)

    # Fewer candidates than k: all of them, ranked; an empty list allows nothing.
    few = pool[:3]
    items, scores = model.recommend_history(history, k=K, user=user, only_items=few)
    assert sorted(items.tolist()) == sorted(set(few.tolist()) - set(history.tolist()))
    assert np.all(np.diff(scores) <= 0)
    items, scores = model.recommend_history(history, k=K, only_items=[])
    assert items.size == 0 and scores.size == 0
    items, scores = model.recommend_history(history, k=K, only_items=[-1, -2])
    assert items.size == 0


def test_recommend_users_pads_short_rows(case):
    model, store, reference = case
    users = [int(reference.user_ids[0]), int(reference.user_ids[1]), 555_555]
    only = np.concatenate([reference.histories[users[0]][:2], warm_ids(reference)[-3:]])
    items, scores, counts = store.recommend_users(users, k=8, only_items=only)
    assert items.shape == (3, 8)
    for row, user in enumerate(users):
        single_items, single_scores = store.recommend_user(user, k=8, only_items=only)
        n = counts[row]
        assert n == len(single_items) < 8
        np.testing.assert_array_equal(items[row, :n], single_items)
        np.testing.assert_allclose(scores[row, :n], single_scores, rtol=0, atol=SAME)
        assert (items[row, n:] == -1).all() and np.isneginf(scores[row, n:]).all()


def test_ties_are_broken_by_item_order(make_model):
    """Two items with identical output rows always tie; the one earlier in the catalogue
    comes first (the library's documented order, also reference.top_k's)."""
    import h5py
    import shutil

    source = make_model()
    path = source.parent / "ties.h5"
    shutil.copyfile(source, path)
    with h5py.File(path, "r+") as f:
        weight = f["cnet/output/weight"][...]
        bias = f["cnet/output/bias"][...]
        weight[10], bias[10] = weight[200], bias[200]
        f["cnet/output/weight"][...] = weight
        f["cnet/output/bias"][...] = bias
    with ld4mrec.Model(path) as model:
        scores = model.score_all_history([])
        assert scores[10] == scores[200]
        order = model.recommend_history([], k=model.n_items)[0].tolist()
        assert order.index(model.item_ids()[10]) + 1 == order.index(model.item_ids()[200])


def test_format_md_example_model(tmp_path):
    """The h5py writer of docs/FORMAT.md section 6 makes a model the library loads and scores
    as both the page's own reference_scores and reference.py do."""
    import importlib.util
    import re

    import support

    page = (support.ROOT / "docs" / "FORMAT.md").read_text()
    code = re.search(r"```python\n(#!/usr/bin/env python3.*?)```", page, re.S).group(1)
    script = tmp_path / "write_model.py"
    script.write_text(code)
    spec = importlib.util.spec_from_file_location("format_md_example", script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    parameters = example.random_model(seed=3)
    path = tmp_path / "model.h5"
    example.write_model(str(path), parameters)
    reference = ReferenceModel(path)
    item_ids, user_ids = parameters["item_ids"], parameters["user_ids"]
    with ld4mrec.Model(path) as model:
        np.testing.assert_array_equal(model.item_ids(), item_ids)
        for rows, user_row in (([0, 3, 7], 0), ([], None), ([45, 46, 2, 2], 4), ([49], None)):
            user = None if user_row is None else int(user_ids[user_row])
            documented = example.reference_scores(parameters, rows, user_row)
            ids = item_ids[rows] if rows else []
            assert_parity(model.score_all_history(ids, user=user), documented, f"rows {rows}")
            assert_parity(model.score_all_history(ids, user=user), reference.scores(ids, user), f"rows {rows}")
