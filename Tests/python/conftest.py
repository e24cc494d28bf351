"""Fixtures of the Python tests: synthetic models made with `dist/bin/ld4mrec synthesize`.

Run from the repository root:  PYTHONPATH=Bindings/python python3 -m pytest -q Tests/python

Tests are skipped, with the reason, when dist/bin/ld4mrec (`make build`) or the library
(`make lib`) is missing. Test modules import ld4mrec through support.import_ld4mrec(), so the
loader's own message (what it tried, how to fix it) is the skip reason.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import support  # noqa: E402


def pytest_report_header(config):
    try:
        import ld4mrec
    except ImportError as error:
        return f"ld4mrec: not importable ({str(error).splitlines()[0]})"
    return f"ld4mrec: library {ld4mrec.version()} (ABI {ld4mrec.abi_version()}) at {ld4mrec.library_path}"


@pytest.fixture(scope="session")
def make_model(tmp_path_factory):
    """make_model(**options) -> path of a synthetic model (cached per options).
    Options are `ld4mrec synthesize` flags: items, users, hidden, svd_rank,
    step_embedding, blocks, film_hidden, modalities, seed."""
    if not support.CLI.exists():
        pytest.skip(f"{support.CLI} is missing: run `make build` in {support.ROOT}")
    folder = tmp_path_factory.mktemp("models")
    cache = {}

    def make(**options):
        key = tuple(sorted(options.items()))
        if key not in cache:
            cache[key] = support.synthesize(folder / f"model{len(cache)}.h5", **options)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def model_path(make_model):
    """The default synthetic model: 300 items (the last 15 cold), 60 users, 2 blocks,
    modalities image:16 and audio:8."""
    return make_model()


@pytest.fixture
def model(model_path):
    import ld4mrec

    with ld4mrec.Model(model_path) as model:
        yield model


@pytest.fixture
def store(model):
    import ld4mrec

    with ld4mrec.Store.from_model(model) as store:
        yield store
