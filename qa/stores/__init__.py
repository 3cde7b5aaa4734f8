"""Where an index's vectors, chunks and documents live, behind one contract (qa.stores.base).

- `faiss`: the default; FAISS + SQLite + BM25 arrays in the index folder, immutable versions.
- `milvus`: Milvus Lite (`milvus:///file.db`) or a Milvus server (`milvus://host:19530`).
- `cache`: the embedding cache, kept in the index folder whatever the store.
"""

from __future__ import annotations

from pathlib import Path

from qa.stores.base import IndexedDocument, Snapshot, Store, StoredChunk, StoredDocument, Writer
from qa.stores.cache import EmbeddingCache


def open_store(spec: str | Path | None, local: Path) -> Store:
    """The store named by `spec`: None or a folder → FAISS + SQLite there (default `local`);
    milvus://… → Milvus. `local` (the index folder) always holds the writer lock and the embedding cache."""
    if spec is None or not str(spec).startswith("milvus:"):
        from qa.stores.faiss import FaissStore

        return FaissStore(Path(spec) if spec is not None else local)
    from qa.stores.milvus import MilvusStore  # MissingExtra names the extra when pymilvus is absent

    return MilvusStore(str(spec), local)


__all__ = ["open_store", "Store", "Snapshot", "Writer", "StoredChunk", "StoredDocument", "IndexedDocument",
           "EmbeddingCache"]
