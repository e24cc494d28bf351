"""Python binding of libld4mrec: serving LD4MRec recommendation models.

    import ld4mrec

    with ld4mrec.Model("model.h5") as model:
        store = ld4mrec.Store.from_model(model)          # the file's training histories
        store.add(user_id, [17, 42])                     # histories change, no retraining
        items, scores = store.recommend_user(user_id, k=20)
        items, scores = model.recommend_history([17, 42], k=20)  # stateless: a history you keep

Every call goes to the C library (Include/ld4mrec.h); this module only converts
arguments and results. Ids are int64; numpy arrays of int64 are passed without copies,
other sequences are converted once. Results are new numpy arrays (item ids int64,
scores float32) that the library fills in place.

Errors raise LD4MRecError (or a subclass per status code) carrying ``.status`` and the
library's message for the calling thread.

Training in PyTorch (distributed, exporting model files): the optional subpackage
``ld4mrec.torch`` (``pip install ld4mrec[torch]``); this module does not need torch.

Threads: a Model is immutable and a Store is safe for concurrent readers and writers, so
both may be shared between threads; the library releases the GIL during calls (ctypes).
``close()`` is safe while other threads use the object: calls already running finish
with it, and the library handle is freed when the last of them returns; calls made
after close() raise ValueError.

Swapping in a retrained model while other threads serve requests: a Store keeps item
ids, not rows of a model, so any model serves it and no history item is lost::

    new = ld4mrec.Model("retrained.h5")
    unknown = store.set_model(new)   # store.recommend_* use `new` from now on
    old.close()                      # freed once the calls still using it return

Items the new model does not know stay in the store (``unknown`` counts them) and are
served again by a later model that knows them.
"""

import ctypes
import os
import threading
from ctypes import byref, c_bool, c_int64, c_size_t
from dataclasses import dataclass

import numpy as np

from . import _capi

__all__ = [
    "Model", "ModelInfo", "Store",
    "LD4MRecError", "InvalidArgumentError", "BufferTooSmallError", "FileIOError",
    "InvalidFileError", "UnsupportedVersionError", "UnknownUserError", "OutOfMemoryError",
    "InternalError",
    "version", "version_number", "abi_version", "status_string", "library_path",
    "set_num_threads", "get_num_threads",
]

library_path = _capi.library_path

# ------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------


class LD4MRecError(Exception):
    """A failing library call: ``status`` is the LD4MREC_ERR_* code, ``message`` the
    library's text (``str(error)`` is the message)."""

    status = None

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def status_name(self):
        """Static text naming the status ("invalid argument", ...)."""
        return status_string(self.status)

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class InvalidArgumentError(LD4MRecError, ValueError):
    """LD4MREC_ERR_INVALID_ARGUMENT: NULL pointer, k < 1, bad params, ..."""


class BufferTooSmallError(LD4MRecError):
    """LD4MREC_ERR_BUFFER_TOO_SMALL; ``required`` is the element count the library
    reported, if the function reports one."""

    def __init__(self, status, message, required=None):
        super().__init__(status, message)
        self.required = required


class FileIOError(LD4MRecError, OSError):
    """LD4MREC_ERR_IO: a file could not be opened, read or written."""

    def __init__(self, status, message):
        LD4MRecError.__init__(self, status, message)


class InvalidFileError(LD4MRecError):
    """LD4MREC_ERR_INVALID_FILE: not a valid model or store file."""


class UnsupportedVersionError(LD4MRecError):
    """LD4MREC_ERR_UNSUPPORTED_VERSION: a file format version the library cannot read."""


class UnknownUserError(LD4MRecError, LookupError):
    """LD4MREC_ERR_UNKNOWN_USER: the store holds no history for this user."""


class OutOfMemoryError(LD4MRecError, MemoryError):
    """LD4MREC_ERR_OUT_OF_MEMORY: a request too large to allocate."""


class InternalError(LD4MRecError):
    """LD4MREC_ERR_INTERNAL: a bug in the library."""


_ERRORS = {
    _capi.LD4MREC_ERR_INVALID_ARGUMENT: InvalidArgumentError,
    _capi.LD4MREC_ERR_BUFFER_TOO_SMALL: BufferTooSmallError,
    _capi.LD4MREC_ERR_IO: FileIOError,
    _capi.LD4MREC_ERR_INVALID_FILE: InvalidFileError,
    _capi.LD4MREC_ERR_UNSUPPORTED_VERSION: UnsupportedVersionError,
    _capi.LD4MREC_ERR_UNKNOWN_USER: UnknownUserError,
    _capi.LD4MREC_ERR_OUT_OF_MEMORY: OutOfMemoryError,
    _capi.LD4MREC_ERR_INTERNAL: InternalError,
}


def _text(raw):
    return raw.decode("utf-8", errors="replace") if raw is not None else ""


def _error(status, required=None):
    """The exception for a failing status, with the calling thread's last error."""
    message = _text(_capi.ld4mrec_last_error()) or status_string(status)
    cls = _ERRORS.get(status, LD4MRecError)
    if cls is BufferTooSmallError:
        return cls(status, message, required)
    return cls(status, message)


def _check(status, required=None):
    """Raises the matching LD4MRecError unless status is LD4MREC_OK. Must run on the
    thread that made the call (the last error is per thread): ctypes calls do."""
    if status != _capi.LD4MREC_OK:
        raise _error(status, required() if callable(required) else required)


# ------------------------------------------------------------------------------------
# Versions
# ------------------------------------------------------------------------------------


def version():
    """The library's version text, e.g. "0.1.0"."""
    return _text(_capi.ld4mrec_version_string())


def version_number():
    """The library's LD4MREC_VERSION_NUMBER (major * 10000 + minor * 100 + patch)."""
    return _capi.ld4mrec_version_number()


def abi_version():
    """The library's ABI version (the SONAME suffix)."""
    return _capi.ld4mrec_abi_version()


def set_num_threads(n):
    """Sets how many threads a call may use by default: n >= 1, or 0 for one per core
    (the initial setting). Many Python threads calling at once: set 1."""
    _check(_capi.ld4mrec_set_num_threads(_int32(n, "n")))


def get_num_threads():
    """The default thread count of calls (0 resolved to the number of cores)."""
    return _capi.ld4mrec_get_num_threads()


def status_string(status):
    """Static text naming a status code."""
    return _text(_capi.ld4mrec_status_string(status))


# ------------------------------------------------------------------------------------
# Argument conversion (no copies for int64 C-contiguous arrays)
# ------------------------------------------------------------------------------------

_INT32_MIN, _INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_NULL_INT64 = ctypes.POINTER(c_int64)()
_NULL_FLOAT = ctypes.POINTER(ctypes.c_float)()
_NULL_SIZE = ctypes.POINTER(c_size_t)()
# A valid pointer for empty arrays whose pointer must not be NULL (params->only_items).
_EMPTY_IDS = np.zeros(1, dtype=np.int64)


def _ids(values, name):
    """A 1-D C-contiguous int64 array of ids (the input itself when it already is one)."""
    array = np.asarray(values)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer ids, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.int64)


def _int64_p(array):
    return array.ctypes.data_as(_capi.int64_p)


def _float_p(array):
    return array.ctypes.data_as(_capi.float_p)


def _size_p(array):
    return array.ctypes.data_as(_capi.size_t_p)


def _int64(value, name="user"):
    """An id as int64_t; ctypes would silently wrap larger values around."""
    value = int(value)
    if not -(2 ** 63) <= value < 2 ** 63:
        raise OverflowError(f"{name} id {value} does not fit in int64")
    return value


def _user_p(user):
    """const int64_t *user_id: NULL for None."""
    return _NULL_INT64 if user is None else byref(c_int64(_int64(user)))


def _int32(value, name):
    """A value as int32_t; ctypes would silently wrap larger values around."""
    value = int(value)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise OverflowError(f"{name} {value} does not fit in int32")
    return value


def _k(k):
    """k as int32_t. A larger k means the same as INT32_MAX (the library returns at most
    every candidate); below INT32_MIN the library rejects it as it does any k < 1."""
    k = int(k)
    return min(max(k, _INT32_MIN), _INT32_MAX)


def _params(exclude_history, only_items, excluded_items, n_threads=0):
    """(params, arrays to keep alive during the call)."""
    params = _capi.ld4mrec_recommend_params_default()
    params.exclude_history = bool(exclude_history)
    params.n_threads = _int32(n_threads, "n_threads")
    keep = []
    if only_items is not None:
        only = _ids(only_items, "only_items")
        keep.append(only)
        params.only_items = _int64_p(only if only.size else _EMPTY_IDS)
        params.n_only_items = only.size
    if excluded_items is not None:
        excluded = _ids(excluded_items, "excluded_items")
        keep.append(excluded)
        params.excluded_items = _int64_p(excluded)
        params.n_excluded_items = excluded.size
    return params, keep


def _path(path):
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("path must not contain NUL characters")
    return raw


# ------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------


_PRECISIONS = {"float32": _capi.LD4MREC_PRECISION_FLOAT32, "bfloat16": _capi.LD4MREC_PRECISION_BFLOAT16,
               "float32_unscreened": _capi.LD4MREC_PRECISION_FLOAT32_UNSCREENED}


@dataclass(frozen=True)
class ModelInfo:
    """Sizes and hyperparameters of a loaded model (ld4mrec_model_info)."""
    format_version: int
    n_items: int
    n_users: int
    n_history_users: int
    hidden_size: int
    svd_rank: int
    step_embedding_size: int
    n_steps: int
    n_blocks: int
    film_hidden_size: int
    n_modalities: int
    precision: str
    weight_bytes: int


class _Handle:
    """Owns one library handle: close() frees it (also on ``with`` exit and garbage
    collection); methods of a closed object raise ValueError.

    Every library call holds the handle through ``with self._use() as handle`` (or
    _acquire/_release): close() while calls run on other threads only marks the object
    closed, and the last of those calls frees the handle when it returns. So a thread
    may close a Model or Store that others are still using."""

    _handle = None
    _lock = None
    _kind = "object"

    @staticmethod
    def _free(handle):
        raise NotImplementedError

    def _open(self, handle):
        self._lock = threading.Lock()
        self._calls = 0          # library calls holding the handle now
        self._closing = False    # close() was called: no new calls
        self._handle = handle

    def close(self):
        if self._lock is None:   # never opened
            return
        with self._lock:
            self._closing = True
            if self._calls:
                return           # the last call in flight frees it
            handle, self._handle = self._handle, None
        if handle:
            self._free(handle)

    @property
    def closed(self):
        return self._lock is None or self._closing

    def _try_acquire(self):
        """The handle, held until _release(); None if the object is closed."""
        if self._lock is None:
            return None
        with self._lock:
            if self._closing:
                return None
            self._calls += 1
            return self._handle

    def _acquire(self):
        handle = self._try_acquire()
        if handle is None:
            raise ValueError(f"the {self._kind} is closed")
        return handle

    def _release(self):
        with self._lock:
            self._calls -= 1
            if not (self._closing and self._calls == 0):
                return
            handle, self._handle = self._handle, None
        if handle:
            self._free(handle)

    def _use(self):
        return _Use(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: module globals may be gone
            pass



class _Use:
    """``with owner._use() as handle``: the handle, held for the block (see _Handle)."""

    __slots__ = ("_owner",)

    def __init__(self, owner):
        self._owner = owner

    def __enter__(self):
        return self._owner._acquire()

    def __exit__(self, *exc):
        self._owner._release()


class _Serving:
    """``with store._serving() as (model, model_handle, store_handle)``: the store and
    the model it is served with, both held for the block. A model replaced by
    set_model() and closed in between is not an error: the new one is used."""

    __slots__ = ("_store", "_model")

    def __init__(self, store):
        self._store = store

    def __enter__(self):
        store = self._store
        while True:
            model = store._model
            model_handle = model._try_acquire()
            if model_handle is not None:
                break
            if model is store._model:
                raise ValueError("the model is closed")
        self._model = model
        try:
            return model, model_handle, store._acquire()
        except BaseException:
            model._release()
            raise

    def __exit__(self, *exc):
        self._store._release()
        self._model._release()


class Model(_Handle):
    """A loaded LD4MRec model (immutable; share it between threads).

    ``Model(path)`` loads and validates a model file (docs/FORMAT.md); with
    ``precision="bfloat16"`` its large tables are held in bfloat16 (half the memory and
    memory traffic, scores within about 1e-3 of their spread). The default "float32" also
    holds the output layer in bfloat16 on CPUs with AVX512_BF16, to screen top-K requests
    (same lists and scores, faster); "float32_unscreened" saves that memory. close() frees it once no
    call uses it any more; stores made from it keep it referenced."""

    _kind = "model"
    _free = staticmethod(lambda handle: _capi.ld4mrec_model_free(handle))

    def __init__(self, path, precision="float32"):
        if precision not in _PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}, got {precision!r}")
        params = _capi.ld4mrec_load_params_default()
        params.precision = _PRECISIONS[precision]
        handle = _capi.ld4mrec_model_p()
        _check(_capi.ld4mrec_model_load_with(_path(path), byref(params), byref(handle)))
        self._open(handle)
        self.path = os.fspath(path)

        info = _capi.ld4mrec_model_info()
        info.struct_size = ctypes.sizeof(_capi.ld4mrec_model_info)
        _check(_capi.ld4mrec_model_get_info(handle, byref(info)))
        fields = {name: getattr(info, name) for name, _ in _capi.ld4mrec_model_info._fields_
                  if name != "struct_size"}
        fields["precision"] = {code: name for name, code in _PRECISIONS.items()}[fields["precision"]]
        self._info = ModelInfo(**fields)
        self._n_items = _capi.ld4mrec_model_n_items(handle)
        self._modality_names = tuple(
            _text(_capi.ld4mrec_model_modality_name(handle, m))
            for m in range(self._info.n_modalities))

        ids = np.empty(self._n_items, dtype=np.int64)
        count = c_size_t()
        _check(_capi.ld4mrec_model_item_ids(handle, _int64_p(ids), ids.size, byref(count)),
               required=lambda: count.value)
        ids.flags.writeable = False
        self._item_ids = ids

    # ---- life cycle

    def __repr__(self):
        state = "closed" if self.closed else f"{self._n_items} items"
        return f"<ld4mrec.Model {self.path!r} ({state})>"

    # ---- properties

    @property
    def n_items(self):
        """Items in the catalogue (length of full score vectors)."""
        return self._n_items

    @property
    def info(self):
        """Sizes and hyperparameters (ModelInfo)."""
        return self._info

    @property
    def modality_names(self):
        """Modality names, in the order the model applies them."""
        return self._modality_names

    def item_ids(self):
        """Item ids (read-only int64 array) in the order of full score vectors."""
        return self._item_ids

    # ---- stateless requests: a history given by the caller

    def recommend_history(self, history, k=20, user=None, exclude_history=True, only_items=None,
                          excluded_items=None, *, n_threads=0, return_counts=False):
        """Top-k items for a history (item ids), best first.

        user: a user id, to use their learned initial embedding (None or an id unknown to
        the model: the default embedding). exclude_history: leave the history's items out.
        only_items: recommend only among these ids. excluded_items: never recommend these.
        n_threads: threads the call may use (0: the default, see set_num_threads).
        Returns (item ids int64, scores float32), at most k long; with return_counts,
        (items, scores, skipped) where skipped counts history ids the model does not know.
        """
        history = _ids(history, "history")
        params, keep = _params(exclude_history, only_items, excluded_items, n_threads)
        k = _k(k)
        capacity = max(0, min(k, self._n_items))
        items = np.empty(capacity, dtype=np.int64)
        scores = np.empty(capacity, dtype=np.float32)
        count, skipped = c_size_t(), c_size_t()
        with self._use() as handle:
            _check(_capi.ld4mrec_recommend_history(
                handle, _int64_p(history), history.size, _user_p(user), k, byref(params),
                _int64_p(items), _float_p(scores), capacity, byref(count), byref(skipped)),
                required=lambda: count.value)
        del keep
        n = count.value
        if return_counts:
            return items[:n], scores[:n], skipped.value
        return items[:n], scores[:n]

    def score_history(self, history, candidates, user=None, *, return_counts=False):
        """Scores (float32) of the candidate ids for a history, in the order of
        `candidates`; -inf for ids the model does not know. With return_counts,
        (scores, unknown candidates, skipped history ids)."""
        history = _ids(history, "history")
        candidates = _ids(candidates, "candidates")
        scores = np.empty(candidates.size, dtype=np.float32)
        unknown, skipped = c_size_t(), c_size_t()
        with self._use() as handle:
            _check(_capi.ld4mrec_score_history(
                handle, _int64_p(history), history.size, _user_p(user), _int64_p(candidates),
                candidates.size, _float_p(scores), byref(unknown), byref(skipped)))
        if return_counts:
            return scores, unknown.value, skipped.value
        return scores

    def score_all_history(self, history, user=None, *, return_counts=False):
        """The full score vector (float32, n_items, in the order of item_ids) for a
        history. With return_counts, (scores, skipped history ids)."""
        history = _ids(history, "history")
        scores = np.empty(self._n_items, dtype=np.float32)
        skipped = c_size_t()
        with self._use() as handle:
            _check(_capi.ld4mrec_score_all_history(
                handle, _int64_p(history), history.size, _user_p(user), _float_p(scores),
                scores.size, byref(skipped)))
        if return_counts:
            return scores, skipped.value
        return scores


# ------------------------------------------------------------------------------------
# Store
# ------------------------------------------------------------------------------------


class Store(_Handle):
    """User histories (sets of item ids) per user id.

    Safe for concurrent readers and writers. ``Store(model)`` is an empty store;
    Store.from_model(model) and Store.load(model, path) start from saved histories. The
    store keeps its model referenced and scores with it; set_model() replaces it by any
    other model (a store keeps every item id it is given, known to its model or not).
    Updates count the ids the store's model does not know."""

    _kind = "store"
    _free = staticmethod(lambda handle: _capi.ld4mrec_store_free(handle))

    def __init__(self, model):
        """An empty store whose model is `model` (ld4mrec_store_new)."""
        out = _capi.ld4mrec_store_p()
        with model._use() as model_handle:
            _check(_capi.ld4mrec_store_new(model_handle, byref(out)))
        self._adopt(model, out)

    def _adopt(self, model, handle, skipped=0):
        self._model = model
        self._open(handle)
        self.skipped = skipped  # item ids the model did not know when loading (Store.load)

    @classmethod
    def from_model(cls, model):
        """A store holding the training histories of the model file (empty if none)."""
        out = _capi.ld4mrec_store_p()
        with model._use() as model_handle:
            _check(_capi.ld4mrec_store_from_model(model_handle, byref(out)))
        store = cls.__new__(cls)
        store._adopt(model, out)
        return store

    @classmethod
    def load(cls, model, path):
        """A store saved by save(), with `model` as its model. Every item id of the file
        is kept; the new store's ``skipped`` counts those the model does not know."""
        out = _capi.ld4mrec_store_p()
        skipped = c_size_t()
        with model._use() as model_handle:
            _check(_capi.ld4mrec_store_load(model_handle, _path(path), byref(out), byref(skipped)))
        store = cls.__new__(cls)
        store._adopt(model, out, skipped.value)
        return store

    # ---- life cycle

    @property
    def model(self):
        """The model the store is served with (see set_model)."""
        return self._model

    def set_model(self, model):
        """Serves the store with `model` from now on, and counts against it the ids that
        updates report as unknown. Returns how many stored items (one per user and item)
        `model` does not know; they stay in the store. Histories do not change. Calls
        already running finish with the previous model, which may then be closed (it is
        freed when they return)."""
        unknown = c_size_t()
        with model._use() as model_handle, self._use() as handle:
            _check(_capi.ld4mrec_store_set_model(handle, model_handle, byref(unknown)))
        self._model = model
        return unknown.value

    def __repr__(self):
        state = "closed" if self.closed else f"{self.n_users} users"
        return f"<ld4mrec.Store ({state})>"

    def save(self, path):
        """Saves atomically (temporary file, fsync, rename): the file at `path` is either
        the previous one or the complete new one."""
        with self._use() as handle:
            _check(_capi.ld4mrec_store_save(handle, _path(path)))

    # ---- updates

    def _serving(self):
        return _Serving(self)

    def _update(self, function, user, items):
        """One of the history updates, which share a signature: returns its count."""
        items = _ids(items, "items")
        count = c_size_t()
        with self._use() as handle:
            _check(function(handle, _int64(user), _int64_p(items), items.size, byref(count)))
        return count.value

    def add(self, user, items):
        """Adds items to a user's history (creating the user). Returns how many of the
        ids the store's model does not know (they are added all the same)."""
        return self._update(_capi.ld4mrec_store_add, user, items)

    def remove(self, user, items):
        """Removes items from a user's history; returns how many were removed. Raises
        UnknownUserError for a user the store does not hold."""
        return self._update(_capi.ld4mrec_store_remove, user, items)

    def replace(self, user, items):
        """Replaces a user's history (creating the user); returns how many of the ids
        the store's model does not know (kept all the same)."""
        return self._update(_capi.ld4mrec_store_replace, user, items)

    def clear_user(self, user):
        """Deletes a user and their history; returns whether the user was there."""
        existed = c_bool()
        with self._use() as handle:
            _check(_capi.ld4mrec_store_clear_user(handle, _int64(user), byref(existed)))
        return existed.value

    # ---- reads

    def _query_then_fill(self, function, *args):
        """Asks for the length with capacity 0, then fills; retries if a concurrent
        writer made the result grow in between."""
        count = c_size_t()
        with self._use() as handle:
            status = function(handle, *args, _NULL_INT64, 0, byref(count))
            while True:
                if status not in (_capi.LD4MREC_OK, _capi.LD4MREC_ERR_BUFFER_TOO_SMALL):
                    _check(status)
                out = np.empty(count.value, dtype=np.int64)
                if status == _capi.LD4MREC_OK and count.value == 0:
                    return out
                status = function(handle, *args, _int64_p(out), out.size, byref(count))
                if status == _capi.LD4MREC_OK:
                    return out[:count.value]

    def history(self, user):
        """A user's history (item ids int64, ascending). Raises UnknownUserError for a
        user the store does not hold."""
        return self._query_then_fill(_capi.ld4mrec_store_get_history, c_int64(_int64(user)))

    @property
    def n_users(self):
        """Number of users in the store."""
        with self._use() as handle:
            return _capi.ld4mrec_store_n_users(handle)

    def __len__(self):
        return self.n_users

    def user_ids(self):
        """The store's user ids (int64, ascending)."""
        return self._query_then_fill(_capi.ld4mrec_store_user_ids)

    # ---- recommending and scoring

    def recommend_user(self, user, k=20, exclude_history=True, only_items=None,
                       excluded_items=None, *, n_threads=0):
        """Top-k items for a user of the store, best first: (item ids int64, scores
        float32). A user absent from the store is served with an empty history; a user
        unknown to the model with the default initial embedding."""
        params, keep = _params(exclude_history, only_items, excluded_items, n_threads)
        k = _k(k)
        user = _int64(user)
        count = c_size_t()
        with self._serving() as (model, model_handle, handle):
            capacity = max(0, min(k, model.n_items))
            items = np.empty(capacity, dtype=np.int64)
            scores = np.empty(capacity, dtype=np.float32)
            _check(_capi.ld4mrec_recommend_user(
                model_handle, handle, user, k, byref(params), _int64_p(items),
                _float_p(scores), capacity, byref(count)), required=lambda: count.value)
        del keep
        return items[:count.value], scores[:count.value]

    def recommend_users(self, users, k=20, exclude_history=True, only_items=None,
                        excluded_items=None, *, n_threads=0):
        """Top-k for many users in one call. Returns (items int64 (n, k'), scores float32
        (n, k'), counts int64 (n,)) with k' = min(k, n_items); row u holds counts[u] items,
        then item id -1 and score -inf."""
        users = _ids(users, "users")
        params, keep = _params(exclude_history, only_items, excluded_items, n_threads)
        k = _k(k)
        with self._serving() as (model, model_handle, handle):
            width = max(1, min(k, model.n_items))  # a wider row would only hold padding
            call_k = width if k >= 1 else k
            items = np.empty((users.size, width), dtype=np.int64)
            scores = np.empty((users.size, width), dtype=np.float32)
            counts = np.empty(users.size, dtype=np.uintp)
            _check(_capi.ld4mrec_recommend_users(
                model_handle, handle, _int64_p(users), users.size, call_k, byref(params),
                _int64_p(items), _float_p(scores), items.size, _size_p(counts)))
        del keep
        return items, scores, counts.view(np.int64)

    def score_user(self, user, candidates, *, return_counts=False):
        """Scores (float32) of candidate ids for a user of the store, in their order;
        -inf for ids the model does not know. With return_counts, (scores, unknown)."""
        candidates = _ids(candidates, "candidates")
        user = _int64(user)
        scores = np.empty(candidates.size, dtype=np.float32)
        unknown = c_size_t()
        with self._serving() as (_, model_handle, handle):
            _check(_capi.ld4mrec_score_user(
                model_handle, handle, user, _int64_p(candidates), candidates.size,
                _float_p(scores), byref(unknown)))
        if return_counts:
            return scores, unknown.value
        return scores

    def score_all_users(self, users):
        """Full score vectors (float32, (n_users, n_items)) for users of the store."""
        users = _ids(users, "users")
        with self._serving() as (model, model_handle, handle):
            scores = np.empty((users.size, model.n_items), dtype=np.float32)
            _check(_capi.ld4mrec_score_all_users(
                model_handle, handle, _int64_p(users), users.size, _float_p(scores), scores.size))
        return scores
