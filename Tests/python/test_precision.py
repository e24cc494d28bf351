"""bfloat16 loading (LD4MREC_PRECISION_BFLOAT16): the library computes exactly what the
header promises (tables and layer inputs rounded to bf16, float32 sums), as checked
against the NumPy reference doing the same rounding; and it stays close to float32."""

import numpy as np
import pytest

import support

ld4mrec = support.import_ld4mrec()
pytest.importorskip("h5py")
from reference import ReferenceModel, top_k  # noqa: E402

# float32 sums in the library against float64 in the reference, over bf16 products.
ATOL = 2e-4
CONFIGS = {"default": {}, "no-item-item": {"no_item_item": True}, "no-modalities": {"modalities": ""},
           "sparse-item-item": {"sparse_item_item": True, "seed": 5},
           "3-blocks": {"blocks": 3, "seed": 3}}


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def models(request, make_model):
    path = make_model(**CONFIGS[request.param])
    with ld4mrec.Model(path, precision="bfloat16") as half, ld4mrec.Model(path) as full:
        yield path, half, full


def histories(reference, rng):
    warm = reference.item_ids[reference.degrees > 0]
    cold = reference.item_ids[reference.degrees == 0]
    cases = [([], None), (list(rng.choice(warm, 5, replace=False)), int(reference.user_ids[3])),
             (list(rng.choice(warm, 12, replace=False)) + [int(cold[0])], None)]
    cases += [(list(reference.histories[int(u)]), int(u)) for u in reference.user_ids[:5]]
    return cases


def test_bfloat16_matches_the_rounded_reference(models):
    path, half, _ = models
    reference = ReferenceModel(path, precision="bfloat16")
    for history, user in histories(reference, np.random.default_rng(1)):
        got = half.score_all_history(history, user=user).astype(np.float64)
        want = reference.scores(history, user)
        assert np.abs(got - want).max() < ATOL, (history, user, np.abs(got - want).max())


def test_bfloat16_stays_close_to_float32(models):
    path, half, full = models
    reference = ReferenceModel(path)
    assert half.info.precision == "bfloat16" and full.info.precision == "float32"
    # The signal tables stay float32, and bf16 layers are panels padded to multiples of 32
    # rows and columns: a few percent on this tiny model, nothing at real sizes.
    assert half.info.weight_bytes < 0.75 * full.info.weight_bytes
    overlaps = []
    for history, user in histories(reference, np.random.default_rng(2)):
        a, b = full.score_all_history(history, user=user), half.score_all_history(history, user=user)
        spread = a.max() - a.min()
        assert np.abs(a - b).max() < 0.02 * spread
        overlaps.append(len(set(top_k(a, 20)) & set(top_k(b, 20))) / 20)
    assert np.mean(overlaps) >= 0.85, overlaps


def test_bfloat16_entry_points_agree(models):
    """Full vectors, candidates, top-K and batches read the same bf16 tables."""
    _, half, _ = models
    with ld4mrec.Store.from_model(half) as store:
        users = store.user_ids()[:6]
        table = store.score_all_users(users)
        for row, user in zip(table, users):
            history = store.history(user)
            np.testing.assert_allclose(row, half.score_all_history(history, user=user), atol=1e-5, rtol=0)
            candidates = half.item_ids()[::7]
            np.testing.assert_allclose(store.score_user(user, candidates), row[::7], atol=1e-5, rtol=0)
            items, scores = store.recommend_user(user, k=10)
            rows = np.searchsorted(half.item_ids(), items)
            np.testing.assert_allclose(scores, row[rows], atol=1e-5, rtol=0)


def test_unknown_precision_is_refused(model_path):
    with pytest.raises(ValueError, match="precision"):
        ld4mrec.Model(model_path, precision="int4")


@pytest.mark.parametrize("config", list(CONFIGS))
def test_float32_screen_changes_no_list(make_model, config):
    """The default float32 loading screens top-K requests in bf16 where the CPU can; the
    lists and scores are those of float32_unscreened, which checks every item in float32."""
    path = make_model(**CONFIGS[config])
    with ld4mrec.Model(path) as screened, ld4mrec.Model(path, precision="float32_unscreened") as plain:
        assert screened.info.precision == "float32" and plain.info.precision == "float32_unscreened"
        assert screened.info.weight_bytes >= plain.info.weight_bytes
        with ld4mrec.Store.from_model(screened) as a, ld4mrec.Store.from_model(plain) as b:
            users = a.user_ids()
            for k in (1, 10):
                items_a, scores_a, _ = a.recommend_users(users, k=k)
                items_b, scores_b, _ = b.recommend_users(users, k=k)
                np.testing.assert_array_equal(items_a, items_b)
                np.testing.assert_allclose(scores_a, scores_b, rtol=1e-5, atol=1e-6)
            for user in users[:4]:
                items_a, scores_a = a.recommend_user(user, k=15, exclude_history=False)
                items_b, scores_b = b.recommend_user(user, k=15, exclude_history=False)
                np.testing.assert_array_equal(items_a, items_b)
                np.testing.assert_allclose(scores_a, scores_b, rtol=1e-5, atol=1e-6)
