"""Parity of the PyTorch module (ld4mrec.torch) with libld4mrec: full score vectors within
1e-5 (absolute) and identical top-20 lists, for known users, unknown users and histories
with cold items; for every model variant the format expresses (modalities none / one /
two, 1-3 blocks, with and without the item-item prior), random and trained; and a check
that the parity test fails on a deliberately corrupted table."""

import time

import numpy as np
import pytest

import support
import torch_support
from torch_support import PARITY_ATOL, check_parity, parity_cases

lt = torch_support.import_torch_package()
import ld4mrec  # noqa: E402
import torch  # noqa: E402

MODALITIES = {"none": ("", 0), "one": ("image:12", 1), "two": ("image:12,audio:6", 2)}
VARIANTS = [(m, b, prior) for m in MODALITIES for b in (1, 2, 3) for prior in ("dense", "sparse", None)]


def variant_id(variant):
    modalities, blocks, prior = variant
    return f"{modalities}-modalities-{blocks}-blocks-{prior or 'no'}-prior"


@pytest.mark.parametrize("variant", VARIANTS, ids=[variant_id(v) for v in VARIANTS])
def test_random_model_parity_and_export(make_model, tmp_path, variant):
    modalities, blocks, prior = variant
    spec, count = MODALITIES[modalities]
    options = {"modalities": spec, "blocks": blocks, "seed": 10 * blocks + count}
    if prior is None:
        options["no_item_item"] = True
    elif prior == "sparse":
        options["sparse_item_item"] = True
    path = make_model(**options)
    model = lt.load(path)
    assert len(model.blocks) == blocks and model.n_modalities == count
    assert (model.item_item is not None) == (prior == "dense")
    assert (model.item_item_sparse is not None) == (prior == "sparse")
    cases = parity_cases(model)
    with ld4mrec.Model(path) as library:
        check_parity(model, library, cases)
        # The exported file scores exactly as the original: every table written as read.
        lt.export(model, tmp_path / "exported.h5")
        with ld4mrec.Model(tmp_path / "exported.h5") as exported:
            for label, history, user in cases[::5]:
                np.testing.assert_array_equal(exported.score_all_history(history, user=user),
                                              library.score_all_history(history, user=user), err_msg=label)


@pytest.mark.parametrize("prior", ["dense", "sparse", None], ids=["prior", "sparse-prior", "no-prior"])
def test_candidate_scores(make_model, prior):
    path = make_model(seed=4, **({"no_item_item": True} if prior is None else {"sparse_item_item": True} if prior == "sparse" else {}))
    model = lt.load(path)
    cases = parity_cases(model)[::3]
    histories, _ = model.histories_from_ids([history for _, history, _ in cases])
    users = [-1 if user is None else int(model.user_rows([user])[0]) for _, _, user in cases]
    rng = np.random.default_rng(0)
    shared = torch.as_tensor(rng.choice(model.n_items, 40, replace=False))
    own = torch.as_tensor(rng.integers(0, model.n_items, (len(cases), 25)))
    full = model.scores(histories, users)
    np.testing.assert_allclose(model.score_candidates(histories, shared, users), full[:, shared], rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.score_candidates(histories, own, users), full.gather(1, own), rtol=0, atol=1e-6)
    item_ids = model.item_ids.numpy()
    with ld4mrec.Model(path) as library:
        for (label, history, user), row in zip(cases, model.score_candidates(histories, shared, users).numpy()):
            expected = library.score_history(history, item_ids[shared.numpy()], user=user)
            assert np.abs(row - expected).max() < PARITY_ATOL, label


def test_export_writes_the_same_bytes(make_model, tmp_path):
    """Exporting the same model twice, a second apart, writes the same file (no HDF5
    object times), which the library loads."""
    model = lt.load(make_model(seed=7, sparse_item_item=True))
    lt.export(model, tmp_path / "first.h5")
    time.sleep(1.1)
    lt.export(model, tmp_path / "second.h5")
    assert (tmp_path / "first.h5").read_bytes() == (tmp_path / "second.h5").read_bytes()
    with ld4mrec.Model(tmp_path / "second.h5") as exported:
        assert exported.n_items == model.n_items


def test_sparse_prior_product_follows_the_prior(make_model):
    """The sparse prior's term is each history's sum of its items' rows, against NumPy; the
    CSR copy behind it follows the buffer when a new prior is set."""
    model = lt.load(make_model(seed=6, sparse_item_item=True))
    dense = model.item_item_sparse.to_dense().numpy()
    rng = np.random.default_rng(1)
    lists = [rng.choice(model.n_items, size, replace=False) for size in (1, 5, 0, 12)]
    histories = lt.Histories.from_lists(lists, model.n_items)
    expected = np.stack([dense[sorted(items)].sum(0) for items in lists])
    np.testing.assert_allclose(model.item_item_sum(histories).numpy(), expected, rtol=1e-6, atol=1e-6)
    model.item_item_sparse = (model.item_item_sparse * 2).coalesce()
    np.testing.assert_allclose(model.item_item_sum(histories).numpy(), 2 * expected, rtol=1e-6, atol=1e-6)


# ---- trained models ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A built-in dataset of 300 users and 150 items, the last 10 items cold."""
    return torch_support.make_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def swift_model(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("swift") / "swift.h5"
    torch_support.cli("train", "--data", tiny, "--out", path, "--hidden", 32, "--svd-rank", 8, "--film-hidden", 16,
                      "--epochs", 2, "--item-item", "ease")
    return path


def test_swift_trained_model_parity(swift_model):
    model = lt.load(swift_model)
    assert model.item_item is not None and (model.item_degrees[-10:] == 0).all()
    with ld4mrec.Model(swift_model) as library:
        check_parity(model, library, parity_cases(model))


def test_swift_averaged_cnets_parity(tiny, tmp_path):
    """`train --cnets 2` saves the average of two C-Nets as one C-Net twice as wide: torch
    reads it as such and scores as the library does; torch's trainer trains one C-Net."""
    path = tmp_path / "cnets.h5"
    torch_support.cli("train", "--data", tiny, "--out", path, "--hidden", 32, "--svd-rank", 8, "--film-hidden", 16,
                      "--epochs", 2, "--cnets", 2)
    model = lt.load(path)
    h = model.hyperparameters
    assert (h.n_cnets, h.hidden_size, h.step_embedding_size, h.film_hidden_size) == (2, 64, 20, 32)
    with ld4mrec.Model(path) as library:
        check_parity(model, library, parity_cases(model))
    with pytest.raises(ValueError, match="trains one C-Net"):
        lt.Trainer(lt.Dataset.from_mmrec(tiny), h.replace(max_epochs=1))


@pytest.mark.parametrize("prior", ["ease", "knn", "none"])
def test_torch_trained_model_parity(tiny, tmp_path, prior):
    data = lt.Dataset.from_mmrec(tiny)
    h = lt.Hyperparameters(hidden_size=32, svd_rank=8, film_hidden_size=16, max_epochs=2, batch_size=100,
                           item_item_prior=prior, seed=7)
    model = lt.Trainer(data, h).fit().model
    assert (model.item_item is not None) == (prior == "ease")
    assert (model.item_item_sparse is not None) == (prior == "knn")
    lt.export(model, tmp_path / "torch.h5")
    with ld4mrec.Model(tmp_path / "torch.h5") as library:
        check_parity(model, library, parity_cases(model))


def test_swift_model_fine_tuned_in_torch_round_trip(tiny, swift_model, tmp_path):
    """Trained by the Swift CLI, loaded into torch, one more epoch there, exported, loaded
    back into the library: the weights moved, the frozen tables did not, parity holds."""
    data = lt.Dataset.from_mmrec(tiny)
    model = lt.load(swift_model)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    frozen_names = ["svd_item_factors", "svd_singular_values", "item_degrees", "item_item", "item_ids", "user_ids"]
    frozen = {name: getattr(model, name).clone() for name in frozen_names + ["features_0", "features_1"]}
    with pytest.raises(ValueError, match="distillation needs a teacher"):  # the file records its distillation
        lt.Trainer(data, model.hyperparameters.replace(max_epochs=1, distillation_weight=1.0), model=model)
    h = model.hyperparameters.replace(max_epochs=1, seed=3, ensemble_weight=None, distillation_weight=0.0)
    result = lt.Trainer(data, h, model=model).fit()
    assert result.model is model and len(result.epochs) == 1
    for name, p in model.named_parameters():
        assert not torch.equal(p, before[name]), f"{name} did not change"
    for name, table in frozen.items():
        assert torch.equal(getattr(model, name), table), f"{name} changed"
    path = tmp_path / "fine-tuned.h5"
    lt.export(model, path)
    with ld4mrec.Model(path) as library:
        check_parity(model, library, parity_cases(model))
        with ld4mrec.Model(swift_model) as original:
            assert np.abs(library.score_all_history([1, 2, 3]) - original.score_all_history([1, 2, 3])).max() > 1e-3


# ---- the parity check catches real errors -------------------------------------------------


def swap_modalities(f):
    first, second = f["modalities/0/features"][...], f["modalities/1/features"][...]
    f["modalities/0/features"][...], f["modalities/1/features"][...] = second, first


def transpose_item_item(f):
    f["signals/item_item"][...] = f["signals/item_item"][...].T


def reverse_z_in(f):
    f["users/z_in"][...] = f["users/z_in"][...][::-1]


def reverse_singular_values(f):
    f["signals/svd_singular_values"][...] = f["signals/svd_singular_values"][...][::-1]


CORRUPTIONS = [swap_modalities, transpose_item_item, reverse_z_in, reverse_singular_values]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=[c.__name__ for c in CORRUPTIONS])
def test_parity_check_fails_on_a_corrupted_table(make_model, tmp_path, corrupt):
    path = make_model(modalities="a:8,b:8", seed=21)  # equal sizes: the modalities can swap
    corrupted = support.edited_copy(path, tmp_path / "corrupted.h5", corrupt)
    model = lt.load(corrupted)
    with ld4mrec.Model(path) as library:
        check_parity(lt.load(path), library, parity_cases(model))  # the intact file passes
        with pytest.raises(AssertionError, match="difference|differs"):
            check_parity(model, library, parity_cases(model))


# ---- the ONNX serving graph ----------------------------------------------------------------


@pytest.mark.parametrize("prior", [True, False], ids=["prior", "no-prior"])
def test_onnx_serving_graph(make_model, tmp_path, prior):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (only needed to run the graph)")
    path = make_model(seed=5, **({} if prior else {"no_item_item": True}))
    model = lt.load(path)
    lt.export_onnx(model, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    cases = parity_cases(model)
    histories, _ = model.histories_from_ids([history for _, history, _ in cases])
    users = [-1 if user is None else int(model.user_rows([user])[0]) for _, _, user in cases]
    inputs = lt.serving_inputs(model, histories, users)
    assert [i.name for i in session.get_inputs()] == list(inputs)
    assert ("item_item_sum" in inputs) == prior
    (scores,) = session.run(["scores"], inputs)
    with ld4mrec.Model(path) as library:
        for (label, history, user), row in zip(cases, scores):
            assert np.abs(row - library.score_all_history(history, user=user)).max() < PARITY_ATOL, label
