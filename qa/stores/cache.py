"""The embedding cache: vectors by (model, text hash), shared by every version of an index.

Renaming a file or re-chunking unchanged text re-embeds nothing; an interrupted build keeps what
it embedded. It lives in the index folder (`embeddings.sqlite`) whatever the store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from qa.stores.base import pack_vectors, unpack_vectors


class EmbeddingCache:
    """Vectors by (model, text hash): renaming a file or re-chunking unchanged text re-embeds nothing."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, text_hash TEXT, vector BLOB, PRIMARY KEY (model, text_hash))"
        )
        # Sentence vectors of a chunk text, keyed by the hash of the text and its sentence spans.
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS sentences (model TEXT, key TEXT, vectors BLOB, PRIMARY KEY (model, key))"
        )

    def _rows(self, table: str, key_column: str, value_column: str, model: str, keys: list[str]):
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            marks = ",".join("?" * len(part))
            yield from self.db.execute(
                f"SELECT {key_column}, {value_column} FROM {table} WHERE model = ? AND {key_column} IN ({marks})",
                (model, *part),
            )

    def get(self, model: str, hashes: list[str], dim: int) -> dict[str, np.ndarray]:
        out = {}
        for h, blob in self._rows("vectors", "text_hash", "vector", model, hashes):
            vec = np.frombuffer(blob, dtype=np.float32)
            if vec.shape == (dim,):
                out[h] = vec
        return out

    def put(self, model: str, items: dict[str, np.ndarray]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
            [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
        )
        self.db.commit()

    def get_sentences(self, model: str, keys: list[str], dim: int) -> dict[str, np.ndarray | None]:
        """Sentence vectors by key; None for texts the model gives none for (not a plain pipeline)."""
        return {key: unpack_vectors(blob, dim) for key, blob in self._rows("sentences", "key", "vectors", model, keys)}

    def put_sentences(self, model: str, items: dict[str, np.ndarray | None]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO sentences VALUES (?,?,?)",
            [(model, key, b"" if v is None else pack_vectors(v)) for key, v in items.items()],
        )
        self.db.commit()

    def close(self) -> None:
        self.db.close()
