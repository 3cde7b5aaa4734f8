import importlib.util
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Every store behind qa.stores.base; the engine tests run on each (the `store` and
# `seeds_any_store` fixtures). Milvus Lite is in the test extra; without it those runs are skipped.
STORES = ("faiss", "milvus")
MILVUS_INSTALLED = all(importlib.util.find_spec(m) is not None for m in ("pymilvus", "milvus_lite"))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run slow benchmarks and full evaluations")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def store_spec(kind: str, folder: Path) -> str | None:
    """The `store=` argument of an Index in `folder` for this kind of store."""
    if kind == "faiss":
        return None
    return f"milvus://{Path(folder).absolute()}.milvus.db"


def _require(kind: str) -> None:
    if kind == "milvus" and not MILVUS_INSTALLED:
        pytest.skip('Milvus Lite is not installed (pip install "qa[milvus]")')


@pytest.fixture(params=STORES)
def store(request) -> str:
    """The kind of store a test runs on: every test that asks for it runs once per store."""
    _require(request.param)
    return request.param


@pytest.fixture
def make_index(store):
    """Index(path, ...) on the store under test."""
    from qa import Index

    def make(path, **kwargs):
        return Index(path, store=store_spec(store, path), **kwargs)

    return make


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory) -> Path:
    """A private copy of seeds/ inside a folder named like the original, so citations match."""
    base = tmp_path_factory.mktemp("corpus")
    shutil.copytree(SEEDS, base / "seeds")
    return base / "seeds"


@pytest.fixture(scope="session")
def seeds_index(seeds_copy, tmp_path_factory):
    """An index over the seeds in the default store (FAISS), built once per session; tests must not modify it."""
    from qa import Index

    ix = Index(tmp_path_factory.mktemp("index") / "index")
    ix.build([seeds_copy], progress=False)
    return ix


@pytest.fixture(scope="session", params=STORES)
def seeds_any_store(request, seeds_copy, seeds_index, tmp_path_factory):
    """The seeds index on each store (the Milvus one takes its vectors from the FAISS index's cache)."""
    from qa import Index

    _require(request.param)
    if request.param == "faiss":
        return seeds_index
    folder = tmp_path_factory.mktemp(request.param) / "index"
    folder.mkdir()
    shutil.copy(Path(seeds_index.path) / "embeddings.sqlite", folder / "embeddings.sqlite")
    ix = Index(folder, store=store_spec(request.param, folder))
    report = ix.build([seeds_copy], progress=False)
    assert report.chunks_embedded == 0
    return ix
