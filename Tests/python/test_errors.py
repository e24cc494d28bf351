"""Bad input through Python and through the raw ctypes layer: exact status codes, messages
that name the problem, outputs left alone on failure, and a process that lives."""

import ctypes
import os
import subprocess
import threading
from ctypes import byref, c_bool, c_int64, c_size_t

import numpy as np
import pytest

import support

ld4mrec = support.import_ld4mrec()
h5py = pytest.importorskip("h5py")
from ld4mrec import _capi as C  # noqa: E402

OK, INVALID, SMALL, IO, BAD_FILE, VERSION, UNKNOWN_USER, OOM = 0, 1, 2, 3, 4, 5, 6, 7


def last_error():
    return C.ld4mrec_last_error().decode()


def expect_model_error(path, status, *words):
    with pytest.raises(ld4mrec.LD4MRecError) as caught:
        ld4mrec.Model(path)
    error = caught.value
    assert error.status == status, f"{error!r}"
    assert type(error) is ld4mrec._ERRORS[status]
    for word in words:
        assert word in error.message, f"{word!r} not in {error.message!r}"
    return error


# ---- model files that are not model files ---------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "absent.h5"
    expect_model_error(path, IO, str(path), "No such file")


def test_directory(tmp_path):
    expect_model_error(tmp_path, IO, "not a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path, model_path):
    path = tmp_path / "locked.h5"
    path.write_bytes(model_path.read_bytes())
    path.chmod(0)
    expect_model_error(path, IO, "Permission denied")


def test_empty_path():
    expect_model_error("", INVALID, "path")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    expect_model_error(path, BAD_FILE, "not an HDF5 file")


@pytest.mark.parametrize("size", [16, 5000, 300_000])
def test_random_bytes(tmp_path, size):
    path = tmp_path / "random.h5"
    path.write_bytes(np.random.default_rng(size).bytes(size))
    expect_model_error(path, BAD_FILE, str(path), "HDF5")


def test_random_bytes_after_an_hdf5_signature(tmp_path):
    path = tmp_path / "signature.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + np.random.default_rng(1).bytes(4000))
    expect_model_error(path, BAD_FILE, str(path))


@pytest.mark.parametrize("fraction", [0.0001, 0.004, 0.02, 0.25, 0.5, 0.9, 0.999])
def test_truncated_model(tmp_path, model_path, fraction):
    data = model_path.read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[:max(1, int(len(data) * fraction))])
    expect_model_error(path, BAD_FILE, str(path))


def test_truncated_by_one_byte(tmp_path, model_path):
    path = tmp_path / "short.h5"
    path.write_bytes(model_path.read_bytes()[:-1])
    expect_model_error(path, BAD_FILE, str(path))


# ---- model files with broken content ----------------------------------------------------


def _set(name, value):
    def edit(f):
        f.attrs[name] = value
    return edit


def _drop_attr(name):
    def edit(f):
        del f.attrs[name]
    return edit


def _reshape(name, delta_rows=0, delta_cols=0):
    def edit(f):
        data = f[name][...]
        shape = (data.shape[0] + delta_rows,) + ((data.shape[1] + delta_cols,) if data.ndim == 2 else ())
        support.replace_dataset(f, name, np.zeros(shape, dtype=data.dtype))
    return edit


def _poke(name, value, index=(0,)):
    def edit(f):
        data = f[name][...]
        data[index] = value
        f[name][...] = data
    return edit


def _retype(name, dtype):
    def edit(f):
        support.replace_dataset(f, name, f[name][...].astype(dtype))
    return edit


def _delete(name):
    def edit(f):
        del f[name]
    return edit


BROKEN_MODELS = {
    # name: (edit, status, words in the message)
    "output weight shape": (_reshape("cnet/output/weight", 0, 1), BAD_FILE, ["/cnet/output/weight", "shape"]),
    "condition weight shape": (_reshape("cnet/blocks/1/cg/condition/weight", 0, -1), BAD_FILE,
                               ["/cnet/blocks/1/cg/condition/weight", "shape"]),
    "film fc1 shape": (_reshape("cnet/blocks/0/film/1/scale/fc1/weight", 0, 1), BAD_FILE,
                       ["/cnet/blocks/0/film/1/scale/fc1/weight", "shape"]),
    "input bias length": (_reshape("cnet/input/bias", 1), BAD_FILE, ["/cnet/input/bias", "length"]),
    "z_in rows": (_reshape("users/z_in", -1), BAD_FILE, ["/users/z_in", "shape"]),
    "features rows": (_reshape("modalities/0/features", 2), BAD_FILE, ["/modalities/0/features", "shape"]),
    "rank": (lambda f: support.replace_dataset(f, "ids/users", f["ids/users"][...].reshape(1, -1)),
             BAD_FILE, ["/ids/users", "dimension"]),
    "NaN weight": (_poke("cnet/blocks/0/cg/hidden/weight", np.nan, (3, 4)), BAD_FILE,
                   ["/cnet/blocks/0/cg/hidden/weight", "not finite"]),
    "NaN bias": (_poke("cnet/blocks/1/film/0/shift/fc2/bias", np.nan), BAD_FILE,
                 ["/cnet/blocks/1/film/0/shift/fc2/bias", "not finite"]),
    "inf feature": (_poke("modalities/1/features", np.inf, (7, 2)), BAD_FILE,
                    ["/modalities/1/features", "not finite"]),
    "NaN z_in_default": (_poke("users/z_in_default", np.nan), BAD_FILE, ["/users/z_in_default", "not finite"]),
    "float64 bias": (_retype("cnet/input/bias", np.float64), BAD_FILE, ["/cnet/input/bias", "float32"]),
    "int32 ids": (_retype("ids/items", np.int32), BAD_FILE, ["/ids/items", "int64"]),
    "missing dataset": (_delete("cnet/blocks/1/cg/gate/bias"), BAD_FILE,
                        ["/cnet/blocks/1/cg/gate/bias", "missing"]),
    "missing modality name": (lambda f: f["modalities/1"].attrs.__delitem__("name"), BAD_FILE,
                              ["/modalities/1", "name"]),
    "more blocks than stored": (_set("n_blocks", 3), BAD_FILE, ["/cnet/blocks/2", "missing"]),
    "duplicate item id": (_poke("ids/items", 1007), BAD_FILE, ["/ids/items", "1007", "more than once"]),
    "zero singular value": (_poke("signals/svd_singular_values", 0.0, (2,)), BAD_FILE,
                            ["svd_singular_values", "positive"]),
    "negative degree": (_poke("signals/item_degrees", -1, (4,)), BAD_FILE, ["item_degrees", "negative"]),
    "history row out of range": (_poke("histories/items", 300, (0,)), BAD_FILE, ["/histories/items"]),
    "history offsets": (_poke("histories/offsets", 5, (0,)), BAD_FILE, ["/histories/offsets"]),
    "histories half": (_delete("histories/items"), BAD_FILE, ["/histories/items", "missing"]),
    "missing hidden_size": (_drop_attr("hidden_size"), BAD_FILE, ["hidden_size"]),
    "hidden_size range": (_set("hidden_size", 0), BAD_FILE, ["hidden_size"]),
    "fractional n_blocks": (_set("n_blocks", 2.5), BAD_FILE, ["n_blocks", "integer"]),
    "activation": (_set("activation", "relu"), BAD_FILE, ["activation", "relu"]),
    "slope": (_set("leaky_relu_slope", 1.5), BAD_FILE, ["leaky_relu_slope"]),
    "bool attribute (HDF5 enum)": (_set("conditions_from_dropped_history", True), BAD_FILE,
                                   ["conditions_from_dropped_history"]),
    "optional attribute value": (_set("loss", "hinge"), BAD_FILE, ["loss", "hinge"]),
    "missing format": (_drop_attr("format"), BAD_FILE, ["format"]),
    "wrong format": (_set("format", "ld4mrec-modle"), BAD_FILE, ["format", "ld4mrec-modle"]),
    "format_version 2": (_set("format_version", 2), VERSION, ["version", "not supported"]),
    "format_version 0": (_set("format_version", 0), VERSION, ["version", "not supported"]),
    "missing format_version": (_drop_attr("format_version"), BAD_FILE, ["format_version"]),
}


@pytest.mark.parametrize("name", list(BROKEN_MODELS))
def test_broken_model(tmp_path, model_path, name):
    edit, status, words = BROKEN_MODELS[name]
    path = support.edited_copy(model_path, tmp_path / "broken.h5", edit)
    expect_model_error(path, status, str(path), *words)


def test_extra_content_is_ignored(tmp_path, model_path):
    def edit(f):
        f.attrs["trainer"] = "mine"
        f.create_dataset("training/loss", data=np.arange(10.0))
        f.create_dataset("cnet/blocks/7/cg/hidden/weight", data=np.full((2, 2), np.nan, np.float32))
    path = support.edited_copy(model_path, tmp_path / "extra.h5", edit)
    with ld4mrec.Model(path) as model, ld4mrec.Model(model_path) as original:
        np.testing.assert_array_equal(model.score_all_history([1000]), original.score_all_history([1000]))


def test_a_store_file_is_not_a_model(tmp_path, store):
    path = tmp_path / "store.h5"
    store.save(path)
    expect_model_error(path, BAD_FILE, "format", "ld4mrec-store")


def test_oversized_dataset_is_out_of_memory(tmp_path, model_path):
    """FORMAT.md section 5: more than 64 * (2^31 - 1) elements is OUT_OF_MEMORY. The file is
    small: the dataset is chunked and never written."""
    def edit(f):
        support.replace_dataset(f, "signals/svd_item_factors", shape=(2 ** 20, 2 ** 20),
                                dtype=np.float32, chunks=(256, 256))
    path = support.edited_copy(model_path, tmp_path / "oversized.h5", edit)
    expect_model_error(path, OOM, "/signals/svd_item_factors", "too large")


@pytest.mark.parametrize("name,shape", [("ids/items", (2 ** 33,)), ("cnet/output/bias", (2 ** 34,)),
                                        ("cnet/input/weight", (2 ** 20, 2 ** 16))])
def test_declared_but_unstored_dataset_is_refused_without_allocating(tmp_path, model_path, name, shape):
    # A chunked dataset can declare far more elements than its file holds; allocating
    # them would abort the host process.
    dtype = np.int64 if name.startswith("ids") else np.float32
    def edit(f):
        support.replace_dataset(f, name, shape=shape, dtype=dtype, chunks=(1 << 10,) * len(shape))
    path = support.edited_copy(model_path, tmp_path / "huge.h5", edit)
    child = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # safety: fail fast\n"
        "import ld4mrec\n"
        "try:\n"
        "    ld4mrec.Model(sys.argv[1])\n"
        "except ld4mrec.LD4MRecError as error:\n"
        "    print(error.status)\n")
    result = subprocess.run([support.PYTHON, "-c", child, str(path)], capture_output=True,
                            text=True, env=support.python_env(), timeout=120)
    assert result.returncode == 0, f"child died with {result.returncode}: {result.stderr[:200]}"
    assert result.stdout.strip() == str(BAD_FILE)


# ---- NULL pointers and other invalid arguments through the raw layer ----------------------


class Raw:
    """Handles and buffers for raw calls."""

    def __init__(self, model, store, model_path):
        self.m = model._handle
        self.s = store._handle
        self.path = os.fsencode(model_path)
        self.ids = np.array([1000, 1007, 1014], dtype=np.int64)
        self.ids_p = self.ids.ctypes.data_as(C.int64_p)
        self.out_ids = np.full(400, -99, dtype=np.int64)
        self.out_ids_p = self.out_ids.ctypes.data_as(C.int64_p)
        self.out_scores = np.full(400 * 3, -99, dtype=np.float32)
        self.out_scores_p = self.out_scores.ctypes.data_as(C.float_p)
        self.count = c_size_t(12345)
        self.extra = c_size_t(12345)
        self.out_model = C.ld4mrec_model_p()
        self.out_store = C.ld4mrec_store_p()
        self.info = C.ld4mrec_model_info()
        self.info.struct_size = ctypes.sizeof(C.ld4mrec_model_info)
        self.user = c_int64(500)
        self.params = C.ld4mrec_recommend_params_default()

    def untouched(self):
        return (self.count.value == 12345 and self.extra.value == 12345 and not self.out_model
                and not self.out_store and (self.out_ids == -99).all() and (self.out_scores == -99).all())

    def params_with(self, **fields):
        params = C.ld4mrec_recommend_params_default()
        for name, value in fields.items():
            setattr(params, name, value)
        return byref(params)


@pytest.fixture
def raw(model, store, model_path):
    return Raw(model, store, model_path)


# (function, word in the message, call)
INVALID_CALLS = [
    ("model_load", "path", lambda r: C.ld4mrec_model_load(None, byref(r.out_model))),
    ("model_load", "out_model", lambda r: C.ld4mrec_model_load(r.path, None)),
    ("model_load_with", "path", lambda r: C.ld4mrec_model_load_with(None, None, byref(r.out_model))),
    ("model_load_with", "out_model", lambda r: C.ld4mrec_model_load_with(r.path, None, None)),
    ("model_load_with", "precision", lambda r: C.ld4mrec_model_load_with(
        r.path, byref(C.ld4mrec_load_params(struct_size=ctypes.sizeof(C.ld4mrec_load_params), precision=-1)),
        byref(r.out_model))),
    ("model_load_with", "struct_size", lambda r: C.ld4mrec_model_load_with(
        r.path, byref(C.ld4mrec_load_params(struct_size=4)), byref(r.out_model))),
    ("model_get_info", "model", lambda r: C.ld4mrec_model_get_info(None, byref(r.info))),
    ("model_get_info", "out_info", lambda r: C.ld4mrec_model_get_info(r.m, None)),
    ("model_get_info", "struct_size", lambda r: C.ld4mrec_model_get_info(
        r.m, byref(C.ld4mrec_model_info(struct_size=8)))),
    ("model_item_ids", "model", lambda r: C.ld4mrec_model_item_ids(None, r.out_ids_p, 400, byref(r.count))),
    ("model_item_ids", "out_ids", lambda r: C.ld4mrec_model_item_ids(r.m, None, 400, byref(r.count))),
    ("store_new", "model", lambda r: C.ld4mrec_store_new(None, byref(r.out_store))),
    ("store_new", "out_store", lambda r: C.ld4mrec_store_new(r.m, None)),
    ("store_from_model", "model", lambda r: C.ld4mrec_store_from_model(None, byref(r.out_store))),
    ("store_from_model", "out_store", lambda r: C.ld4mrec_store_from_model(r.m, None)),
    ("store_load", "model", lambda r: C.ld4mrec_store_load(None, r.path, byref(r.out_store), byref(r.count))),
    ("store_load", "path", lambda r: C.ld4mrec_store_load(r.m, None, byref(r.out_store), byref(r.count))),
    ("store_load", "path", lambda r: C.ld4mrec_store_load(r.m, b"", byref(r.out_store), byref(r.count))),
    ("store_load", "out_store", lambda r: C.ld4mrec_store_load(r.m, r.path, None, byref(r.count))),
    ("store_save", "store", lambda r: C.ld4mrec_store_save(None, b"/tmp/never-written.h5")),
    ("store_save", "path", lambda r: C.ld4mrec_store_save(r.s, None)),
    ("store_save", "path", lambda r: C.ld4mrec_store_save(r.s, b"")),
    ("store_add", "store", lambda r: C.ld4mrec_store_add(None, 500, r.ids_p, 3, byref(r.count))),
    ("store_add", "items", lambda r: C.ld4mrec_store_add(r.s, 500, None, 3, byref(r.count))),
    ("store_add", "items", lambda r: C.ld4mrec_store_add(r.s, 500, r.ids_p, 2 ** 64 - 1, byref(r.count))),
    ("store_remove", "store", lambda r: C.ld4mrec_store_remove(None, 500, r.ids_p, 3, byref(r.count))),
    ("store_remove", "items", lambda r: C.ld4mrec_store_remove(r.s, 500, None, 3, byref(r.count))),
    ("store_replace", "store", lambda r: C.ld4mrec_store_replace(None, 500, r.ids_p, 3, byref(r.count))),
    ("store_replace", "items", lambda r: C.ld4mrec_store_replace(r.s, 500, None, 3, byref(r.count))),
    ("store_clear_user", "store", lambda r: C.ld4mrec_store_clear_user(None, 500, None)),
    ("store_get_history", "store", lambda r: C.ld4mrec_store_get_history(
        None, 500, r.out_ids_p, 400, byref(r.count))),
    ("store_get_history", "out_count", lambda r: C.ld4mrec_store_get_history(r.s, 500, r.out_ids_p, 400, None)),
    ("store_get_history", "out_items", lambda r: C.ld4mrec_store_get_history(r.s, 500, None, 400, byref(r.count))),
    ("store_user_ids", "store", lambda r: C.ld4mrec_store_user_ids(None, r.out_ids_p, 400, byref(r.count))),
    ("store_user_ids", "out_count", lambda r: C.ld4mrec_store_user_ids(r.s, r.out_ids_p, 400, None)),
    ("store_user_ids", "out_ids", lambda r: C.ld4mrec_store_user_ids(r.s, None, 400, byref(r.count))),
    ("recommend_user", "model", lambda r: C.ld4mrec_recommend_user(
        None, r.s, 500, 5, None, r.out_ids_p, r.out_scores_p, 400, byref(r.count))),
    ("recommend_user", "store", lambda r: C.ld4mrec_recommend_user(
        r.m, None, 500, 5, None, r.out_ids_p, r.out_scores_p, 400, byref(r.count))),
    ("recommend_user", "out_items", lambda r: C.ld4mrec_recommend_user(
        r.m, r.s, 500, 5, None, None, r.out_scores_p, 400, byref(r.count))),
    ("recommend_user", "out_count", lambda r: C.ld4mrec_recommend_user(
        r.m, r.s, 500, 5, None, r.out_ids_p, r.out_scores_p, 400, None)),
    ("recommend_user", "struct_size", lambda r: C.ld4mrec_recommend_user(
        r.m, r.s, 500, 5, r.params_with(struct_size=0), r.out_ids_p, r.out_scores_p, 400, byref(r.count))),
    ("recommend_user", "only_items", lambda r: C.ld4mrec_recommend_user(
        r.m, r.s, 500, 5, r.params_with(n_only_items=3), r.out_ids_p, r.out_scores_p, 400, byref(r.count))),
    ("recommend_user", "excluded_items", lambda r: C.ld4mrec_recommend_user(
        r.m, r.s, 500, 5, r.params_with(n_excluded_items=3), r.out_ids_p, r.out_scores_p, 400,
        byref(r.count))),
    ("recommend_user", "k", lambda r: C.ld4mrec_recommend_user(
        r.m, r.s, 500, 0, None, r.out_ids_p, r.out_scores_p, 400, byref(r.count))),
    ("recommend_history", "model", lambda r: C.ld4mrec_recommend_history(
        None, r.ids_p, 3, None, 5, None, r.out_ids_p, r.out_scores_p, 400, byref(r.count), byref(r.extra))),
    ("recommend_history", "history", lambda r: C.ld4mrec_recommend_history(
        r.m, None, 3, None, 5, None, r.out_ids_p, r.out_scores_p, 400, byref(r.count), byref(r.extra))),
    ("recommend_history", "out_items", lambda r: C.ld4mrec_recommend_history(
        r.m, r.ids_p, 3, None, 5, None, None, r.out_scores_p, 400, byref(r.count), byref(r.extra))),
    ("recommend_history", "out_count", lambda r: C.ld4mrec_recommend_history(
        r.m, r.ids_p, 3, None, 5, None, r.out_ids_p, r.out_scores_p, 400, None, byref(r.extra))),
    ("recommend_history", "k", lambda r: C.ld4mrec_recommend_history(
        r.m, r.ids_p, 3, None, -(2 ** 31), None, r.out_ids_p, r.out_scores_p, 400, byref(r.count),
        byref(r.extra))),
    ("recommend_users", "model", lambda r: C.ld4mrec_recommend_users(
        None, r.s, r.ids_p, 1, 5, None, r.out_ids_p, r.out_scores_p, 400, None)),
    ("recommend_users", "store", lambda r: C.ld4mrec_recommend_users(
        r.m, None, r.ids_p, 1, 5, None, r.out_ids_p, r.out_scores_p, 400, None)),
    ("recommend_users", "user_ids", lambda r: C.ld4mrec_recommend_users(
        r.m, r.s, None, 2, 5, None, r.out_ids_p, r.out_scores_p, 400, None)),
    ("recommend_users", "n_users", lambda r: C.ld4mrec_recommend_users(
        r.m, r.s, r.ids_p, 0, 5, None, r.out_ids_p, r.out_scores_p, 400, None)),
    ("recommend_users", "out_items", lambda r: C.ld4mrec_recommend_users(
        r.m, r.s, r.ids_p, 2, 5, None, None, r.out_scores_p, 400, None)),
    ("recommend_users", "k", lambda r: C.ld4mrec_recommend_users(
        r.m, r.s, r.ids_p, 2, -3, None, r.out_ids_p, r.out_scores_p, 400, None)),
    ("score_user", "model", lambda r: C.ld4mrec_score_user(
        None, r.s, 500, r.ids_p, 3, r.out_scores_p, byref(r.count))),
    ("score_user", "store", lambda r: C.ld4mrec_score_user(
        r.m, None, 500, r.ids_p, 3, r.out_scores_p, byref(r.count))),
    ("score_user", "candidates", lambda r: C.ld4mrec_score_user(
        r.m, r.s, 500, None, 3, r.out_scores_p, byref(r.count))),
    ("score_user", "out_scores", lambda r: C.ld4mrec_score_user(
        r.m, r.s, 500, r.ids_p, 3, None, byref(r.count))),
    ("score_history", "model", lambda r: C.ld4mrec_score_history(
        None, r.ids_p, 3, None, r.ids_p, 3, r.out_scores_p, byref(r.count), byref(r.extra))),
    ("score_history", "history", lambda r: C.ld4mrec_score_history(
        r.m, None, 3, None, r.ids_p, 3, r.out_scores_p, byref(r.count), byref(r.extra))),
    ("score_history", "candidates", lambda r: C.ld4mrec_score_history(
        r.m, r.ids_p, 3, None, None, 3, r.out_scores_p, byref(r.count), byref(r.extra))),
    ("score_history", "out_scores", lambda r: C.ld4mrec_score_history(
        r.m, r.ids_p, 3, None, r.ids_p, 3, None, byref(r.count), byref(r.extra))),
    ("score_all_users", "model", lambda r: C.ld4mrec_score_all_users(
        None, r.s, r.ids_p, 1, r.out_scores_p, 1200)),
    ("score_all_users", "store", lambda r: C.ld4mrec_score_all_users(
        r.m, None, r.ids_p, 1, r.out_scores_p, 1200)),
    ("score_all_users", "user_ids", lambda r: C.ld4mrec_score_all_users(
        r.m, r.s, None, 1, r.out_scores_p, 1200)),
    ("score_all_users", "n_users", lambda r: C.ld4mrec_score_all_users(
        r.m, r.s, r.ids_p, 0, r.out_scores_p, 1200)),
    ("score_all_users", "out_scores", lambda r: C.ld4mrec_score_all_users(r.m, r.s, r.ids_p, 1, None, 1200)),
    ("score_all_history", "model", lambda r: C.ld4mrec_score_all_history(
        None, r.ids_p, 3, None, r.out_scores_p, 1200, byref(r.count))),
    ("score_all_history", "history", lambda r: C.ld4mrec_score_all_history(
        r.m, None, 3, None, r.out_scores_p, 1200, byref(r.count))),
    ("score_all_history", "out_scores", lambda r: C.ld4mrec_score_all_history(
        r.m, r.ids_p, 3, None, None, 1200, byref(r.count))),
    ("store_set_model", "store", lambda r: C.ld4mrec_store_set_model(None, r.m, byref(r.count))),
    ("store_set_model", "model", lambda r: C.ld4mrec_store_set_model(r.s, None, byref(r.count))),
]


@pytest.mark.parametrize("function, word, call", INVALID_CALLS,
                         ids=[f"{f}-{w}-{i}" for i, (f, w, _) in enumerate(INVALID_CALLS)])
def test_invalid_argument(raw, function, word, call):
    status = call(raw)
    assert status == INVALID, f"ld4mrec_{function}: status {status}: {last_error()}"
    message = last_error()
    assert message and word in message, f"ld4mrec_{function}: {message!r} does not name {word!r}"
    assert raw.untouched(), f"ld4mrec_{function} modified an output on failure"


def test_every_pointer_taking_function_is_covered():
    header = (support.ROOT / "Include" / "ld4mrec.h").read_text()
    import re

    taking = set()
    for name, arguments in re.findall(r"LD4MREC_API[^;]*?\b(ld4mrec_\w+)\s*\(([^)]*)\)", header, re.S):
        if "*" in arguments:
            taking.add(name)
    covered = {"ld4mrec_" + f for f, _, _ in INVALID_CALLS}
    no_status = {"ld4mrec_model_free", "ld4mrec_store_free", "ld4mrec_model_n_items",
                 "ld4mrec_model_modality_name", "ld4mrec_store_n_users"}  # tested below
    assert taking - no_status == covered


def test_functions_without_a_status_accept_null(raw):
    assert C.ld4mrec_model_n_items(None) == 0
    assert C.ld4mrec_store_n_users(None) == 0
    assert C.ld4mrec_model_modality_name(None, 0) is None
    assert C.ld4mrec_model_modality_name(raw.m, 2) is None
    assert C.ld4mrec_model_modality_name(raw.m, -1) is None
    assert C.ld4mrec_model_modality_name(raw.m, 2 ** 31 - 1) is None
    assert C.ld4mrec_model_modality_name(raw.m, 1) == b"audio"
    C.ld4mrec_model_free(None)
    C.ld4mrec_store_free(None)


def test_optional_pointers_may_be_null(raw, tmp_path):
    assert C.ld4mrec_model_item_ids(raw.m, raw.out_ids_p, 400, None) == OK
    assert C.ld4mrec_store_add(raw.s, 500, raw.ids_p, 3, None) == OK
    assert C.ld4mrec_store_add(raw.s, 500, None, 0, None) == OK
    assert C.ld4mrec_store_remove(raw.s, 500, raw.ids_p, 1, None) == OK
    assert C.ld4mrec_store_replace(raw.s, 777, None, 0, None) == OK
    assert C.ld4mrec_store_clear_user(raw.s, 777, None) == OK
    # An empty history: capacity 0 and no buffer ask for (and get) the length 0.
    assert C.ld4mrec_store_replace(raw.s, 778, None, 0, None) == OK
    assert C.ld4mrec_store_get_history(raw.s, 778, None, 0, byref(raw.count)) == OK and raw.count.value == 0
    assert C.ld4mrec_recommend_user(raw.m, raw.s, 500, 5, None, raw.out_ids_p, None, 5, byref(raw.count)) == OK
    assert C.ld4mrec_recommend_history(raw.m, None, 0, None, 5, None, raw.out_ids_p, None, 5,
                                       byref(raw.count), None) == OK
    assert C.ld4mrec_recommend_users(raw.m, raw.s, raw.ids_p, 1, 5, None, raw.out_ids_p, None, 5, None) == OK
    assert C.ld4mrec_score_user(raw.m, raw.s, 500, None, 0, None, None) == OK
    assert C.ld4mrec_score_history(raw.m, None, 0, None, None, 0, None, None, None) == OK
    assert C.ld4mrec_score_all_history(raw.m, None, 0, None, raw.out_scores_p, 300, None) == OK
    store_path = os.fsencode(tmp_path / "store.h5")
    assert C.ld4mrec_store_save(raw.s, store_path) == OK
    assert C.ld4mrec_store_load(raw.m, store_path, byref(raw.out_store), None) == OK
    assert C.ld4mrec_store_n_users(raw.out_store) == C.ld4mrec_store_n_users(raw.s)
    assert C.ld4mrec_store_set_model(raw.out_store, raw.m, None) == OK
    C.ld4mrec_store_free(raw.out_store)


def test_store_of_another_catalogue_is_served(make_model, raw):
    """Since 0.2.0 any model serves any store (0.1.0 refused one of another catalogue):
    the history items it does not know are skipped, as in the stateless call."""
    with ld4mrec.Model(make_model(items=200)) as other:
        history = np.empty(400, dtype=np.int64)
        assert C.ld4mrec_store_get_history(raw.s, 500, history.ctypes.data_as(C.int64_p), 400,
                                           byref(raw.count)) == OK
        history = history[:raw.count.value]
        assert (history >= 1000 + 7 * 200).any()   # some items the other model does not know
        status = C.ld4mrec_recommend_user(other._handle, raw.s, 500, 5, None, raw.out_ids_p,
                                          raw.out_scores_p, 400, byref(raw.count))
        assert status == OK and raw.count.value == 5
        want, _ = other.recommend_history(history, k=5, user=500)
        np.testing.assert_array_equal(raw.out_ids[:5], want)


# ---- k ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, -(2 ** 31), -(10 ** 12)])
def test_k_below_one(model, store, k):
    for call in (lambda: model.recommend_history([1000], k=k), lambda: store.recommend_user(500, k=k),
                 lambda: store.recommend_users([500, 503], k=k)):
        with pytest.raises(ld4mrec.InvalidArgumentError) as caught:
            call()
        assert caught.value.status == INVALID
        assert "k must be at least 1" in caught.value.message


@pytest.mark.parametrize("k", [299, 300, 301, 10 ** 6, 2 ** 31 - 1, 10 ** 12])
def test_huge_k_returns_every_candidate(model, store, k):
    history = [1000, 1007, 1014]
    items, scores = model.recommend_history(history, k=k)
    assert len(items) == min(k, 297) and not set(items.tolist()) & set(history)
    assert np.all(np.diff(scores) <= 0)
    items, scores = model.recommend_history(history, k=k, exclude_history=False)
    assert len(items) == min(k, 300)
    store.replace(42, history)
    items, scores, counts = store.recommend_users([42, 43], k=k)
    assert items.shape == (2, min(k, 300))
    assert counts.tolist() == [min(k, 297), min(k, 300)]
    assert (items[0, counts[0]:] == -1).all()


def test_k_int32_max_through_the_raw_layer(raw):
    status = C.ld4mrec_recommend_history(raw.m, raw.ids_p, 3, None, 2 ** 31 - 1, None, raw.out_ids_p,
                                         raw.out_scores_p, 400, byref(raw.count), byref(raw.extra))
    assert status == OK and raw.count.value == 297 and raw.extra.value == 0


# ---- too-small buffers --------------------------------------------------------------------


def test_buffer_too_small(raw, store):
    history_length = len(store.history(500))
    only = np.array([1000, 1007, 1014, 1021], dtype=np.int64)
    params = raw.params_with(only_items=only.ctypes.data_as(C.int64_p), n_only_items=4,
                             exclude_history=False)
    cases = [
        # (name, call, required count or None when the function reports none)
        ("model_item_ids", lambda: C.ld4mrec_model_item_ids(raw.m, raw.out_ids_p, 299, byref(raw.count)), 300),
        ("model_item_ids capacity 0", lambda: C.ld4mrec_model_item_ids(raw.m, raw.out_ids_p, 0, byref(raw.count)),
         300),
        ("store_get_history", lambda: C.ld4mrec_store_get_history(
            raw.s, 500, raw.out_ids_p, history_length - 1, byref(raw.count)), history_length),
        ("store_get_history query", lambda: C.ld4mrec_store_get_history(raw.s, 500, None, 0, byref(raw.count)),
         history_length),
        ("store_user_ids", lambda: C.ld4mrec_store_user_ids(raw.s, raw.out_ids_p, 59, byref(raw.count)), 60),
        ("recommend_user", lambda: C.ld4mrec_recommend_user(
            raw.m, raw.s, 500, 10, None, raw.out_ids_p, raw.out_scores_p, 9, byref(raw.count)), 10),
        ("recommend_user few candidates", lambda: C.ld4mrec_recommend_user(
            raw.m, raw.s, 500, 10, params, raw.out_ids_p, raw.out_scores_p, 3, byref(raw.count)), 4),
        ("recommend_history", lambda: C.ld4mrec_recommend_history(
            raw.m, raw.ids_p, 3, None, 10, None, raw.out_ids_p, raw.out_scores_p, 0, byref(raw.count),
            byref(raw.extra)), 10),
        ("recommend_users", lambda: C.ld4mrec_recommend_users(
            raw.m, raw.s, raw.ids_p, 3, 5, None, raw.out_ids_p, raw.out_scores_p, 14,
            raw.out_ids[300:].ctypes.data_as(C.size_t_p)), None),
        ("score_all_users", lambda: C.ld4mrec_score_all_users(
            raw.m, raw.s, raw.ids_p, 2, raw.out_scores_p, 599), None),
        ("score_all_history", lambda: C.ld4mrec_score_all_history(
            raw.m, raw.ids_p, 3, None, raw.out_scores_p, 299, byref(raw.extra)), None),
    ]
    for name, call, required in cases:
        raw.count.value = 12345
        status = call()
        message = last_error()
        assert status == SMALL, f"{name}: status {status}: {message}"
        assert "capacity" in message or "holds" in message, f"{name}: {message!r}"
        if required is not None:
            assert raw.count.value == required, f"{name}: reported {raw.count.value}, needs {required}"
            assert str(required) in message
            raw.count.value = 12345
        assert raw.untouched(), f"{name}: an output was modified"

    # The public layer carries the reported count.
    status = C.ld4mrec_model_item_ids(raw.m, raw.out_ids_p, 10, byref(raw.count))
    with pytest.raises(ld4mrec.BufferTooSmallError) as caught:
        ld4mrec._check(status, required=raw.count.value)
    assert caught.value.status == SMALL and caught.value.required == 300


# ---- unknown users and unknown items -------------------------------------------------------


def test_unknown_user(model, store):
    for call in (lambda: store.history(424242), lambda: store.remove(424242, [1000])):
        with pytest.raises(ld4mrec.UnknownUserError) as caught:
            call()
        assert caught.value.status == UNKNOWN_USER and "424242" in caught.value.message
    assert store.clear_user(424242) is False
    # Recommending for a user absent from the store is not an error: an empty history.
    items, scores = store.recommend_user(424242, k=10)
    want_items, want_scores = model.recommend_history([], k=10, user=424242)
    np.testing.assert_array_equal(items, want_items)
    np.testing.assert_array_equal(scores, want_scores)


def test_unknown_items_are_counted_kept_and_skipped(model, store, tmp_path):
    """Ids the model does not know: a store counts and keeps them (since 0.2.0: a later
    model may know them; 0.1.0 dropped them), scoring skips them."""
    unknown = [-1, 1001, 10 ** 15]
    assert store.add(7, [1000, -1, 1007, 1001, 1000, 10 ** 15]) == 3
    np.testing.assert_array_equal(store.history(7), [-1, 1000, 1001, 1007, 10 ** 15])
    assert store.add(7, unknown) == 3
    assert store.replace(7, [1014, 1001]) == 1
    np.testing.assert_array_equal(store.history(7), [1001, 1014])
    assert store.remove(7, [1001, 1000]) == 1
    assert store.remove(7, [1014, 1014, -1]) == 1
    assert store.history(7).size == 0 and 7 in store.user_ids()
    store.replace(8, [1000] + unknown)
    np.testing.assert_array_equal(store.recommend_user(8, k=5)[0], model.recommend_history([1000], k=5)[0])
    np.testing.assert_array_equal(store.score_user(8, [1007, 1001]), model.score_history([1000], [1007, 1001]))

    items, scores, skipped = model.recommend_history([1000] + unknown, k=5, return_counts=True)
    assert skipped == 3
    np.testing.assert_array_equal(items, model.recommend_history([1000], k=5)[0])
    scores, unknown_count, skipped = model.score_history([1000, -1], [1007, 1001, 1014], return_counts=True)
    assert (unknown_count, skipped) == (1, 1) and np.isneginf(scores[1])
    _, skipped = model.score_all_history(unknown, return_counts=True)
    assert skipped == 3


# ---- store files ---------------------------------------------------------------------------


def write_store_file(path, users, offsets, items, fmt="ld4mrec-store", version=1, dtypes=None):
    dtypes = dtypes or {}
    with h5py.File(path, "w") as f:
        if fmt is not None:
            f.attrs["format"] = fmt
        if version is not None:
            f.attrs["format_version"] = version
        for name, data in (("users", users), ("offsets", offsets), ("items", items)):
            if data is not None:
                f.create_dataset(name, data=np.asarray(data, dtype=dtypes.get(name, np.int64)))
    return path


GOOD = ([5, 9], [0, 2, 3], [1000, 1007, 1014])
BROKEN_STORES = {
    "format_version 2": (dict(version=2), VERSION, ["version", "not supported"]),
    "no format": (dict(fmt=None), BAD_FILE, ["format"]),
    "model format": (dict(fmt="ld4mrec-model"), BAD_FILE, ["format", "ld4mrec-model"]),
    "no format_version": (dict(version=None), BAD_FILE, ["format_version"]),
    "offsets too short": (dict(offsets=[0, 3]), BAD_FILE, ["/offsets"]),
    "offsets past the end": (dict(offsets=[0, 2, 4]), BAD_FILE, ["/offsets"]),
    "offsets decrease": (dict(offsets=[0, 3, 2], items=[1000, 1007]), BAD_FILE, ["/offsets"]),
    "duplicate users": (dict(users=[5, 5]), BAD_FILE, ["/users", "more than once"]),
    "float items": (dict(items_dtype=np.float64), BAD_FILE, ["/items", "int64"]),
    "missing users": (dict(users=None), BAD_FILE, ["/users", "missing"]),
}


@pytest.mark.parametrize("name", list(BROKEN_STORES))
def test_broken_store_file(tmp_path, model, name):
    changes, status, words = BROKEN_STORES[name]
    users, offsets, items = GOOD
    changes = dict(changes)
    dtypes = {"items": changes.pop("items_dtype")} if "items_dtype" in changes else {}
    arguments = dict(users=users, offsets=offsets, items=items)
    arguments.update(changes)
    path = write_store_file(tmp_path / "store.h5", **arguments, dtypes=dtypes)
    with pytest.raises(ld4mrec.LD4MRecError) as caught:
        ld4mrec.Store.load(model, path)
    assert caught.value.status == status, repr(caught.value)
    for word in words:
        assert word in caught.value.message, f"{word!r} not in {caught.value.message!r}"


def test_store_file_that_is_not_a_store(tmp_path, model, model_path):
    cases = [(tmp_path / "absent.h5", IO, "No such file"), (model_path, BAD_FILE, "ld4mrec-model")]
    (tmp_path / "empty.h5").write_bytes(b"")
    (tmp_path / "random.h5").write_bytes(os.urandom(3000))
    cases += [(tmp_path / "empty.h5", BAD_FILE, "HDF5"), (tmp_path / "random.h5", BAD_FILE, "HDF5"),
              (tmp_path, IO, "not a regular file")]
    for path, status, word in cases:
        with pytest.raises(ld4mrec.LD4MRecError) as caught:
            ld4mrec.Store.load(model, path)
        assert caught.value.status == status and word in caught.value.message, repr(caught.value)


def test_good_handwritten_store_file(tmp_path, model):
    path = write_store_file(tmp_path / "store.h5", [9, 5], [0, 3, 4], [1014, 1000, 1000, 1001])
    store = ld4mrec.Store.load(model, path)
    assert store.skipped == 1                                   # 1001, kept
    np.testing.assert_array_equal(store.user_ids(), [5, 9])
    np.testing.assert_array_equal(store.history(9), [1000, 1014])
    np.testing.assert_array_equal(store.history(5), [1001])


# ---- the last error is per thread ------------------------------------------------------------


def test_last_error_is_per_thread(raw, tmp_path):
    barrier = threading.Barrier(3)
    seen = {}

    def fail_loading():
        missing = str(tmp_path / "thread-a-missing.h5").encode()
        status = C.ld4mrec_model_load(missing, byref(C.ld4mrec_model_p()))
        barrier.wait()  # both threads have failed before either reads its message
        barrier.wait()  # ... and the main thread failed too
        seen["a"] = (status, last_error())

    def fail_recommending():
        items = np.empty(5, dtype=np.int64)
        count = c_size_t()
        status = C.ld4mrec_recommend_history(raw.m, None, 0, None, -7, None, items.ctypes.data_as(C.int64_p),
                                             None, 5, byref(count), None)
        barrier.wait()
        barrier.wait()
        seen["b"] = (status, last_error())

    def never_failed():
        seen["c"] = last_error()

    threads = [threading.Thread(target=fail_loading), threading.Thread(target=fail_recommending)]
    for thread in threads:
        thread.start()
    barrier.wait()
    status = C.ld4mrec_store_get_history(raw.s, 31337, None, 0, byref(c_size_t()))
    barrier.wait()
    for thread in threads:
        thread.join()
    fresh = threading.Thread(target=never_failed)
    fresh.start()
    fresh.join()

    assert seen["a"][0] == IO and "thread-a-missing.h5" in seen["a"][1]
    assert seen["b"][0] == INVALID and "k must be at least 1, got -7" in seen["b"][1]
    assert status == UNKNOWN_USER and "31337" in last_error()
    assert seen["c"] == ""


def test_last_error_survives_successful_calls(raw):
    assert C.ld4mrec_store_get_history(raw.s, 999, None, 0, byref(c_size_t())) == UNKNOWN_USER
    message = last_error()
    assert C.ld4mrec_model_item_ids(raw.m, raw.out_ids_p, 400, None) == OK
    assert last_error() == message  # valid until the next *failing* call


def test_exceptions_carry_their_own_thread_message(model):
    errors = {}

    def worker(name, call):
        try:
            call()
        except ld4mrec.LD4MRecError as error:
            errors[name] = error

    threads = [threading.Thread(target=worker, args=(f"k{i}", lambda i=i: model.recommend_history([], k=-i)))
               for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(1, 9):
        assert errors[f"k{i}"].message == f"k must be at least 1, got {-i}"


def test_bool_outputs(store):
    existed = c_bool(True)
    assert C.ld4mrec_store_clear_user(store._handle, 88_888, byref(existed)) == OK and existed.value is False
    store.add(88_888, [1000])
    assert store.clear_user(88_888) is True
