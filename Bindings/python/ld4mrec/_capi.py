"""Raw ctypes declarations of libld4mrec, 1:1 with Include/ld4mrec.h.

Every C function is an attribute of this module under its C name (``_capi.ld4mrec_model_load``,
...), with argtypes and restype set. Nothing here raises on a failing status: every
function returns what the C function returns. The public layer (``ld4mrec/__init__.py``) turns statuses into exceptions.

The library is found, in this order:

1. the path in the environment variable ``LD4MREC_LIBRARY``;
2. ``libld4mrec.so`` in this package's folder (``make lib`` copies it there; a package
   installed with pip has it bundled).

Loading checks that the library's ABI version equals the one these declarations were
written for and that its version is not older than the header they copy.
"""

import ctypes
import os
from ctypes import POINTER, c_bool, c_char_p, c_int32, c_int64, c_size_t, c_float

__all__ = [
    "LIBRARY_ENV", "lib", "library_path",
    "LD4MREC_VERSION_MAJOR", "LD4MREC_VERSION_MINOR", "LD4MREC_VERSION_PATCH",
    "LD4MREC_VERSION_NUMBER", "LD4MREC_VERSION_STRING", "LD4MREC_ABI_VERSION",
    "LD4MREC_OK", "LD4MREC_ERR_INVALID_ARGUMENT", "LD4MREC_ERR_BUFFER_TOO_SMALL",
    "LD4MREC_ERR_IO", "LD4MREC_ERR_INVALID_FILE", "LD4MREC_ERR_UNSUPPORTED_VERSION",
    "LD4MREC_ERR_UNKNOWN_USER", "LD4MREC_ERR_OUT_OF_MEMORY", "LD4MREC_ERR_INTERNAL",
    "ld4mrec_model", "ld4mrec_model_p", "ld4mrec_store", "ld4mrec_store_p",
    "ld4mrec_model_info", "ld4mrec_recommend_params", "ld4mrec_load_params",
    "LD4MREC_PRECISION_FLOAT32", "LD4MREC_PRECISION_BFLOAT16", "LD4MREC_PRECISION_FLOAT32_UNSCREENED",
    "int64_p", "float_p", "size_t_p", "bool_p",
]

LIBRARY_ENV = "LD4MREC_LIBRARY"
_LIBRARY_NAME = "libld4mrec.so"

# ------------------------------------------------------------------------------------
# Versions (the header's macros)
# ------------------------------------------------------------------------------------

LD4MREC_VERSION_MAJOR = 0
LD4MREC_VERSION_MINOR = 2
LD4MREC_VERSION_PATCH = 0
LD4MREC_VERSION_NUMBER = (LD4MREC_VERSION_MAJOR * 10000 + LD4MREC_VERSION_MINOR * 100
                          + LD4MREC_VERSION_PATCH)
LD4MREC_VERSION_STRING = f"{LD4MREC_VERSION_MAJOR}.{LD4MREC_VERSION_MINOR}.{LD4MREC_VERSION_PATCH}"
LD4MREC_ABI_VERSION = 1

# ------------------------------------------------------------------------------------
# Status codes (fixed values, append-only)
# ------------------------------------------------------------------------------------

LD4MREC_OK = 0
LD4MREC_ERR_INVALID_ARGUMENT = 1
LD4MREC_ERR_BUFFER_TOO_SMALL = 2
LD4MREC_ERR_IO = 3
LD4MREC_ERR_INVALID_FILE = 4
LD4MREC_ERR_UNSUPPORTED_VERSION = 5
LD4MREC_ERR_UNKNOWN_USER = 6
LD4MREC_ERR_OUT_OF_MEMORY = 7
LD4MREC_ERR_INTERNAL = 8

LD4MREC_PRECISION_FLOAT32 = 0
LD4MREC_PRECISION_BFLOAT16 = 1
LD4MREC_PRECISION_FLOAT32_UNSCREENED = 2

# ------------------------------------------------------------------------------------
# Types
# ------------------------------------------------------------------------------------


class ld4mrec_model(ctypes.Structure):
    """typedef struct ld4mrec_model ld4mrec_model; (opaque)"""


class ld4mrec_store(ctypes.Structure):
    """typedef struct ld4mrec_store ld4mrec_store; (opaque)"""


ld4mrec_model_p = POINTER(ld4mrec_model)
ld4mrec_store_p = POINTER(ld4mrec_store)
int64_p = POINTER(c_int64)
float_p = POINTER(c_float)
size_t_p = POINTER(c_size_t)
bool_p = POINTER(c_bool)


class ld4mrec_model_info(ctypes.Structure):
    """typedef struct ld4mrec_model_info { ... } ld4mrec_model_info;"""
    _fields_ = [
        ("struct_size", c_size_t),
        ("format_version", c_int32),
        ("n_items", c_int64),
        ("n_users", c_int64),
        ("n_history_users", c_int64),
        ("hidden_size", c_int32),
        ("svd_rank", c_int32),
        ("step_embedding_size", c_int32),
        ("n_steps", c_int32),
        ("n_blocks", c_int32),
        ("film_hidden_size", c_int32),
        ("n_modalities", c_int32),
        ("precision", c_int32),  # since 0.2.0
        ("weight_bytes", c_int64),
    ]


class ld4mrec_load_params(ctypes.Structure):
    """typedef struct ld4mrec_load_params { ... } ld4mrec_load_params;"""
    _fields_ = [
        ("struct_size", c_size_t),
        ("precision", c_int32),
    ]


class ld4mrec_recommend_params(ctypes.Structure):
    """typedef struct ld4mrec_recommend_params { ... } ld4mrec_recommend_params;"""
    _fields_ = [
        ("struct_size", c_size_t),
        ("exclude_history", c_bool),
        ("only_items", int64_p),
        ("n_only_items", c_size_t),
        ("excluded_items", int64_p),
        ("n_excluded_items", c_size_t),
        ("n_threads", c_int32),  # since 0.2.0
    ]


# ------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------


def _candidates():
    """(path, where it came from) in search order."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        yield env, f"${LIBRARY_ENV}"
        return  # an explicit choice is never silently replaced by another library
    yield os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY_NAME), "package folder"


def _load():
    tried = []
    for path, origin in _candidates():
        if not os.path.exists(path):
            tried.append(f"{path} ({origin}): no such file")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as error:
            tried.append(f"{path} ({origin}): {error}")
    raise ImportError(
        "ld4mrec: cannot load the native library libld4mrec.so; tried:\n  "
        + "\n  ".join(tried)
        + f"\nBuild it with `make lib` (copies it into the package folder) or set "
          f"{LIBRARY_ENV} to the path of libld4mrec.so.1.")


def check_version(library, path="libld4mrec"):
    """Raises ImportError unless `library` speaks the ABI these declarations describe.

    The ABI version must be equal; the library's version number must not be older than
    the header these declarations copy (newer only adds functions and struct fields)."""
    abi = library.ld4mrec_abi_version()
    if abi != LD4MREC_ABI_VERSION:
        raise ImportError(
            f"ld4mrec: {path} has ABI version {abi}, this binding needs ABI version "
            f"{LD4MREC_ABI_VERSION}: install matching versions of the library and the binding")
    number = library.ld4mrec_version_number()
    if number < LD4MREC_VERSION_NUMBER or number // 10000 != LD4MREC_VERSION_MAJOR:
        raise ImportError(
            f"ld4mrec: {path} is version {number // 10000}.{number // 100 % 100}.{number % 100}, "
            f"this binding needs {LD4MREC_VERSION_STRING} or a later "
            f"{LD4MREC_VERSION_MAJOR}.x release")


def _declare(library, name, restype, argtypes):
    """Sets a function's signature and exports it from this module under its C name."""
    function = getattr(library, name)
    function.restype = restype
    function.argtypes = argtypes
    globals()[name] = function
    __all__.append(name)


lib, library_path = _load()

# The functions used by check_version are declared first.

# int32_t ld4mrec_version_number(void);
_declare(lib, "ld4mrec_version_number", c_int32, [])

# const char *ld4mrec_version_string(void);
_declare(lib, "ld4mrec_version_string", c_char_p, [])

# int32_t ld4mrec_abi_version(void);
_declare(lib, "ld4mrec_abi_version", c_int32, [])

check_version(lib, library_path)

# ---- Status codes and errors --------------------------------------------------------

# const char *ld4mrec_status_string(int32_t status);
_declare(lib, "ld4mrec_status_string", c_char_p, [c_int32])

# const char *ld4mrec_last_error(void);
_declare(lib, "ld4mrec_last_error", c_char_p, [])

# ---- Threads ------------------------------------------------------------------------

# int32_t ld4mrec_set_num_threads(int32_t n);
_declare(lib, "ld4mrec_set_num_threads", c_int32, [c_int32])

# int32_t ld4mrec_get_num_threads(void);
_declare(lib, "ld4mrec_get_num_threads", c_int32, [])

# ---- Model --------------------------------------------------------------------------

# int32_t ld4mrec_model_load(const char *path, ld4mrec_model **out_model);
_declare(lib, "ld4mrec_model_load", c_int32, [c_char_p, POINTER(ld4mrec_model_p)])

# ld4mrec_load_params ld4mrec_load_params_default(void);
_declare(lib, "ld4mrec_load_params_default", ld4mrec_load_params, [])

# int32_t ld4mrec_model_load_with(const char *path, const ld4mrec_load_params *params,
#                                 ld4mrec_model **out_model);
_declare(lib, "ld4mrec_model_load_with", c_int32,
         [c_char_p, POINTER(ld4mrec_load_params), POINTER(ld4mrec_model_p)])

# void ld4mrec_model_free(ld4mrec_model *model);
_declare(lib, "ld4mrec_model_free", None, [ld4mrec_model_p])

# int32_t ld4mrec_model_get_info(const ld4mrec_model *model, ld4mrec_model_info *out_info);
_declare(lib, "ld4mrec_model_get_info", c_int32, [ld4mrec_model_p, POINTER(ld4mrec_model_info)])

# size_t ld4mrec_model_n_items(const ld4mrec_model *model);
_declare(lib, "ld4mrec_model_n_items", c_size_t, [ld4mrec_model_p])

# const char *ld4mrec_model_modality_name(const ld4mrec_model *model, int32_t index);
_declare(lib, "ld4mrec_model_modality_name", c_char_p, [ld4mrec_model_p, c_int32])

# int32_t ld4mrec_model_item_ids(const ld4mrec_model *model, int64_t *out_ids,
#                                size_t capacity, size_t *out_count);
_declare(lib, "ld4mrec_model_item_ids", c_int32, [ld4mrec_model_p, int64_p, c_size_t, size_t_p])

# ---- User-history store -------------------------------------------------------------

# int32_t ld4mrec_store_new(const ld4mrec_model *model, ld4mrec_store **out_store);
_declare(lib, "ld4mrec_store_new", c_int32, [ld4mrec_model_p, POINTER(ld4mrec_store_p)])

# int32_t ld4mrec_store_from_model(const ld4mrec_model *model, ld4mrec_store **out_store);
_declare(lib, "ld4mrec_store_from_model", c_int32, [ld4mrec_model_p, POINTER(ld4mrec_store_p)])

# int32_t ld4mrec_store_load(const ld4mrec_model *model, const char *path,
#                            ld4mrec_store **out_store, size_t *out_skipped);
_declare(lib, "ld4mrec_store_load", c_int32,
         [ld4mrec_model_p, c_char_p, POINTER(ld4mrec_store_p), size_t_p])

# int32_t ld4mrec_store_save(const ld4mrec_store *store, const char *path);
_declare(lib, "ld4mrec_store_save", c_int32, [ld4mrec_store_p, c_char_p])

# void ld4mrec_store_free(ld4mrec_store *store);
_declare(lib, "ld4mrec_store_free", None, [ld4mrec_store_p])

# int32_t ld4mrec_store_add(ld4mrec_store *store, int64_t user_id,
#                           const int64_t *items, size_t n_items, size_t *out_skipped);
_declare(lib, "ld4mrec_store_add", c_int32, [ld4mrec_store_p, c_int64, int64_p, c_size_t, size_t_p])

# int32_t ld4mrec_store_remove(ld4mrec_store *store, int64_t user_id,
#                              const int64_t *items, size_t n_items, size_t *out_removed);
_declare(lib, "ld4mrec_store_remove", c_int32, [ld4mrec_store_p, c_int64, int64_p, c_size_t, size_t_p])

# int32_t ld4mrec_store_replace(ld4mrec_store *store, int64_t user_id,
#                               const int64_t *items, size_t n_items, size_t *out_skipped);
_declare(lib, "ld4mrec_store_replace", c_int32, [ld4mrec_store_p, c_int64, int64_p, c_size_t, size_t_p])

# int32_t ld4mrec_store_clear_user(ld4mrec_store *store, int64_t user_id, bool *out_existed);
_declare(lib, "ld4mrec_store_clear_user", c_int32, [ld4mrec_store_p, c_int64, bool_p])

# int32_t ld4mrec_store_get_history(const ld4mrec_store *store, int64_t user_id,
#                                   int64_t *out_items, size_t capacity, size_t *out_count);
_declare(lib, "ld4mrec_store_get_history", c_int32,
         [ld4mrec_store_p, c_int64, int64_p, c_size_t, size_t_p])

# size_t ld4mrec_store_n_users(const ld4mrec_store *store);
_declare(lib, "ld4mrec_store_n_users", c_size_t, [ld4mrec_store_p])

# int32_t ld4mrec_store_user_ids(const ld4mrec_store *store, int64_t *out_ids,
#                                size_t capacity, size_t *out_count);
_declare(lib, "ld4mrec_store_user_ids", c_int32, [ld4mrec_store_p, int64_p, c_size_t, size_t_p])

# ---- Recommending and scoring -------------------------------------------------------

# ld4mrec_recommend_params ld4mrec_recommend_params_default(void);
_declare(lib, "ld4mrec_recommend_params_default", ld4mrec_recommend_params, [])

# int32_t ld4mrec_recommend_user(const ld4mrec_model *model, const ld4mrec_store *store,
#                                int64_t user_id, int32_t k,
#                                const ld4mrec_recommend_params *params,
#                                int64_t *out_items, float *out_scores,
#                                size_t capacity, size_t *out_count);
_declare(lib, "ld4mrec_recommend_user", c_int32,
         [ld4mrec_model_p, ld4mrec_store_p, c_int64, c_int32, POINTER(ld4mrec_recommend_params),
          int64_p, float_p, c_size_t, size_t_p])

# int32_t ld4mrec_recommend_history(const ld4mrec_model *model,
#                                   const int64_t *history, size_t n_history,
#                                   const int64_t *user_id, int32_t k,
#                                   const ld4mrec_recommend_params *params,
#                                   int64_t *out_items, float *out_scores,
#                                   size_t capacity, size_t *out_count,
#                                   size_t *out_skipped);
_declare(lib, "ld4mrec_recommend_history", c_int32,
         [ld4mrec_model_p, int64_p, c_size_t, int64_p, c_int32, POINTER(ld4mrec_recommend_params),
          int64_p, float_p, c_size_t, size_t_p, size_t_p])

# int32_t ld4mrec_recommend_users(const ld4mrec_model *model, const ld4mrec_store *store,
#                                 const int64_t *user_ids, size_t n_users, int32_t k,
#                                 const ld4mrec_recommend_params *params,
#                                 int64_t *out_items, float *out_scores,
#                                 size_t capacity, size_t *out_counts);
_declare(lib, "ld4mrec_recommend_users", c_int32,
         [ld4mrec_model_p, ld4mrec_store_p, int64_p, c_size_t, c_int32,
          POINTER(ld4mrec_recommend_params), int64_p, float_p, c_size_t, size_t_p])

# int32_t ld4mrec_score_user(const ld4mrec_model *model, const ld4mrec_store *store,
#                            int64_t user_id, const int64_t *candidates,
#                            size_t n_candidates, float *out_scores, size_t *out_unknown);
_declare(lib, "ld4mrec_score_user", c_int32,
         [ld4mrec_model_p, ld4mrec_store_p, c_int64, int64_p, c_size_t, float_p, size_t_p])

# int32_t ld4mrec_score_history(const ld4mrec_model *model, const int64_t *history,
#                               size_t n_history, const int64_t *user_id,
#                               const int64_t *candidates, size_t n_candidates,
#                               float *out_scores, size_t *out_unknown, size_t *out_skipped);
_declare(lib, "ld4mrec_score_history", c_int32,
         [ld4mrec_model_p, int64_p, c_size_t, int64_p, int64_p, c_size_t, float_p, size_t_p,
          size_t_p])

# int32_t ld4mrec_score_all_users(const ld4mrec_model *model, const ld4mrec_store *store,
#                                 const int64_t *user_ids, size_t n_users,
#                                 float *out_scores, size_t capacity);
_declare(lib, "ld4mrec_score_all_users", c_int32,
         [ld4mrec_model_p, ld4mrec_store_p, int64_p, c_size_t, float_p, c_size_t])

# int32_t ld4mrec_score_all_history(const ld4mrec_model *model, const int64_t *history,
#                                   size_t n_history, const int64_t *user_id,
#                                   float *out_scores, size_t capacity, size_t *out_skipped);
_declare(lib, "ld4mrec_score_all_history", c_int32,
         [ld4mrec_model_p, int64_p, c_size_t, int64_p, float_p, c_size_t, size_t_p])

# ---- Since 0.2.0: stores served by any model -------------------------------------------

# int32_t ld4mrec_store_set_model(ld4mrec_store *store, const ld4mrec_model *model,
#                                 size_t *out_unknown);
_declare(lib, "ld4mrec_store_set_model", c_int32, [ld4mrec_store_p, ld4mrec_model_p, size_t_p])
