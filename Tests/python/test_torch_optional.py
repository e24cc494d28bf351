"""ld4mrec.torch is an optional extra: ``import ld4mrec`` never needs torch, and
``import ld4mrec.torch`` without torch (or h5py) says how to install it. Runs without torch:
the child processes block the import."""

import subprocess

import pytest

import support

support.import_ld4mrec()


def run_blocking(module, code):
    """Runs `code` in a child Python where importing `module` fails as if not installed."""
    prelude = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run([support.PYTHON, "-c", prelude + code], capture_output=True, text=True,
                          env=support.python_env(), timeout=120)


@pytest.mark.parametrize("module", ["torch", "h5py"])
def test_import_ld4mrec_torch_without_the_extra(module):
    result = run_blocking(module, "import ld4mrec.torch")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ld4mrec.torch needs PyTorch and h5py"), result.stderr
    assert "pip install ld4mrec[torch]" in last


def test_ld4mrec_does_not_need_torch():
    result = run_blocking("torch", "import ld4mrec; print(ld4mrec.version())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == support.import_ld4mrec().version()
