"""Helpers shared by the Python tests: paths, model synthesis, file surgery."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "dist" / "bin" / "ld4mrec"
BINDINGS = ROOT / "Bindings" / "python"
TESTS = Path(__file__).resolve().parent


def synthesize(path, **options):
    """Runs `ld4mrec synthesize --out path --option value ...` (underscores become
    dashes) and returns the path."""
    args = [str(CLI), "synthesize", "--out", str(path)]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif str(value).startswith("-"):
            args.append(f"{flag}={value}")  # else read as an option of its own
        else:
            args += [flag, str(value)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return Path(path)


def edited_copy(source, target, edit):
    """Copies a model file and applies `edit(h5py.File)` to the copy."""
    import h5py

    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        edit(f)
    return Path(target)


def replace_dataset(f, name, data=None, **kwargs):
    """Deletes dataset `name` and writes `data` (or an empty dataset from kwargs) there."""
    del f[name]
    if data is None:
        f.create_dataset(name, **kwargs)
    else:
        f.create_dataset(name, data=data, **kwargs)


def python_env():
    """An environment for child Python processes that import ld4mrec and the tests."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(BINDINGS), str(TESTS)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


PYTHON = sys.executable


def import_ld4mrec():
    """The ld4mrec package, or a module-level skip carrying the loader's message (what it
    tried and how to fix it) when the native library is missing or does not match."""
    import pytest

    try:
        import ld4mrec
    except ImportError as error:
        pytest.skip(f"ld4mrec cannot be imported: {error}", allow_module_level=True)
    return ld4mrec
