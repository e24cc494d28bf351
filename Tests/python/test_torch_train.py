"""ld4mrec.torch training and model files: the frozen signals against NumPy closed forms,
a minibatch against docs/MODEL.md's formulas, the step sampler, random streams that do not
depend on the number of processes, learning, determinism, checkpoints, the file format
(against the Swift writer and FORMAT.md's h5py example), datasets from matrices, and the
example script served from C++."""

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest

import support
import torch_support

lt = torch_support.import_torch_package()
import h5py  # noqa: E402
import ld4mrec  # noqa: E402
import torch  # noqa: E402
from ld4mrec.torch import signals  # noqa: E402
from ld4mrec.torch.trainer import StepSampler  # noqa: E402

SMALL = dict(hidden_size=32, svd_rank=8, film_hidden_size=16, batch_size=100)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """300 users, 150 items (the last 10 cold)."""
    return torch_support.make_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny_data(tiny):
    return lt.Dataset.from_mmrec(tiny)


def dense(histories, n_items):
    x = np.zeros((len(histories), n_items))
    offsets, items = histories.offsets.numpy(), histories.items.numpy()
    for u in range(len(histories)):
        x[u, items[offsets[u]:offsets[u + 1]]] = 1
    return x


def histories_of(matrix):
    return lt.Histories.from_lists([np.nonzero(row)[0] for row in matrix], matrix.shape[1])


def test_the_subpackage_does_not_shadow_torch():
    """Inside ld4mrec.torch, `import torch` is the real PyTorch (absolute imports)."""
    from ld4mrec.torch import model, trainer

    assert model.torch is torch and trainer.torch is torch and torch.__name__ == "torch"
    assert hasattr(torch, "nn") and "ld4mrec" not in torch.__file__


# ---- the frozen signals ------------------------------------------------------------------


def test_randomized_svd_matches_numpy():
    rng = np.random.default_rng(1)
    r = (rng.random((80, 50)) < 0.05).astype(np.float64)    # noise, then 4 dense blocks: a clear spectrum
    for (u0, u1), (i0, i1) in zip([(0, 30), (30, 50), (50, 65), (65, 75)], [(0, 15), (15, 27), (27, 37), (37, 45)]):
        r[u0:u1, i0:i1] = rng.random((u1 - u0, i1 - i0)) < 0.8
    r[:, -3:] = 0                                           # cold items: zero rows of V
    v, s = signals.randomized_svd(histories_of(r), 50, 4, oversamples=10, power_iterations=4, seed=3)
    _, exact_s, exact_vt = np.linalg.svd(r)
    np.testing.assert_allclose(s.numpy(), exact_s[:4], rtol=1e-5)
    for j in range(4):  # each column is the exact singular vector, up to its sign
        assert abs(abs(v[:, j].double().numpy() @ exact_vt[j]) - 1) < 1e-5
    assert float(v[-3:].abs().max()) == 0

    with pytest.raises(ValueError, match="must be in 1...50"):
        signals.randomized_svd(histories_of(r), 50, 51)
    low_rank = np.tile(r[:2], (40, 1))                      # rank 2
    with pytest.raises(ValueError, match="rank below svd_rank 3"):
        signals.randomized_svd(histories_of(low_rank), 50, 3)


def test_ease_matches_the_closed_form():
    rng = np.random.default_rng(2)
    x = (rng.random((60, 30)) < 0.2).astype(np.float64)
    precision = np.linalg.inv(x.T @ x + 7.0 * np.eye(30))
    expected = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(signals.ease(histories_of(x), 30, 7.0).numpy(), expected, rtol=0, atol=1e-6)


def test_knn_prior_matches_its_formula_and_the_swift_trainer(tiny, tiny_data, tmp_path):
    """The sparse prior: every kept weight is sum over shared users of 1 / |I_u|, divided
    by sqrt(deg_i) deg_j^beta (NumPy, by hand), each row keeps its best neighbours, and the
    Swift CLI's table is the same table."""
    x = dense(tiny_data.train, tiny_data.n_items)
    together = x.T @ (x / np.maximum(x.sum(axis=1, keepdims=True), 1))
    degree = x.sum(axis=0)
    beta = 0.3
    prior = signals.knn(tiny_data.train, tiny_data.n_items, neighbours=7, popularity_exponent=beta)
    offsets, columns, values = lt.model.sparse_tables(prior)
    for i in range(tiny_data.n_items):
        row = slice(offsets[i], offsets[i + 1])
        with np.errstate(divide="ignore", invalid="ignore"):  # items without users: no neighbours
            weights = together[i] / (np.sqrt(degree[i]) * degree ** beta)
        weights[i] = 0
        candidates = np.nonzero((together[i] > 0) & (np.arange(len(weights)) != i))[0]
        assert offsets[i + 1] - offsets[i] == min(7, candidates.size)
        np.testing.assert_allclose(values[row], weights[columns[row]], rtol=1e-6)
        if candidates.size > 7:  # the kept ones are the best (ties aside)
            assert weights[columns[row]].min() >= np.sort(weights[candidates])[-7] - 1e-7
    torch_support.cli("train", "--data", tiny, "--out", tmp_path / "knn.h5", "--hidden", 16, "--svd-rank", 4,
                      "--film-hidden", 8, "--epochs", 1, "--item-item", "knn", "--item-item-neighbours", 7,
                      "--knn-popularity-exponent", beta, "--choose-knn-popularity-exponent=false")
    swift = lt.load(tmp_path / "knn.h5")
    s_offsets, s_columns, s_values = lt.model.sparse_tables(swift.item_item_sparse)
    np.testing.assert_array_equal(s_offsets, offsets)
    np.testing.assert_array_equal(s_columns, columns)
    np.testing.assert_allclose(s_values, values, rtol=1e-6)


def test_feature_standardization_over_training_items():
    rng = np.random.default_rng(3)
    features = rng.normal(3, 2, (20, 4))
    features[:, 2] = 5.0                                    # constant: only centred
    degrees = np.array([0, 0] + [3] * 18)                   # the two cold items do not count
    got = signals.standardize_features(features, degrees).numpy()
    warm = features[2:]
    expected = (features - warm.mean(0)) / np.where(warm.std(0) > 1e-6, warm.std(0), 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# ---- Algorithm 1 -------------------------------------------------------------------------


def test_step_sampler():
    sampler = StepSampler(4, importance=True)
    uniforms = torch.tensor([0.0, 0.26, 0.5, 0.99], dtype=torch.float64)
    steps, weights = sampler.draw(uniforms)
    assert steps.tolist() == [1, 2, 3, 4] and weights.tolist() == [1, 1, 1, 1]
    records = {t: [] for t in range(4)}
    for batch in range(12):  # step 4 is drawn only from the third minibatch on
        counts = [1, 2, 1, 1 if batch >= 2 else 0]
        sums = [0.1 * (t + 1) * (batch + 1) * c for t, c in enumerate(counts)]
        sampler.record(sums, counts)
        for t in range(4):
            if counts[t]:
                records[t].append(sums[t] / counts[t])
        uniform_still = batch < 11  # step 4 holds 10 records after the 12th minibatch
        assert (sampler.probabilities() is None) == uniform_still
    last = [np.array(records[t][-10:]) for t in range(4)]
    raw = np.array([math.sqrt((r ** 2).mean()) for r in last])
    p = raw / raw.sum() * 0.999 + 0.001 / 4
    np.testing.assert_allclose(sampler.probabilities(), p, rtol=1e-12)
    cdf = np.cumsum(p)
    uniforms = torch.tensor([0.0, cdf[0] - 1e-9, cdf[0] + 1e-9, cdf[2] + 1e-9, 0.999999], dtype=torch.float64)
    steps, weights = sampler.draw(uniforms)
    assert steps.tolist() == [1, 1, 2, 4, 4]
    np.testing.assert_allclose(weights.numpy(), 1 / (4 * p[steps.numpy() - 1]), rtol=1e-6)
    assert StepSampler(4, importance=False).probabilities() is None


def test_minibatch_follows_model_md(tiny_data):
    """x_t, the soft target, the conditions from the dropped-out history, z_t and the
    steps of one minibatch, recomputed from the trainer's random draws with MODEL.md's
    formulas in NumPy."""
    h = lt.Hyperparameters(**SMALL, n_steps=4, noise_scale=0.2, noise_min=0.01, soft_target_probability=1.0,
                           soft_target_gamma=0.3, input_dropout=0.5, conditions_from_dropped_history=True,
                           item_item_prior="none", seed=3)
    trainer = lt.Trainer(tiny_data, h)
    users = trainer._train_users[:40]
    drawn_users, uniforms, eps, dropout, _, _ = trainer._draws(users, 0)
    batch = trainer.batch(users, 0)
    assert batch.users.tolist() == drawn_users.tolist() == users.tolist()

    t = np.floor(uniforms.numpy() * 4).astype(int) + 1       # no records yet: uniform steps
    assert batch.steps.tolist() == t.tolist() and batch.weights.tolist() == [1.0] * 40
    x_in = dense(tiny_data.train.select(users), tiny_data.n_items)
    one_minus_abar = 0.2 * (0.01 + (t - 1) / 3 * (1 - 0.01))
    keep = dropout.numpy() >= 0.5
    x_t = (np.sqrt(1 - one_minus_abar)[:, None] * x_in + np.sqrt(one_minus_abar)[:, None] * eps.numpy())
    np.testing.assert_allclose(batch.x.numpy(), np.where(keep, x_t / 0.5, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(batch.target.numpy(), np.where(x_in > 0, np.float32(0.7), np.float32(0.3)))

    model = trainer.model
    kept = (x_in > 0) & keep
    v, s = model.svd_item_factors.double().numpy(), model.svd_singular_values.double().numpy()
    degrees = model.item_degrees.numpy()
    w = np.where(degrees > 0, 1 / np.sqrt(np.maximum(degrees, 1)), 0)
    r = np.where(kept.sum(1) > 0, 1 / np.sqrt(np.maximum(kept.sum(1), 1)), 0)[:, None]
    c_u = np.concatenate([kept @ v / s, r * ((kept * w) @ v)], axis=1)
    np.testing.assert_allclose(batch.c_u.numpy(), c_u, rtol=1e-4, atol=1e-5)
    for m, p in enumerate(batch.preferences):
        np.testing.assert_allclose(p.numpy(), r * ((kept * w) @ model.features(m).double().numpy()),
                                   rtol=1e-4, atol=1e-5)
    z_t = [[math.sin(step / 10000 ** (2 * (c // 2) / 10)) if c % 2 == 0 else
            math.cos(step / 10000 ** (2 * (c // 2) / 10)) for c in range(10)] for step in t]
    np.testing.assert_allclose(batch.step_embedding.numpy(), z_t, rtol=1e-6, atol=1e-6)


def test_distillation_adds_the_teachers_ranking_to_the_target(tiny, tiny_data, tmp_path):
    """With a teacher (a Swift `--cnets 2` model of the dataset), each target row gains
    alpha |history| q, q the softmax over the items outside the history of the teacher's
    scores standardised over them, divided by tau (NumPy); the rows are the same kept or
    computed per batch; the export records the distillation; bad teachers are refused."""
    teacher_file = tmp_path / "teacher.h5"
    torch_support.cli("train", "--data", tiny, "--out", teacher_file, "--hidden", 16, "--svd-rank", 4,
                      "--film-hidden", 8, "--epochs", 2, "--cnets", 2)
    teacher = lt.load(teacher_file)
    h = lt.Hyperparameters(**SMALL, soft_target_probability=0.0, distillation_weight=0.3,
                           distillation_temperature=0.7, item_item_prior="none", max_epochs=1, seed=3)
    trainer = lt.Trainer(tiny_data, h, teacher=teacher)
    users = trainer._train_users[:40]
    batch = trainer.batch(users, 0)

    history = tiny_data.train.select(users)
    x_in = dense(history, tiny_data.n_items)
    scores = teacher.scores(history, users).double().numpy()
    outside = x_in == 0
    expected = x_in.copy()
    for r in range(len(users)):
        s = scores[r, outside[r]]
        z = (s - s.mean()) / s.std() / 0.7
        q = np.exp(z - z.max())
        expected[r, outside[r]] += 0.3 * x_in[r].sum() * q / q.sum()
    np.testing.assert_allclose(batch.target.numpy(), expected, rtol=1e-5, atol=1e-7)
    per_batch = lt.trainer.TeacherRanking(teacher, trainer._train, 0.7, cache_bytes=0)
    assert per_batch.cache is None and trainer._teacher.cache is not None
    np.testing.assert_allclose(per_batch.rows(users).numpy(), trainer._teacher.rows(users).numpy(), rtol=1e-6, atol=1e-9)

    result = trainer.fit()
    made = result.model.hyperparameters
    assert (made.distillation_weight, made.distillation_temperature, made.teacher_cnets) == (0.3, 0.7, 2)
    lt.export(result.model, tmp_path / "student.h5")
    info = json.loads(torch_support.cli("inspect", tmp_path / "student.h5", "--json"))
    assert (info["distillation_weight"], info["distillation_temperature"], info["teacher_cnets"]) == (0.3, 0.7, 2)

    with pytest.raises(ValueError, match="distillation needs a teacher"):
        lt.Trainer(tiny_data, h)
    with pytest.raises(ValueError, match="a teacher is used with a distillation_weight above 0"):
        lt.Trainer(tiny_data, h.replace(distillation_weight=0.0), teacher=teacher)
    torch_support.cli("make-dataset", "--out", tmp_path / "other", "--users", 300, "--items", 150, "--seed", 5)
    other = lt.Dataset.from_mmrec(tmp_path / "other")
    with pytest.raises(ValueError, match="not trained on this dataset|ids must be the dataset's"):
        lt.Trainer(other, h, teacher=teacher)


def test_a_teachers_scores_teach_as_the_teacher(tiny, tiny_data, tmp_path):
    """Any recommender's scores (users x items, numpy) as the teacher: the teacher model's
    own scores give its rows and targets; scores of another shape are refused."""
    teacher_file = tmp_path / "teacher.h5"
    torch_support.cli("train", "--data", tiny, "--out", teacher_file, "--hidden", 16, "--svd-rank", 4,
                      "--film-hidden", 8, "--epochs", 1, "--distillation-weight", 0)
    teacher = lt.load(teacher_file)
    users = torch.arange(tiny_data.n_users)
    scores = teacher.scores(tiny_data.train.select(users), users).numpy()
    h = lt.Hyperparameters(**SMALL, distillation_weight=0.3, distillation_temperature=0.7,
                           item_item_prior="none", max_epochs=1, seed=3)
    by_model, by_scores = lt.Trainer(tiny_data, h, teacher=teacher), lt.Trainer(tiny_data, h, teacher=scores)
    some = by_model._train_users[:40]
    np.testing.assert_allclose(by_scores._teacher.rows(some).numpy(), by_model._teacher.rows(some).numpy(),
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(by_scores.batch(some, 0).target.numpy(), by_model.batch(some, 0).target.numpy(),
                               rtol=1e-5, atol=1e-7)
    assert by_scores.fit().model.hyperparameters.distillation_weight == 0.3
    for shape in [(tiny_data.n_users - 1, tiny_data.n_items), (tiny_data.n_users, tiny_data.n_items + 1)]:
        expected = (f"the teacher's scores are {shape[0]} x {shape[1]}; this dataset needs one row per user "
                    f"and one column per item: {tiny_data.n_users} x {tiny_data.n_items}")
        with pytest.raises(ValueError, match=re.escape(expected)):
            lt.Trainer(tiny_data, h, teacher=np.zeros(shape, dtype=np.float32))


def test_random_draws_do_not_depend_on_the_number_of_processes(tiny_data):
    trainer = lt.Trainer(tiny_data, lt.Hyperparameters(**SMALL, input_dropout=0.3, hidden_dropout=0.2,
                                                       item_item_prior="none"))
    users = trainer._train_users[:50]  # 4 blocks of 16 users or fewer
    whole = trainer._draws(users, 7)
    for world in (2, 3, 5):  # with 5 processes, one of them gets no user
        trainer.world = world
        shares = []
        for rank in range(world):
            trainer.rank = rank
            shares.append(trainer._draws(users, 7))
        if world == 5:
            assert min(len(share[0]) for share in shares) == 0
        for part in range(6):
            assert torch.equal(torch.cat([share[part] for share in shares]), whole[part]), (world, part)
    trainer.rank, trainer.world = 0, 1


@pytest.fixture(scope="module")
def builtin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("builtin")
    torch_support.cli("make-dataset", "--out", folder)
    return lt.Dataset.from_mmrec(folder)


def popularity_recall20(data, split):
    degrees = np.bincount(data.train.items.numpy(), minlength=data.n_items)
    order = np.lexsort((np.arange(data.n_items), -degrees))
    train, held = data.train, data.split(split)
    total, users = 0.0, 0
    for u in range(data.n_users):
        truth = set(held.items[held.offsets[u]:held.offsets[u + 1]].tolist())
        if truth:
            seen = set(train.items[train.offsets[u]:train.offsets[u + 1]].tolist())
            top = [i for i in order if i not in seen][:20]
            total += len(truth & set(top)) / len(truth)
            users += 1
    return total / users


def test_training_beats_popularity(builtin):
    h = lt.Hyperparameters(hidden_size=32, svd_rank=8, batch_size=200, max_epochs=3, seed=1)
    result = lt.Trainer(builtin, h).fit()
    popularity = popularity_recall20(builtin, "valid")
    recalls = [report.validation.recall20 for report in result.epochs]
    assert len(recalls) == 3 and result.best_epoch == int(np.argmax(recalls)) + 1
    assert result.best_validation.recall20 > popularity + 0.02, (recalls, popularity)
    assert result.final_validation.recall20 >= result.best_validation.recall20  # w = 1 is a candidate
    assert result.model.hyperparameters.ensemble_weight is not None
    assert lt.evaluate(result.model, builtin, "valid").recall20 == pytest.approx(result.final_validation.recall20)


def test_same_seed_same_model(tiny_data):
    def train(seed):
        trainer = lt.Trainer(tiny_data, lt.Hyperparameters(**SMALL, item_item_prior="none", seed=seed))
        trainer.train_epoch()
        return [p.detach().clone() for p in trainer.model.parameters()]

    first, again, other = train(5), train(5), train(6)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))


def test_checkpoint_resumes_the_same_run(tiny_data, tmp_path):
    # 8 minibatches an epoch: importance sampling from epoch 2 on.
    h = lt.Hyperparameters(**{**SMALL, "batch_size": 40}, max_epochs=3, item_item_prior="none", seed=2)
    whole = lt.Trainer(tiny_data, h).fit()

    checkpoint = tmp_path / "run.pt"
    first = lt.Trainer(tiny_data, h.replace(max_epochs=2), checkpoint=checkpoint).fit()
    assert checkpoint.exists() and len(first.epochs) == 2
    resumed = lt.Trainer(tiny_data, h)
    resumed.load_checkpoint(checkpoint)
    assert resumed.epoch == 2 and resumed.sampler.probabilities() is not None
    result = resumed.fit()
    assert [r.validation for r in result.epochs] == [r.validation for r in whole.epochs]
    for a, b in zip(result.model.parameters(), whole.model.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="learning_rate"):
        lt.Trainer(tiny_data, h.replace(learning_rate=0.01)).load_checkpoint(checkpoint)


@pytest.mark.parametrize("options", [dict(loss="multinomial"), dict(step_sampler="uniform"),
                                     dict(weight_decay=1e-4), dict(input_dropout=0.5), dict(hidden_dropout=0.2),
                                     dict(input_dropout=0.5, conditions_from_dropped_history=True),
                                     dict(feature_standardization="none", soft_target_probability=0)],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_training_options(tiny_data, tmp_path, options):
    h = lt.Hyperparameters(**SMALL, max_epochs=1, item_item_prior="none", **options)
    trainer = lt.Trainer(tiny_data, h)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    result = trainer.fit()
    assert math.isfinite(result.epochs[0].loss) and result.epochs[0].loss > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, result.model.parameters()))
    lt.export(result.model, tmp_path / "model.h5")
    with h5py.File(tmp_path / "model.h5") as f:
        for name, value in options.items():
            stored = f.attrs[name]
            assert (stored.decode() if isinstance(stored, bytes) else stored) == value, name
    raw = dict(tiny_data.modalities)["image"]
    stored = lt.load(tmp_path / "model.h5").features(0).numpy()
    assert np.array_equal(stored, raw) == (h.feature_standardization == "none")


def test_without_validation_interactions(tiny_data):
    x = dense(tiny_data.train, tiny_data.n_items)
    data = lt.Dataset.from_matrices(torch.tensor(x), features=dict(tiny_data.modalities))
    result = lt.Trainer(data, lt.Hyperparameters(**SMALL, max_epochs=2)).fit()
    assert result.best_epoch == 2 and result.model.item_item is None
    assert result.model.hyperparameters.item_item_prior == "none"
    assert any("no early stopping" in note for note in result.notes)
    assert any("no validation interactions" in note for note in result.notes)


def test_metrics_match_the_cli_evaluate(tiny, tiny_data, tmp_path):
    result = lt.Trainer(tiny_data, lt.Hyperparameters(**SMALL, max_epochs=2, seed=4)).fit()
    path = tmp_path / "model.h5"
    lt.export(result.model, path)
    for split in ("valid", "test"):
        mine = lt.evaluate(result.model, tiny_data, split)
        theirs = json.loads(torch_support.cli("evaluate", "--model", path, "--data", tiny, "--split", split, "--json"))
        assert mine.users == theirs["users"]
        for name in ("recall@10", "recall@20", "ndcg@10", "ndcg@20"):
            assert getattr(mine, name.replace("@", "")) == pytest.approx(theirs[name], abs=1e-9), (split, name)


# ---- datasets ------------------------------------------------------------------------------


def test_dataset_from_matrices_equals_the_folder(tiny_data):
    splits = [dense(tiny_data.split(s), tiny_data.n_items) for s in ("train", "valid", "test")]
    features = dict(tiny_data.modalities)
    forms = {"numpy": splits, "torch dense": [torch.tensor(s) for s in splits],
             "torch sparse": [torch.tensor(s).to_sparse() for s in splits]}
    try:
        import scipy.sparse
        forms["scipy"] = [scipy.sparse.csr_matrix(s) for s in splits]
    except ImportError:
        pass
    for form, matrices in forms.items():
        data = lt.Dataset.from_matrices(*matrices, features=features)
        assert [name for name, _ in data.modalities] == ["image", "text"]
        for split in ("train", "valid", "test"):
            got, want = data.split(split), tiny_data.split(split)
            assert torch.equal(got.offsets, want.offsets) and torch.equal(got.items, want.items), (form, split)


def test_dataset_folder_errors(tiny, tmp_path):
    with pytest.raises(OSError, match="no feature file 'audio_feat.npy'"):
        lt.Dataset.from_mmrec(tiny, modalities=["audio"])
    assert lt.Dataset.from_mmrec(tiny, modalities=[]).modalities == []
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    np.save(broken / "image_feat.npy", np.zeros((100, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="image_feat.npy' has 100 rows"):
        lt.Dataset.from_mmrec(broken)


# ---- model files ---------------------------------------------------------------------------


def test_export_writes_what_the_swift_writer_writes(tiny, tiny_data, tmp_path):
    swift = tmp_path / "swift.h5"
    torch_support.cli("train", "--data", tiny, "--out", swift, "--hidden", 32, "--svd-rank", 8, "--film-hidden", 16,
                      "--epochs", 1)
    result = lt.Trainer(tiny_data, lt.Hyperparameters(**SMALL, max_epochs=1)).fit()
    mine = tmp_path / "torch.h5"
    lt.export(result.model, mine)

    def layout(path):
        with h5py.File(path) as f:
            attributes = {name: np.asarray(value).dtype.kind if not isinstance(value, str) else "str"
                          for name, value in f.attrs.items()}
            datasets = {}
            f.visititems(lambda name, obj: datasets.__setitem__(name, (obj.dtype.str, obj.shape))
                         if isinstance(obj, h5py.Dataset) else None)
            return attributes, datasets

    assert layout(mine) == layout(swift)
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]
    # Both trainers choose EASE's lambda on validation, by the same search.
    with h5py.File(swift) as s, h5py.File(mine) as t:
        assert s.attrs["choose_ease_lambda"] == t.attrs["choose_ease_lambda"] == 1
        assert s.attrs["ease_lambda"] == t.attrs["ease_lambda"]


def test_ease_lambda_search(tiny_data):
    from ld4mrec.torch import signals
    assert [signals.ease_candidate(k, 50) for k in range(-4, 5)] == [2.5, 5, 10, 25, 50, 100, 250, 500, 1000]
    _, chosen = lt.Trainer(tiny_data, lt.Hyperparameters(**SMALL, max_epochs=1))._chosen_ease()

    # numpy reference: EASE alone, validation Recall@20 with the training items masked.
    n = tiny_data.n_items
    def dense(h):
        x = np.zeros((len(h.offsets) - 1, n))
        for u in range(len(h.offsets) - 1):
            x[u, h.items[h.offsets[u]:h.offsets[u + 1]].numpy()] = 1
        return x
    x, held = dense(tiny_data.train), dense(tiny_data.valid)
    users = held.sum(1) > 0
    def recall(lam):
        p = np.linalg.inv(x.T @ x + lam * np.eye(n))
        b = np.eye(n) - p / np.diag(p)
        scores = np.where(x > 0, -np.inf, x @ b)[users]
        top = np.argsort(-scores, axis=1, kind="stable")[:, :20]
        return np.mean(np.take_along_axis(held[users], top, 1).sum(1) / held[users].sum(1))
    tried = {k: recall(signals.ease_candidate(k, 50)) for k in range(-2, 5)}
    assert recall(chosen) >= max(tried.values()) - 1e-9
    assert chosen != 50 or tried[0] >= max(tried.values()) - 1e-9


def test_knn_popularity_exponent_search(tiny, tiny_data, tmp_path):
    """Both trainers choose the kNN prior's beta where a NumPy reference of the prior alone
    has its best validation Recall@20."""
    from ld4mrec.torch import signals
    h = lt.Hyperparameters(**SMALL, max_epochs=1, item_item_prior="knn", item_item_neighbours=10)
    _, torch_beta = lt.Trainer(tiny_data, h)._chosen_knn()
    torch_support.cli("train", "--data", tiny, "--out", tmp_path / "knn.h5", "--hidden", 16, "--svd-rank", 4,
                      "--film-hidden", 8, "--epochs", 1, "--item-item", "knn", "--item-item-neighbours", 10)
    with h5py.File(tmp_path / "knn.h5") as f:
        swift_beta = float(f.attrs["knn_popularity_exponent"])
        assert f.attrs["choose_knn_popularity_exponent"] == 1

    x, held = dense(tiny_data.train, tiny_data.n_items), dense(tiny_data.valid, tiny_data.n_items)
    users = held.sum(1) > 0
    together = x.T @ (x / np.maximum(x.sum(axis=1, keepdims=True), 1))
    np.fill_diagonal(together, 0)
    degree = x.sum(axis=0)

    def recall(beta):
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.nan_to_num(together / (np.sqrt(degree)[:, None] * degree[None, :] ** beta))
        order = np.argsort(-w, axis=1, kind="stable")
        np.put_along_axis(w, order[:, 10:], 0, axis=1)      # each row's 10 best
        scores = np.where(x > 0, -np.inf, x @ w)[users]
        top = np.argsort(-scores, axis=1, kind="stable")[:, :20]
        return np.mean(np.take_along_axis(held[users], top, 1).sum(1) / held[users].sum(1))
    tried = {beta: recall(beta) for beta in signals.KNN_POPULARITY_EXPONENTS}
    assert max(tried.values()) > min(tried.values())   # beta matters on this data
    for chosen in (torch_beta, swift_beta):
        assert chosen in tried and tried[chosen] >= max(tried.values()) - 1e-9, (chosen, tried)


def test_auto_keeps_the_better_mixture_of_ease_and_knn(tiny_data):
    """As the Swift trainer: `auto` mixes both priors into the same C-Net (same seed) and
    keeps the better on validation, what training with that prior alone gives."""
    results = {kind: lt.Trainer(tiny_data, lt.Hyperparameters(**SMALL, max_epochs=1, item_item_prior=kind, seed=3)).fit()
               for kind in ("ease", "knn", "auto")}
    ease, knn, auto = results["ease"], results["knn"], results["auto"]
    assert ease.final_validation.recall20 != knn.final_validation.recall20, "the test needs priors that differ"
    better = knn if knn.final_validation.recall20 > ease.final_validation.recall20 else ease
    assert auto.final_validation == better.final_validation
    assert auto.model.hyperparameters == better.model.hyperparameters   # the kind it kept, not auto
    assert (auto.model.item_item_sparse is not None) == (better is knn)
    assert len(auto.notes) == 2, auto.notes


def test_load_export_round_trip(make_model, tmp_path):
    model = lt.load(make_model())
    lt.export(model, tmp_path / "a.h5")
    again = lt.load(tmp_path / "a.h5")
    assert again.hyperparameters == model.hyperparameters and again.modality_names == model.modality_names
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    assert torch.equal(again.training_histories.items, model.training_histories.items)
    lt.export(model, tmp_path / "b.h5", histories=False)
    with h5py.File(tmp_path / "b.h5") as f:
        assert "histories" not in f


def test_export_is_atomic(make_model, tmp_path, monkeypatch):
    from ld4mrec.torch import fileformat

    model = lt.load(make_model())
    path = tmp_path / "model.h5"
    lt.export(model, path)
    before = path.read_bytes()

    def failing(f, *args):
        f.attrs["format"] = "half-written"
        raise RuntimeError("disk full")

    monkeypatch.setattr(fileformat, "_write", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        lt.export(model, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]


def test_load_rejects_invalid_files(make_model, tmp_path):
    source = make_model()
    edits = {
        "not an ld4mrec model file": lambda f: f.attrs.__setitem__("format", "other"),
        "format_version 2 is not supported": lambda f: f.attrs.__setitem__("format_version", 2),
        "no dataset '/cnet/output/weight'": lambda f: f.__delitem__("cnet/output/weight"),
        "'/users/z_in' must be float32, got float64": lambda f: support.replace_dataset(
            f, "users/z_in", f["users/z_in"][...].astype(np.float64)),
        "'/cnet/input/weight' must have shape": lambda f: support.replace_dataset(
            f, "cnet/input/weight", f["cnet/input/weight"][...].T.copy()),
        "attribute 'n_blocks' must be an integer in 1...64": lambda f: f.attrs.__setitem__("n_blocks", 2.5),
        "not finite": lambda f: f["signals/svd_item_factors"].__setitem__((0, 0), np.nan),
    }
    for message, edit in edits.items():
        path = support.edited_copy(source, tmp_path / "bad.h5", edit)
        with pytest.raises(ValueError, match=re.escape(message)):
            lt.load(path)


def test_load_accepts_format_md_files(tmp_path):
    """FORMAT.md section 6's h5py writer, with fixed-length strings, float attributes that
    hold integers and gzip-compressed chunked datasets: loads and scores as the page's own
    reference does."""
    import importlib.util

    page = (support.ROOT / "docs" / "FORMAT.md").read_text()
    code = re.search(r"```python\n(#!/usr/bin/env python3.*?)```", page, re.S).group(1)
    (tmp_path / "write_model.py").write_text(code)
    spec = importlib.util.spec_from_file_location("format_md_example", tmp_path / "write_model.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    parameters = example.random_model(seed=4)
    path = str(tmp_path / "model.h5")
    example.write_model(path, parameters)
    with h5py.File(path, "r+") as f:
        f.attrs["activation"] = np.bytes_("tanh  ")
        f.attrs["hidden_size"] = np.float64(16.0)
        weight = f["cnet/output/weight"][...]
        del f["cnet/output/weight"]
        f.create_dataset("cnet/output/weight", data=weight, chunks=(10, 16), compression="gzip")
    model = lt.load(path)
    for rows, user_row in (([0, 3, 7], 0), ([], None), ([45, 46, 2, 2], 4)):
        histories = lt.Histories.from_lists([rows], model.n_items)
        scores = model.scores(histories, [-1 if user_row is None else user_row])[0].numpy()
        expected = example.reference_scores(parameters, rows, user_row)
        assert np.abs(scores - expected).max() < torch_support.PARITY_ATOL


# ---- the example: train in torch, export, serve from C++ -----------------------------------


def test_example_trains_exports_and_serves_from_cpp(tiny, tmp_path):
    model = tmp_path / "model.h5"
    script = support.ROOT / "Examples" / "python" / "train_torch.py"
    result = subprocess.run([support.PYTHON, str(script), str(tiny), str(model), "--epochs", "2"],
                            capture_output=True, text=True, env=support.python_env(), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote " + str(model) in result.stdout and "the torch module ranks the same items" in result.stdout

    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is missing: cannot build Examples/cpp/recommend.cpp")
    binary = tmp_path / "recommend"
    subprocess.run([compiler, "-std=c++17", "-I", str(support.ROOT / "Include"), "-I",
                    str(support.ROOT / "Bindings" / "cpp"), str(support.ROOT / "Examples" / "cpp" / "recommend.cpp"),
                    "-L", str(support.ROOT / "dist" / "lib"), "-lld4mrec",
                    f"-Wl,-rpath,{support.ROOT / 'dist' / 'lib'}", "-o", str(binary)], check=True, timeout=300)
    served = subprocess.run([str(binary), str(model)], capture_output=True, text=True, timeout=60)
    assert served.returncode == 0, served.stderr
    assert f"model {model}, 150 items" in served.stdout and "top 10 for user 0:" in served.stdout


def test_top_k_breaks_ties_by_lower_row_at_the_cut():
    from ld4mrec.torch.model import top_k
    scores = torch.zeros(2, 50)
    scores[1, 40] = 1.0
    scores[1, 3] = float("-inf")
    rows, values = top_k(scores, 5)
    assert rows.tolist() == [[0, 1, 2, 3, 4], [40, 0, 1, 2, 4]]
    assert values[1, 0] == 1.0
    rows, _ = top_k(torch.full((1, 3), float("-inf")), 2)
    assert rows.tolist() == [[-1, -1]]
