"""The Python binding's surface: loader, versions, Model and Store basics, conversions."""

import gc
import subprocess
import types

import numpy as np
import pytest

import support

ld4mrec = support.import_ld4mrec()
from ld4mrec import _capi  # noqa: E402


# ---- loader and versions ------------------------------------------------------------


def header_macros():
    """The integer and string macros of Include/ld4mrec.h."""
    import re

    text = (support.ROOT / "Include" / "ld4mrec.h").read_text()
    return {name: value.strip('"') for name, value in re.findall(r"#define (LD4MREC_\w+) (\d+|\"[^\"]*\")", text)}


def test_versions_match_the_header():
    macros = header_macros()
    major, minor, patch = (int(macros[f"LD4MREC_VERSION_{part}"]) for part in ("MAJOR", "MINOR", "PATCH"))
    assert ld4mrec.version() == _capi.LD4MREC_VERSION_STRING == macros["LD4MREC_VERSION_STRING"] == f"{major}.{minor}.{patch}"
    assert ld4mrec.version_number() == _capi.LD4MREC_VERSION_NUMBER == major * 10000 + minor * 100 + patch
    assert ld4mrec.abi_version() == _capi.LD4MREC_ABI_VERSION == int(macros["LD4MREC_ABI_VERSION"])


def test_thread_setting():
    cores = ld4mrec.get_num_threads()
    assert cores >= 1
    try:
        ld4mrec.set_num_threads(1)
        assert ld4mrec.get_num_threads() == 1
        with pytest.raises(ld4mrec.InvalidArgumentError, match="number of threads"):
            ld4mrec.set_num_threads(-1)
        assert ld4mrec.get_num_threads() == 1
    finally:
        ld4mrec.set_num_threads(0)
    assert ld4mrec.get_num_threads() == cores


def test_status_strings():
    expected = {0: "ok", 1: "invalid argument", 2: "buffer too small", 3: "input/output error",
                4: "invalid file", 5: "unsupported format version", 6: "unknown user",
                7: "out of memory", 8: "internal error"}
    for status, text in expected.items():
        assert ld4mrec.status_string(status) == text
    for unknown in (-1, 9, 2 ** 31 - 1):
        assert ld4mrec.status_string(unknown) == "unknown status code"


def _stub_library(abi, number):
    return types.SimpleNamespace(ld4mrec_abi_version=lambda: abi,
                                 ld4mrec_version_number=lambda: number)


CURRENT = _capi.LD4MREC_VERSION_NUMBER  # 0.2.0 is 200


def test_check_version_accepts_the_same_or_a_newer_minor():
    _capi.check_version(_stub_library(1, CURRENT))
    _capi.check_version(_stub_library(1, CURRENT + 105))


@pytest.mark.parametrize("abi, number, words", [
    (2, CURRENT, "ABI version 2"),
    (0, CURRENT, "ABI version 0"),
    (1, CURRENT - 100, "is version 0.1.0"),  # an older minor lacks what the binding declares
    (1, 10100, "version 1.1.0"),
])
def test_check_version_refuses_mismatches(abi, number, words):
    with pytest.raises(ImportError, match=words):
        _capi.check_version(_stub_library(abi, number))


def _import_in_child(library):
    env = support.python_env()
    env[_capi.LIBRARY_ENV] = str(library)
    return subprocess.run([support.PYTHON, "-c", "import ld4mrec; print(ld4mrec.library_path)"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_loader_honours_the_environment_variable():
    library = support.ROOT / "dist" / "lib" / "libld4mrec.so.1"
    if not library.exists():
        pytest.skip(f"{library} is missing: run `make lib`")
    result = _import_in_child(library)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(library)


def test_loader_fails_clearly(tmp_path):
    result = _import_in_child(tmp_path / "nowhere" / "libld4mrec.so")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "LD4MREC_LIBRARY" in result.stderr and "make lib" in result.stderr
    assert "nowhere" in result.stderr

    not_a_library = tmp_path / "libld4mrec.so"
    not_a_library.write_text("not an ELF file")
    result = _import_in_child(not_a_library)
    assert result.returncode != 0 and "cannot load the native library" in result.stderr


def test_every_header_function_is_declared():
    header = (support.ROOT / "Include" / "ld4mrec.h").read_text()
    import re

    declared = set(re.findall(r"LD4MREC_API\s+[\w\s\*]+?\b(ld4mrec_\w+)\s*\(", header))
    assert len(declared) == header.count("\nLD4MREC_API ")
    bound = {name for name in _capi.__all__ if name.startswith("ld4mrec_") and callable(getattr(_capi, name))
             and hasattr(getattr(_capi, name), "argtypes")}
    assert bound == declared
    for name in declared:
        assert getattr(_capi, name).argtypes is not None, name


# ---- Model ---------------------------------------------------------------------------


def test_model_properties(model):
    assert model.n_items == 300
    info = model.info
    assert (info.format_version, info.n_items, info.n_users, info.n_history_users) == (1, 300, 60, 60)
    assert (info.hidden_size, info.svd_rank, info.step_embedding_size, info.n_blocks,
            info.film_hidden_size, info.n_modalities, info.n_steps) == (32, 8, 10, 2, 16, 2, 5)
    assert model.modality_names == ("image", "audio")
    ids = model.item_ids()
    assert ids.dtype == np.int64 and ids.shape == (300,)
    np.testing.assert_array_equal(ids, 1000 + 7 * np.arange(300))
    with pytest.raises(ValueError):
        ids[0] = 5  # read-only: the catalogue cannot be changed through it


def test_model_without_modalities(make_model):
    with ld4mrec.Model(make_model(modalities="")) as model:
        assert model.modality_names == ()
        assert model.info.n_modalities == 0


def test_model_accepts_path_objects_and_bytes(model_path):
    with ld4mrec.Model(bytes(model_path)) as a, ld4mrec.Model(str(model_path)) as b:
        assert a.n_items == b.n_items == 300
    with pytest.raises(ValueError, match="NUL"):
        ld4mrec.Model(str(model_path) + "\0junk")


def test_close_and_context_manager(model_path):
    with ld4mrec.Model(model_path) as model:
        assert not model.closed
    assert model.closed
    model.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        model.recommend_history([1000])
    with pytest.raises(ValueError, match="closed"):
        ld4mrec.Store(model)
    assert "closed" in repr(model)
    del model
    gc.collect()


def test_del_frees_without_close(model_path):
    for _ in range(20):
        model = ld4mrec.Model(model_path)
        store = ld4mrec.Store.from_model(model)
        del model, store
    gc.collect()


def test_store_keeps_its_model_alive(model_path):
    store = ld4mrec.Store.from_model(ld4mrec.Model(model_path))  # no other reference
    gc.collect()
    items, scores = store.recommend_user(500, k=5)
    assert items.shape == (5,)
    assert store.model.n_items == 300
    store.close()
    assert store.closed
    with pytest.raises(ValueError, match="closed"):
        store.history(500)


def test_store_of_a_closed_model_says_so(model_path):
    model = ld4mrec.Model(model_path)
    store = ld4mrec.Store.from_model(model)
    model.close()
    store.add(500, [1000])  # updates need only the store
    with pytest.raises(ValueError, match="model is closed"):
        store.recommend_user(500)


# ---- conversions ---------------------------------------------------------------------


def test_ids_of_the_right_kind_are_not_copied():
    ids = np.arange(5, dtype=np.int64)
    assert ld4mrec._ids(ids, "x") is ids
    strided = np.arange(10, dtype=np.int64)[::2]
    converted = ld4mrec._ids(strided, "x")
    assert converted.flags.c_contiguous and converted.tolist() == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("history", [
    [1000, 1007, 1014],
    (1000, 1007, 1014),
    np.array([1000, 1007, 1014], dtype=np.int32),
    np.array([1000, 1007, 1014], dtype=np.uint16),
    np.array([1000, 0, 1007, 0, 1014], dtype=np.int64)[::2],
    range(1000, 1015, 7),
])
def test_history_containers(model, history):
    expected = model.score_all_history(np.array([1000, 1007, 1014], dtype=np.int64))
    np.testing.assert_array_equal(model.score_all_history(history), expected)


def test_empty_containers(model):
    for empty in ([], (), np.array([]), np.empty(0, dtype=np.int64)):
        np.testing.assert_array_equal(model.score_all_history(empty), model.score_all_history([]))


def test_bad_containers(model):
    with pytest.raises(TypeError, match="integer"):
        model.score_all_history([1000.0, 1007.5])
    with pytest.raises(TypeError, match="integer"):
        model.recommend_history(["1000"])
    with pytest.raises(ValueError, match="one-dimensional"):
        model.score_all_history([[1000, 1007]])


def test_result_types(model, store):
    items, scores = model.recommend_history([1000], k=7)
    assert items.dtype == np.int64 and scores.dtype == np.float32 and len(items) == 7
    assert model.score_history([1000], [1007]).dtype == np.float32
    assert model.score_all_history([1000]).shape == (300,)
    assert store.history(500).dtype == np.int64
    assert store.user_ids().dtype == np.int64
    items, scores, counts = store.recommend_users([500, 503], k=4)
    assert items.shape == scores.shape == (2, 4) and counts.tolist() == [4, 4]
    assert store.score_all_users([500, 503]).shape == (2, 300)
    assert len(store) == store.n_users == 60


def test_error_classes():
    assert issubclass(ld4mrec.InvalidArgumentError, ValueError)
    assert issubclass(ld4mrec.FileIOError, OSError)
    assert issubclass(ld4mrec.UnknownUserError, LookupError)
    for cls in (ld4mrec.InvalidArgumentError, ld4mrec.BufferTooSmallError, ld4mrec.FileIOError,
                ld4mrec.InvalidFileError, ld4mrec.UnsupportedVersionError,
                ld4mrec.UnknownUserError, ld4mrec.OutOfMemoryError, ld4mrec.InternalError):
        assert issubclass(cls, ld4mrec.LD4MRecError)
    error = ld4mrec.InvalidFileError(4, "bad file")
    assert error.status == 4 and str(error) == "bad file" and error.status_name == "invalid file"


def test_ids_outside_int64_are_refused(model, store):
    for user in (2 ** 63, 2 ** 64 + 500, -(2 ** 63) - 1):
        with pytest.raises(OverflowError, match="int64"):
            model.recommend_history([], user=user)
        with pytest.raises(OverflowError, match="int64"):
            store.add(user, [1000])
        with pytest.raises(OverflowError, match="int64"):
            store.recommend_user(user)
    assert 0 not in store.user_ids() and store.n_users == 60
    store.add(2 ** 63 - 1, [1000])
    store.add(-(2 ** 63), [1007])
    np.testing.assert_array_equal(store.history(-(2 ** 63)), [1007])


# ---- struct_size: callers compiled against older, smaller structs ------------------------


def test_params_struct_of_an_older_caller(model):
    """A 0.1.0 caller's ld4mrec_recommend_params ends before n_threads: the library reads
    only the fields its struct_size covers. Through dlsym (ctypes) the by-value default
    is the newest layout."""
    import ctypes

    defaults = _capi.ld4mrec_recommend_params_default()
    assert defaults.struct_size == ctypes.sizeof(_capi.ld4mrec_recommend_params) == 56

    class ParamsV010(ctypes.Structure):
        _fields_ = _capi.ld4mrec_recommend_params._fields_[:-1]   # n_threads came in 0.2.0

    assert ctypes.sizeof(ParamsV010) == 48
    expected, _ = model.recommend_history([1000, 1007], k=8, excluded_items=[1014])
    excluded = np.array([1014], dtype=np.int64)
    old = ParamsV010(struct_size=48, exclude_history=True,
                     excluded_items=excluded.ctypes.data_as(_capi.int64_p), n_excluded_items=1)
    history = np.array([1000, 1007], dtype=np.int64)
    items = np.empty(8, dtype=np.int64)
    count = ctypes.c_size_t()
    status = _capi.ld4mrec_recommend_history(
        model._handle, history.ctypes.data_as(_capi.int64_p), 2, None, 8,
        ctypes.cast(ctypes.pointer(old), ctypes.POINTER(_capi.ld4mrec_recommend_params)),
        items.ctypes.data_as(_capi.int64_p), None, 8, ctypes.byref(count), None)
    assert status == _capi.LD4MREC_OK and count.value == 8
    np.testing.assert_array_equal(items, expected)
    old.struct_size = 40                                          # cut below 0.1.0's
    status = _capi.ld4mrec_recommend_history(
        model._handle, None, 0, None, 8,
        ctypes.cast(ctypes.pointer(old), ctypes.POINTER(_capi.ld4mrec_recommend_params)),
        items.ctypes.data_as(_capi.int64_p), None, 8, ctypes.byref(count), None)
    assert status == _capi.LD4MREC_ERR_INVALID_ARGUMENT
