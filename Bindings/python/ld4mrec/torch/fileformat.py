"""Model file v1 (docs/FORMAT.md) from and to the PyTorch module, with h5py."""

import os

import h5py
import numpy as np
import torch

from .model import Histories, Hyperparameters, LD4MRec, sparse_tables

__all__ = ["export", "load"]

FORMAT_NAME = "ld4mrec-model"
FORMAT_VERSION = 1

# Root attributes as the Swift writer (ModelFile.swift) types them: int64, float64, string;
# integers with their ranges of FORMAT.md section 2.
_INTEGERS = {"hidden_size": (1, 1 << 20), "svd_rank": (1, 1 << 20), "step_embedding_size": (1, 1 << 20),
             "n_blocks": (1, 64), "film_hidden_size": (1, 1 << 20), "n_steps": (1, 100_000),
             "batch_size": (1, 1 << 30), "max_epochs": (0, 1 << 30), "patience": (0, 1 << 30),
             "svd_oversamples": (0, 1 << 30), "svd_power_iterations": (0, 1000),
             "item_item_neighbours": (1, 1 << 16), "n_cnets": (1, 64), "teacher_cnets": (1, 64),
             "conditions_from_dropped_history": (0, 1), "choose_ease_lambda": (0, 1),
             "choose_knn_popularity_exponent": (0, 1)}
_FLAGS = ("conditions_from_dropped_history", "choose_ease_lambda", "choose_knn_popularity_exponent")
_FLOATS = ("leaky_relu_slope", "noise_scale", "noise_min", "soft_target_probability", "soft_target_gamma",
           "learning_rate", "input_dropout", "hidden_dropout", "weight_decay", "ease_lambda",
           "knn_popularity_exponent", "distillation_weight", "distillation_temperature")
_REQUIRED = ("hidden_size", "svd_rank", "step_embedding_size", "n_blocks", "film_hidden_size",
             "leaky_relu_slope")
_CHOICES = {"step_sampler": ("importance", "uniform"), "loss": ("mse", "multinomial"),
            "feature_standardization": ("training-items", "none"), "item_item_prior": ("none", "ease", "knn", "auto")}


# ------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------


def _numpy(tensor, dtype):
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=dtype)


def export(model, path, histories=True):
    """Writes ``model`` (an LD4MRec module) as model file v1, atomically: a temporary file
    in the same folder, flushed and fsynced, renamed over ``path``, then the folder fsynced,
    so a reader sees the old file or the complete new one. Every attribute of FORMAT.md
    section 2 is written (integers int64, floats float64, strings UTF-8), the item-item
    prior and the score mixture when the model has them, and the training histories when
    ``histories`` is true and the model carries them."""
    h = model.hyperparameters
    scale_cnet = float(model.score_scale_cnet)
    scale_item_item = float(model.score_scale_item_item)
    if not model.has_item_item_prior and scale_item_item != 0:
        raise ValueError("score_scale_item_item must be 0 without an item-item table")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    temporary = f"{path}.tmp-{os.getpid()}"  # same folder: os.replace stays a rename
    try:
        with h5py.File(temporary, "w") as f:
            _write(f, model, h, scale_cnet, scale_item_item, histories)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _write(f, model, h, scale_cnet, scale_item_item, histories):
    a = f.attrs
    a["format"] = FORMAT_NAME
    a["format_version"] = np.int64(FORMAT_VERSION)
    a["n_modalities"] = np.int64(model.n_modalities)
    for name in _INTEGERS:
        a[name] = np.int64(int(getattr(h, name)))  # flags as 0/1: h5py stores bools as enums
    for name in _FLOATS:
        a[name] = np.float64(getattr(h, name))
    for name in _CHOICES:
        a[name] = str(getattr(h, name))
    a["activation"] = "tanh"
    a["seed"] = np.uint64(int(h.seed) % (1 << 64)).view(np.int64)  # same bits in an int64
    if h.ensemble_weight is not None:
        a["ensemble_weight"] = np.float64(h.ensemble_weight)
    a["score_scale_cnet"] = np.float64(scale_cnet)
    a["score_scale_item_item"] = np.float64(scale_item_item)

    def floats(name, tensor):
        f.create_dataset(name, data=_numpy(tensor, np.float32))

    def dense(group, layer):
        floats(group + "/weight", layer.weight)
        floats(group + "/bias", layer.bias)

    f.create_dataset("ids/items", data=_numpy(model.item_ids, np.int64))
    f.create_dataset("ids/users", data=_numpy(model.user_ids, np.int64))
    floats("signals/svd_item_factors", model.svd_item_factors)
    floats("signals/svd_singular_values", model.svd_singular_values)
    f.create_dataset("signals/item_degrees", data=_numpy(model.item_degrees, np.int64))
    if model.item_item is not None:
        floats("signals/item_item", model.item_item)
    if model.item_item_sparse is not None:
        offsets, columns, values = sparse_tables(model.item_item_sparse)
        f.create_dataset("signals/item_item_sparse/offsets", data=offsets)
        f.create_dataset("signals/item_item_sparse/columns", data=columns)
        f.create_dataset("signals/item_item_sparse/values", data=values)
    for m, name in enumerate(model.modality_names):
        group = f.create_group(f"modalities/{m}")
        group.attrs["name"] = name
        floats(f"modalities/{m}/features", model.features(m))
    floats("cnet/input/weight", model.input.weight.T)  # W_in is stored (d, n_items)
    floats("cnet/input/bias", model.input_bias)
    for s, block in enumerate(model.blocks):
        prefix = f"cnet/blocks/{s}"
        dense(prefix + "/cg/hidden", block.hidden)
        dense(prefix + "/cg/condition", block.condition)
        dense(prefix + "/cg/gate", block.gate)
        for m in range(model.n_modalities):
            for kind, network in (("scale", block.film_scale[m]), ("shift", block.film_shift[m])):
                dense(f"{prefix}/film/{m}/{kind}/fc1", network.fc1)
                dense(f"{prefix}/film/{m}/{kind}/fc2", network.fc2)
    dense("cnet/output", model.output)
    floats("users/z_in", model.z_in)
    floats("users/z_in_default", model.z_in_default)
    if histories and model.training_histories is not None:
        f.create_dataset("histories/offsets", data=_numpy(model.training_histories.offsets, np.int64))
        f.create_dataset("histories/items", data=_numpy(model.training_histories.items, np.int64))


# ------------------------------------------------------------------------------------
# Load
# ------------------------------------------------------------------------------------


class _Reader:
    """Reads one file, naming the file and the object in every error."""

    def __init__(self, f, path):
        self.f, self.path = f, path

    def fail(self, message):
        return ValueError(f"'{self.path}': {message}")

    def text(self, obj, name):
        value = obj.attrs.get(name)
        if value is None:
            return None
        if isinstance(value, np.ndarray):
            if value.size != 1:
                raise self.fail(f"attribute '{name}' must hold one value")
            value = value.reshape(-1)[0]
        if isinstance(value, (bytes, np.bytes_)):
            value = bytes(value).decode("utf-8").rstrip(" \0")
        if not isinstance(value, str):
            raise self.fail(f"attribute '{name}' must be a string")
        return value

    def number(self, name):
        value = self.f.attrs.get(name)
        if value is None:
            return None
        value = np.asarray(value)
        if value.size != 1 or value.dtype.kind not in "iuf":
            raise self.fail(f"attribute '{name}' must be one number")
        value = value.reshape(-1)[0]
        if not np.isfinite(value):
            raise self.fail(f"attribute '{name}' must be finite")
        return value

    def integer(self, name, low, high):
        value = self.number(name)
        if value is None:
            return None
        if value != np.floor(value) or not low <= value <= high:
            raise self.fail(f"attribute '{name}' must be an integer in {low}...{high}, got {value}")
        return int(value)

    def array(self, name, dtype, shape=None):
        if name not in self.f or not isinstance(self.f[name], h5py.Dataset):
            raise self.fail(f"no dataset '/{name}'")
        data = self.f[name]
        expected = np.dtype(dtype)
        if (data.dtype.kind, data.dtype.itemsize) != (expected.kind, expected.itemsize):  # either byte order
            raise self.fail(f"'/{name}' must be {expected.name}, got {data.dtype}")
        value = np.asarray(data[...], dtype=dtype)
        if shape is not None and value.shape != tuple(shape):
            raise self.fail(f"'/{name}' must have shape {tuple(shape)}, got {value.shape}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise self.fail(f"'/{name}' holds a value that is not finite")
        return value


def load(path, map_location=None):
    """A torch LD4MRec module from any valid model file v1 (written by the Swift CLI, by
    ``export``, or by h5py as in FORMAT.md section 6). Raises ValueError naming the file and
    the attribute or dataset when the file is not a valid model file. The module is in eval
    mode, on ``map_location`` (default CPU)."""
    path = os.fspath(path)
    with h5py.File(path, "r") as f:
        r = _Reader(f, path)
        model = _read(r)
    model.eval()
    return model.to(map_location) if map_location is not None else model


def _read(r):
    if r.text(r.f, "format") != FORMAT_NAME:
        raise r.fail(f"not an ld4mrec model file (attribute 'format' must be '{FORMAT_NAME}')")
    version = r.number("format_version")
    if version is None:
        raise r.fail("no 'format_version' attribute")
    if version != FORMAT_VERSION:
        raise r.fail(f"format_version {version} is not supported (this reader reads {FORMAT_VERSION})")

    h = Hyperparameters(item_item_prior="none", hidden_dropout=0.0)  # files from before these have none
    for name in _REQUIRED:
        if name not in r.f.attrs:
            raise r.fail(f"no '{name}' attribute")
    for name, (low, high) in _INTEGERS.items():
        value = r.integer(name, low, high)
        if value is not None:
            setattr(h, name, bool(value) if name in _FLAGS else value)
    for name in _FLOATS:
        value = r.number(name)
        if value is not None:
            setattr(h, name, float(value))
    for name, choices in _CHOICES.items():
        value = r.text(r.f, name)
        if value is not None:
            if value not in choices:
                raise r.fail(f"attribute '{name}' is '{value}', expected one of {list(choices)}")
            setattr(h, name, value)
    weight = r.number("ensemble_weight")
    if weight is not None:
        if not 0 <= weight <= 1:
            raise r.fail(f"attribute 'ensemble_weight' must be in [0, 1], got {weight}")
        h.ensemble_weight = float(weight)
    activation = r.text(r.f, "activation")
    if activation != "tanh":
        raise r.fail(f"activation {activation!r} is not supported (only 'tanh')")
    seed = r.number("seed")
    if seed is not None:
        h.seed = int(seed) % (1 << 64)  # a uint64 stored with the same bits in an int64
    try:
        h.validate_architecture()
    except ValueError as error:
        raise r.fail(str(error)) from None
    n_modalities = r.integer("n_modalities", 0, 64)
    if n_modalities is None:
        raise r.fail("no 'n_modalities' attribute")

    item_ids = r.array("ids/items", np.int64)
    user_ids = r.array("ids/users", np.int64)
    n, u = item_ids.size, user_ids.size
    if item_ids.ndim != 1 or n < 1 or user_ids.ndim != 1:
        raise r.fail("'/ids/items' and '/ids/users' must be 1-D, with at least one item")
    if np.unique(item_ids).size != n or np.unique(user_ids).size != u:
        raise r.fail("'/ids/items' and '/ids/users' must not repeat an id")
    d, k, d_f = h.hidden_size, h.svd_rank, h.step_embedding_size
    modalities = []
    for m in range(n_modalities):
        group = f"modalities/{m}"
        if group not in r.f:
            raise r.fail(f"no group '/{group}'")
        name = r.text(r.f[group], "name")
        if not name:
            raise r.fail(f"'/{group}' has no non-empty 'name' attribute")
        features = r.array(group + "/features", np.float32)
        if features.ndim != 2 or features.shape[0] != n or features.shape[1] < 1:
            raise r.fail(f"'/{group}/features' must have shape ({n}, d_m), got {features.shape}")
        modalities.append((name, features))
    item_item = r.array("signals/item_item", np.float32, (n, n)) if "signals/item_item" in r.f else None
    item_item_sparse = None
    if "signals/item_item_sparse" in r.f:
        group = "signals/item_item_sparse"
        item_item_sparse = (r.array(group + "/offsets", np.int64, (n + 1,)), r.array(group + "/columns", np.int64),
                            r.array(group + "/values", np.float32))
    histories = None
    if "histories/offsets" in r.f or "histories/items" in r.f:
        offsets = r.array("histories/offsets", np.int64, (u + 1,))
        items = r.array("histories/items", np.int64)
        if items.ndim != 1 or offsets[0] != 0 or offsets[-1] != items.size or (np.diff(offsets) < 0).any():
            raise r.fail("'/histories/offsets' must start at 0, never decrease and end at len('/histories/items')")
        if items.size and (items.min() < 0 or items.max() >= n):
            raise r.fail(f"'/histories/items' holds an item row outside 0...{n - 1}")
        histories = Histories.from_csr(offsets, items, n)  # sorted, repeats dropped (as the library's store)
    try:
        model = LD4MRec(
            h, item_ids=item_ids, user_ids=user_ids,
            svd_item_factors=r.array("signals/svd_item_factors", np.float32, (n, k)),
            svd_singular_values=r.array("signals/svd_singular_values", np.float32, (k,)),
            item_degrees=r.array("signals/item_degrees", np.int64, (n,)),
            modalities=modalities, item_item=item_item, item_item_sparse=item_item_sparse,
            score_scale_cnet=float(r.number("score_scale_cnet") if "score_scale_cnet" in r.f.attrs else 1.0),
            score_scale_item_item=float(r.number("score_scale_item_item")
                                        if "score_scale_item_item" in r.f.attrs else 0.0),
            histories=histories, initialize=False)
    except ValueError as error:
        raise r.fail(str(error)) from None

    def dense(group, layer, n_out, n_in):
        layer.weight.data.copy_(torch.from_numpy(r.array(group + "/weight", np.float32, (n_out, n_in))))
        layer.bias.data.copy_(torch.from_numpy(r.array(group + "/bias", np.float32, (n_out,))))

    with torch.no_grad():
        model.input.weight.copy_(torch.from_numpy(r.array("cnet/input/weight", np.float32, (d, n))).T)
        model.input_bias.copy_(torch.from_numpy(r.array("cnet/input/bias", np.float32, (d,))))
        for s, block in enumerate(model.blocks):
            prefix = f"cnet/blocks/{s}"
            dense(prefix + "/cg/hidden", block.hidden, d, d + d_f)
            dense(prefix + "/cg/condition", block.condition, d, 2 * k)
            dense(prefix + "/cg/gate", block.gate, d, d_f)
            for m, (_, features) in enumerate(modalities):
                for kind, network in (("scale", block.film_scale[m]), ("shift", block.film_shift[m])):
                    dense(f"{prefix}/film/{m}/{kind}/fc1", network.fc1, h.film_hidden_size, features.shape[1])
                    dense(f"{prefix}/film/{m}/{kind}/fc2", network.fc2, d, h.film_hidden_size)
        dense("cnet/output", model.output, n, d)
        model.z_in.copy_(torch.from_numpy(r.array("users/z_in", np.float32, (u, d_f))))
        model.z_in_default.copy_(torch.from_numpy(r.array("users/z_in_default", np.float32, (d_f,))))
    return model
