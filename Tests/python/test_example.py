"""Examples/python/recommend.py runs as documented and prints what it promises."""

import subprocess


import support

support.import_ld4mrec()
EXAMPLE = support.ROOT / "Examples" / "python" / "recommend.py"


def run(*args):
    return subprocess.run([support.PYTHON, str(EXAMPLE), *map(str, args)], capture_output=True,
                          text=True, env=support.python_env(), timeout=60)


def test_example_recommends(model_path):
    result = run(model_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "300 items, 60 users, modalities: image, audio" in out
    assert "User 500: added items [1000, 1007, 1014]" in out
    assert "Top 10 for user 500" in out and "    10  " in out
    assert "1 unknown candidate, 0 unknown history items" in out


def test_example_tiny_model_without_modalities(make_model):
    result = run(make_model(items=4, users=1, modalities=""))
    assert result.returncode == 0, result.stderr
    assert "modalities: none" in result.stdout


def test_example_errors(tmp_path):
    result = run(tmp_path / "missing.h5")
    assert result.returncode == 1 and "missing.h5" in result.stderr
    assert run().returncode == 2
