"""The command-line tool as a user runs it: `train`'s hyperparameter options (driven by the
library's table of hyperparameters), their errors, and what `inspect` reports back."""

import json
import subprocess

import numpy as np
import pytest

import support


def run(*args):
    if not support.CLI.exists():
        pytest.skip(f"{support.CLI} is missing: run `make build` in {support.ROOT}")
    return subprocess.run([str(support.CLI), *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "tiny"
    result = run("make-dataset", "--out", folder, "--users", 200, "--items", 80)
    assert result.returncode == 0, result.stderr
    return folder


def test_help_lists_the_hyperparameter_options():
    result = run("train", "--help")
    assert result.returncode == 0
    for option, name in [("--hidden", "hidden_size"), ("--lr", "learning_rate"), ("--epochs", "max_epochs"),
                         ("--item-item", "item_item_prior"), ("--conditions-from-dropped-history",
                                                              "conditions_from_dropped_history")]:
        assert option in result.stdout and name in result.stdout, option


@pytest.mark.parametrize("args, words", [
    (["--hidden", "0"], ["--hidden", "hidden_size must be in 1 ... 1048576, got 0"]),
    (["--lr=-1"], ["--lr", "learning_rate must be in (0.0, inf), got -1.0"]),
    (["--loss", "hinge"], ["--loss", "'hinge' is not one of mse | multinomial"]),
    (["--bogus", "3"], ["unknown option '--bogus'"]),
    (["--epochs"], ["missing value for '--epochs'"]),
    # Valid, but far beyond memory: an error before allocating, not an abort.
    (["--hidden", "1048576"], ["training this architecture needs about", "lower hidden_size"]),
])
def test_bad_options_name_the_option(tmp_path, dataset, args, words):
    result = run("train", "--data", dataset, "--out", tmp_path / "m.h5", *args)
    assert result.returncode != 0
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert not (tmp_path / "m.h5").exists()


def test_options_reach_the_model_file(tmp_path, dataset):
    model = tmp_path / "m.h5"
    result = run("train", "--data", dataset, "--out", model, "--hidden", 16, "--svd-rank", 4, "--film-hidden", 8,
                 "--epochs", 1, "--lr=0.002", "--conditions-from-dropped-history=false", "--loss", "mse",
                 "--seed", 2**64 - 1, "--item-item", "none")
    assert result.returncode == 0, result.stdout + result.stderr
    info = json.loads(run("inspect", model, "--json").stdout)
    assert (info["hidden_size"], info["svd_rank"], info["film_hidden_size"]) == (16, 4, 8)
    assert info["learning_rate"] == 0.002 and info["max_epochs"] == 1 and info["loss"] == "mse"
    assert info["conditions_from_dropped_history"] is False and info["seed"] == 2**64 - 1
    assert info["item_item_prior"] == "none" and info["ensemble_weight"] == "none"
    assert info["noise_scale"] == 0.01 and info["input_dropout"] == 0.5  # untouched: the defaults


def test_a_teachers_scores_are_distilled(tmp_path, dataset):
    """`train --teacher-scores FILE.npy` learns the ranking of any recommender's users x
    items scores (here the training popularity of each item, the same for every user) and
    records the distillation; scores of another shape, a file that is not .npy, or two
    teachers at once are errors naming the cause, and no model file is written."""
    small = ["--hidden", 16, "--svd-rank", 4, "--film-hidden", 8, "--epochs", 1]
    rows = np.loadtxt(next(dataset.glob("*.inter")), skiprows=1, dtype=np.int64)
    n_users, n_items = rows[:, 0].max() + 1, rows[:, 1].max() + 1
    train = rows[rows[:, -1] == 0]
    popularity = np.bincount(train[:, 1], minlength=n_items).astype(np.float32)
    scores = tmp_path / "scores.npy"
    np.save(scores, np.tile(popularity, (n_users, 1)))
    student = tmp_path / "student.h5"
    result = run("train", "--data", dataset, "--out", student, *small, "--teacher-scores", scores)
    assert result.returncode == 0, result.stdout + result.stderr
    info = json.loads(run("inspect", student, "--json").stdout)
    assert info["distillation_weight"] == 2 and info["n_cnets"] == 1
    assert not any(line.startswith("teacher") for line in result.stdout.splitlines()), "no teacher is trained first"

    wrong, text = tmp_path / "wrong.npy", tmp_path / "scores.txt"
    np.save(wrong, np.zeros((n_users - 1, n_items), dtype=np.float32))
    text.write_text("0 1 2\n")
    for extra, words in [(["--teacher-scores", wrong], f"the teacher's scores are {n_users - 1} x {n_items}; "
                          f"this dataset needs one row per user and one column per item: {n_users} x {n_items}"),
                         (["--teacher-scores", text], "not a .npy file"),
                         (["--teacher-scores", scores, "--teacher", student], "--teacher and --teacher-scores name two teachers")]:
        out = tmp_path / "refused.h5"
        result = run("train", "--data", dataset, "--out", out, *small, *extra)
        assert result.returncode != 0 and words in result.stderr, result.stderr
        assert not out.exists()


def test_evaluate_without_the_screen_gives_the_same_metrics(tmp_path, dataset):
    """`--no-screening` scores every item in float32: the screened lists are the same, so
    are the metrics (and bfloat16 tables give a model of their own)."""
    model = tmp_path / "m.h5"
    result = run("train", "--data", dataset, "--out", model, "--hidden", 32, "--svd-rank", 4, "--film-hidden", 8,
                 "--epochs", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = [json.loads(run("evaluate", "--model", model, "--data", dataset, "--split", "test", "--json", *extra).stdout)
               for extra in ([], ["--no-screening"], ["--precision", "bfloat16"])]
    assert metrics[0] == metrics[1]
    assert metrics[0]["users"] == metrics[2]["users"] and abs(metrics[0]["recall@20"] - metrics[2]["recall@20"]) < 0.05


def test_a_teacher_file_is_distilled_and_recorded(tmp_path, dataset):
    """`train --teacher FILE` learns the file's ranking (distillation_weight 2 unless given)
    and records it; a teacher of another dataset, or a weight of 0 with a teacher, is an
    error naming the cause, and no model file is written."""
    small = ["--hidden", 16, "--svd-rank", 4, "--film-hidden", 8, "--epochs", 1]
    teacher = tmp_path / "teacher.h5"
    result = run("train", "--data", dataset, "--out", teacher, *small, "--cnets", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    student = tmp_path / "student.h5"
    result = run("train", "--data", dataset, "--out", student, *small, "--teacher", teacher,
                 "--distillation-temperature", 2)
    assert result.returncode == 0, result.stdout + result.stderr
    info = json.loads(run("inspect", student, "--json").stdout)
    assert (info["distillation_weight"], info["distillation_temperature"], info["teacher_cnets"]) == (2, 2, 2)
    assert info["n_cnets"] == 1 and info["hidden_size"] == 16

    other = tmp_path / "other"
    assert run("make-dataset", "--out", other, "--users", 200, "--items", 80, "--seed", 7).returncode == 0
    for data, extra, words in [(other, [], "the teacher was not trained on this dataset"),
                               (dataset, ["--distillation-weight", 0], "a teacher is used with a distillation_weight above 0")]:
        out = tmp_path / "refused.h5"
        result = run("train", "--data", data, "--out", out, *small, "--teacher", teacher, *extra)
        assert result.returncode != 0 and words in result.stderr, result.stderr
        assert not out.exists()
