import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run slow benchmarks and full evaluations")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory) -> Path:
    """A private copy of seeds/ inside a folder named like the original, so citations match."""
    base = tmp_path_factory.mktemp("corpus")
    shutil.copytree(SEEDS, base / "seeds")
    return base / "seeds"


@pytest.fixture(scope="session")
def seeds_index(seeds_copy, tmp_path_factory):
    """An index over the seeds, built once per test session; tests must not modify it."""
    from qa import Index

    ix = Index(tmp_path_factory.mktemp("index") / "index")
    ix.build([seeds_copy], progress=False)
    return ix
