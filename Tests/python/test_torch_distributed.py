"""Distributed training with torch.distributed: `torchrun --nproc_per_node 2` (2 CPU
processes, gloo) on the built-in dataset trains the model that 1 process trains with the
same seed, within TOLERANCE, and writes a model file that `ld4mrec recommend` serves.

Why they can agree: every user's random draws come from a generator seeded by (seed,
epoch, minibatch, block of 16 users), never by the rank, and ranks own whole blocks; the
importance sampler's records and the validation metrics are all-reduced. What differs is
the rounding of the gradients: each rank sums its own users' terms and DDP adds the two
partial sums, where one process sums all of them in one matrix product (measured: 1.2e-7
on the weights after 2 epochs)."""

import json
import subprocess

import numpy as np
import pytest

import support
import torch_support

lt = torch_support.import_torch_package()
import h5py  # noqa: E402
import ld4mrec  # noqa: E402

# Max abs difference of any weight or table, 1 process vs 2: the gradient sums round
# differently, and Adam's normalisation magnifies that in weights with tiny gradients
# (about 2e-5 after 2 epochs with the multinomial loss and input dropout, 2.4e-7 with the
# squared error). A rank-dependent random stream would differ by O(1).
TOLERANCE = 1e-4
ARGS = ["--hidden", "32", "--svd-rank", "8", "--film-hidden", "16", "--seed", "11"]


def train(data, out, processes, *options):
    command = [support.PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               "-m", "ld4mrec.torch.train", "--data", str(data), "--out", str(out), *ARGS, *map(str, options)]
    env = {**support.python_env(), "OMP_NUM_THREADS": "1"}  # torchrun's default per process, for both runs
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def assert_same_model(one, two):
    with h5py.File(one) as a, h5py.File(two) as b:
        differences = {}

        def compare(name, obj):
            if isinstance(obj, h5py.Dataset):
                x, y = obj[...], b[name][...]
                assert x.shape == y.shape and x.dtype == y.dtype, name
                if x.dtype.kind == "f":
                    differences[name] = float(np.abs(x.astype(np.float64) - y).max(initial=0))
                else:
                    np.testing.assert_array_equal(x, y, err_msg=name)

        a.visititems(compare)
        worst = max(differences, key=differences.get)
        assert differences[worst] < TOLERANCE, f"{worst} differs by {differences[worst]:.3g}"
        for name, value in a.attrs.items():
            if name.startswith("score_scale"):
                assert b.attrs[name] == pytest.approx(value, rel=1e-4), name
            else:
                assert np.array_equal(b.attrs[name], value), name
    return differences[worst]


@pytest.fixture(scope="module")
def builtin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("builtin")
    torch_support.cli("make-dataset", "--out", folder)
    return folder


def test_two_processes_train_the_model_of_one(builtin, tmp_path):
    # 10 minibatches an epoch (the importance sampler takes over in epoch 2); the last one
    # holds fewer than 16 users, one block: the second process takes part without users.
    options = ["--epochs", 2, "--batch-size", 221]
    users = int((lt.Dataset.from_mmrec(builtin).train.lengths > 0).sum())
    assert 0 < users % 221 <= 16 and users // 221 == 9
    out = train(builtin, tmp_path / "one.h5", 1, *options, "--log-file", tmp_path / "one.jsonl")
    assert "1 process(es) on cpu" in out
    out = train(builtin, tmp_path / "two.h5", 2, *options, "--log-file", tmp_path / "two.jsonl",
                "--checkpoint", tmp_path / "two.pt")
    assert "2 process(es) on cpu" in out and out.count("epoch 2  loss") == 1  # rank 0 alone prints
    worst = assert_same_model(tmp_path / "one.h5", tmp_path / "two.h5")
    print(f"largest difference, 1 vs 2 processes: {worst:.3g}")

    logs = [[json.loads(line) for line in (tmp_path / f"{n}.jsonl").read_text().splitlines()] for n in ("one", "two")]
    assert len(logs[0]) == len(logs[1]) == 2
    for a, b in zip(*logs):
        for key in ("loss", "recall@20", "ndcg@20"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), key
    import torch

    assert torch.load(tmp_path / "two.pt", weights_only=True)["epoch"] == 2

    served = json.loads(torch_support.cli("recommend", tmp_path / "two.h5", "--user", 7, "-k", 5, "--json"))
    with h5py.File(tmp_path / "two.h5") as f:
        offsets = f["histories/offsets"][...]
    assert served["history_items"] == offsets[8] - offsets[7] and len(served["recommendations"]) == 5
    with ld4mrec.Model(tmp_path / "one.h5") as one, ld4mrec.Model(tmp_path / "two.h5") as two:
        for history in ([1, 5, 9], [17, 400, 999], []):
            assert one.recommend_history(history, k=20, user=7)[0].tolist() == two.recommend_history(history, k=20, user=7)[0].tolist()


def test_two_processes_distil_as_one(builtin, tmp_path):
    """--teacher under torchrun: each rank adds the teacher's rows of its own users, so two
    processes train the model of one; the file records the distillation."""
    teacher = tmp_path / "teacher.h5"
    torch_support.cli("train", "--data", builtin, "--out", teacher, *ARGS, "--epochs", 1, "--cnets", 2)
    options = ["--epochs", 1, "--batch-size", 221, "--teacher", teacher, "--distillation-temperature", 2]
    train(builtin, tmp_path / "one.h5", 1, *options)
    train(builtin, tmp_path / "two.h5", 2, *options)
    assert_same_model(tmp_path / "one.h5", tmp_path / "two.h5")
    with h5py.File(tmp_path / "two.h5") as f:
        assert (f.attrs["distillation_weight"], f.attrs["distillation_temperature"], f.attrs["teacher_cnets"]) == (2, 2, 2)


def test_two_processes_distil_given_scores_as_one(builtin, tmp_path):
    """--teacher-scores (a users x items .npy file) under torchrun: two processes train the
    model of one, distilled with the default weight."""
    dataset = lt.Dataset.from_mmrec(builtin)
    rng = np.random.default_rng(4)
    np.save(tmp_path / "scores.npy", rng.standard_normal((dataset.n_users, dataset.n_items)).astype(np.float32))
    options = ["--epochs", 1, "--batch-size", 221, "--teacher-scores", tmp_path / "scores.npy"]
    train(builtin, tmp_path / "one.h5", 1, *options)
    train(builtin, tmp_path / "two.h5", 2, *options)
    assert_same_model(tmp_path / "one.h5", tmp_path / "two.h5")
    with h5py.File(tmp_path / "two.h5") as f:
        assert f.attrs["distillation_weight"] == 2


def test_every_option_passes_through_torchrun():
    """torchrun's parser takes an option of the script that abbreviates one of its own
    (e.g. --log for --log-dir) and fails: the command line must have none."""
    from torch.distributed.run import get_args_parser

    from ld4mrec.torch.train import _parser

    theirs = [o for action in get_args_parser()._actions for o in action.option_strings]
    mine = [o for action in _parser()._actions for o in action.option_strings if o.startswith("--") and o != "--help"]
    assert len(mine) > 30
    assert [o for o in mine if any(t.startswith(o) for t in theirs)] == []
