"""Helpers of the ld4mrec.torch tests: the skip without torch, datasets and models made with
the CLI, and the parity check between the torch module and libld4mrec."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

import support

SKIP_REASON = "torch and h5py are needed for the ld4mrec.torch tests (pip install ld4mrec[torch])"
PARITY_ATOL = 1e-5  # full score vectors, absolute; scores are of order 1-10
K = 20


def import_torch_package():
    """ld4mrec.torch, or a module-level skip saying what is missing."""
    try:
        import h5py  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        pytest.skip(f"{SKIP_REASON}: {error}", allow_module_level=True)
    support.import_ld4mrec()
    import ld4mrec.torch

    return ld4mrec.torch


def cli(*args, timeout=300):
    """Runs dist/bin/ld4mrec; returns its stdout (fails the test on a non-zero status)."""
    if not support.CLI.exists():
        pytest.skip(f"{support.CLI} is missing: run `make build` in {support.ROOT}")
    command = [str(support.CLI), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def make_dataset(folder, users=300, items=150, cold=10):
    """A built-in dataset (make-dataset) whose last `cold` items have no training
    interaction: their training lines move to the test split."""
    folder = Path(folder)
    cli("make-dataset", "--out", folder, "--users", users, "--items", items)
    inter = folder / "builtin.inter"
    lines = inter.read_text().splitlines()
    edited = [lines[0]]
    for line in lines[1:]:
        user, item, label = line.split("\t")
        if int(item) >= items - cold and label == "0":
            label = "2"
        edited.append("\t".join((user, item, label)))
    inter.write_text("\n".join(edited) + "\n")
    return folder


def parity_cases(model, n_known=40):
    """(label, history item ids, user id or None) for known users with their training
    histories, unknown users (no id, an id the model does not know), histories with cold
    items (degree 0) and empty histories."""
    item_ids = model.item_ids.numpy()
    user_ids = model.user_ids.numpy()
    degrees = model.item_degrees.numpy()
    cold, warm = item_ids[degrees == 0], item_ids[degrees > 0]
    assert len(cold) >= 3, "the parity cases need a model with cold items"
    histories = model.training_histories
    cases = []
    for u in np.linspace(0, len(user_ids) - 1, min(n_known, len(user_ids))).astype(int):
        rows = histories.items[histories.offsets[u]:histories.offsets[u + 1]].numpy()
        cases.append((f"known user {user_ids[u]}", item_ids[rows], int(user_ids[u])))
    unknown = int(user_ids.max()) + 1 if len(user_ids) else 1
    some = cases[0][1] if cases else warm[:4]
    cases += [
        ("no user id", some, None),
        ("unknown user id", some, unknown),
        ("cold item alone", cold[:1], None),
        ("cold items", cold[:3], unknown),
        ("warm and cold", np.concatenate([warm[[1, 2, 3]], cold[-1:]]), None),
        ("known user, warm and cold", np.concatenate([warm[:5], cold]), int(user_ids[0]) if len(user_ids) else None),
        ("empty history", np.empty(0, dtype=np.int64), None),
    ]
    if len(user_ids):
        cases.append(("known user, empty history", np.empty(0, dtype=np.int64), int(user_ids[-1])))
    return cases


def check_parity(torch_model, library_model, cases):
    """Raises AssertionError unless, for every case, the torch module's full score vector
    (one batch for all cases) is within PARITY_ATOL of the library's and its top-20 (history
    excluded) is the library's list."""
    histories, skipped = torch_model.histories_from_ids([history for _, history, _ in cases])
    assert skipped == 0
    users = [-1 if user is None else int(torch_model.user_rows([user])[0]) for _, _, user in cases]
    scores = torch_model.scores(histories, users).numpy()
    top_rows, _ = torch_model.recommend(histories, users, k=K)
    item_ids = torch_model.item_ids.numpy()
    for (label, history, user), row_scores, rows in zip(cases, scores, top_rows.numpy()):
        expected = library_model.score_all_history(history, user=user)
        difference = np.abs(row_scores.astype(np.float64) - expected).max()
        assert difference < PARITY_ATOL, f"{label}: max abs score difference {difference:.3g}"
        expected_top, _ = library_model.recommend_history(history, k=K, user=user)
        assert item_ids[rows[rows >= 0]].tolist() == expected_top.tolist(), f"{label}: top-{K} differs"
    return scores
