"""Optional re-ranking of the retrieved passages by a cross-encoder given by path.

A cross-encoder reads the question and a passage together, which a bi-encoder cannot, and is the
usual next step in quality. No PyPI package carries one, so none is bundled and re-ranking is off
unless a folder is given (any sentence-transformers CrossEncoder folder, e.g. a copy of
cross-encoder/ms-marco-MiniLM-L-6-v2). Its weight in the fused score is not tuned here for that
reason: tune it with `qa eval squad --set model.reranker=PATH --set search.rerank_weight=W`.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from qa.errors import InvalidModel
from qa.search import Hit


class Reranker:
    _shared: dict[str, "Reranker"] = {}
    _lock = threading.Lock()

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise InvalidModel(f"no cross-encoder model folder at {self.path} (a sentence-transformers "
                             "CrossEncoder folder with its config.json is expected)")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(self.path), device="cpu", local_files_only=True)  # never the network

    @classmethod
    def shared(cls, path: str | Path) -> "Reranker":
        key = str(Path(path).resolve())
        with cls._lock:
            if key not in cls._shared:
                cls._shared[key] = cls(path)
            return cls._shared[key]

    def scores(self, question: str, texts: list[str]) -> np.ndarray:
        """Relevance of each text to the question, in 0..1: the sigmoid of the model's (last) logit,
        whatever activation its folder names, so a text's score never depends on the batch it is in."""
        import torch

        if not texts:
            return np.zeros(0, dtype=np.float32)
        out = self.model.predict([(question, t) for t in texts], batch_size=16, show_progress_bar=False,
                                 activation_fn=torch.nn.Sigmoid())
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)[:, -1]


def rerank(hits: list[Hit], question: str, reranker: Reranker, depth: int, weight: float) -> list[Hit]:
    """The first `depth` hits re-scored as (1 - weight) × fused + weight × cross-encoder and re-ordered;
    the hits after them keep their order behind them."""
    top, rest = hits[:depth], hits[depth:]
    relevance = reranker.scores(question, [h.chunk.search_text for h in top])
    rescored = [Hit(h.chunk, (1 - weight) * h.score + weight * float(r), h.dense, h.lexical,
                    (1 - weight) * h.prior)
                for h, r in zip(top, relevance)]
    rescored.sort(key=lambda h: (-h.score, h.chunk.id))
    return rescored + rest
