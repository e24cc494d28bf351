"""PEP 517 build backend of the ld4mrec Python package (Bindings/python/pyproject.toml).

A wheel holds the package Bindings/python/ld4mrec plus the native library, bundled as
ld4mrec/libld4mrec.so where the loader (_capi.py) looks for it. Building runs `make lib`
in the checkout, which is quick when dist/lib/libld4mrec.so.<ABI> is up to date.

- Version: LD4MREC_VERSION_STRING of Include/ld4mrec.h, the one place it is written.
- Dependencies: numpy; the extra `torch` (torch, h5py) when the package has its PyTorch
  module, ld4mrec/torch.
- Tag: py3-none-<platform>. The package is pure Python over ctypes, so any Python 3, but the
  library is machine code linked against this system's OpenBLAS and HDF5.

It needs nothing beyond the standard library, so pip builds without downloading a build
tool. There is no sdist: the library is built from the whole repository, so wheels are
built from a checkout.
"""

import base64
import hashlib
import io
import re
import subprocess
import sysconfig
import zipfile
from pathlib import Path

BINDINGS = Path(__file__).resolve().parents[1]
PACKAGE = BINDINGS / "ld4mrec"
REPOSITORY = BINDINGS.parents[1]
HEADER = REPOSITORY / "Include" / "ld4mrec.h"
NAME = "ld4mrec"
SUMMARY = "Serving LD4MRec multimedia recommendation models (binding of libld4mrec)"
LIBRARY = "libld4mrec.so"
# Fixed timestamps make a rebuild of the same files byte-identical.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

__all__ = ["build_wheel", "build_sdist"]


def _header_define(name):
    if not HEADER.is_file():
        raise RuntimeError(f"ld4mrec: {HEADER} not found: build the package from a checkout "
                           "of the ld4mrec repository (pip install ./Bindings/python)")
    match = re.search(rf"^#define {name} (.+)$", HEADER.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"ld4mrec: {HEADER} does not define {name}")
    return match.group(1).strip()


def version():
    return _header_define("LD4MREC_VERSION_STRING").strip('"')


def _metadata():
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {NAME}",
        f"Version: {version()}",
        f"Summary: {SUMMARY}",
        "Requires-Python: >=3.8",
        "Requires-Dist: numpy",
    ]
    if (PACKAGE / "torch").is_dir():
        lines += ["Provides-Extra: torch",
                  'Requires-Dist: torch; extra == "torch"',
                  'Requires-Dist: h5py; extra == "torch"']
    return "\n".join(lines) + "\n"


def _tag():
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"py3-none-{platform}"


def _built_library():
    """Path of the library after `make lib` brought it up to date."""
    result = subprocess.run(["make", "-C", str(REPOSITORY), "lib"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ld4mrec: `make -C {REPOSITORY} lib` failed:\n{result.stdout}")
    abi = _header_define("LD4MREC_ABI_VERSION")
    library = REPOSITORY / "dist" / "lib" / f"{LIBRARY}.{abi}"
    if not library.is_file():
        raise RuntimeError(f"ld4mrec: `make lib` did not produce {library}")
    return library


def _package_files():
    """(name in the wheel, path) of the package's sources; the library is added apart."""
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(BINDINGS)
        if (path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc"
                or relative == Path(NAME, LIBRARY)):
            continue
        yield relative.as_posix(), path


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    library = _built_library()
    dist_info = f"{NAME}-{version()}.dist-info"
    wheel_name = f"{NAME}-{version()}-{_tag()}.whl"
    entries = [(name, path.read_bytes(), 0o644) for name, path in _package_files()]
    entries.append((f"{NAME}/{LIBRARY}", library.read_bytes(), 0o755))
    entries.append((f"{dist_info}/METADATA", _metadata().encode(), 0o644))
    wheel = (f"Wheel-Version: 1.0\nGenerator: {__name__}\nRoot-Is-Purelib: false\n"
             f"Tag: {_tag()}\n")
    entries.append((f"{dist_info}/WHEEL", wheel.encode(), 0o644))
    entries.append((f"{dist_info}/top_level.txt", f"{NAME}\n".encode(), 0o644))
    record = [_record_line(name, data) for name, data, _ in entries]
    record.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.external_attr = (0o100000 | mode) << 16  # a regular file and its mode
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    Path(wheel_directory, wheel_name).write_bytes(buffer.getvalue())
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("ld4mrec has no sdist: libld4mrec.so is built from the whole "
                       "repository. Build a wheel from a checkout instead: "
                       "pip wheel ./Bindings/python")
