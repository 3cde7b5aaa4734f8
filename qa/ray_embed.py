"""Bulk embedding on Ray Data: the same model in a pool of actors, the same vectors as one process.

`qa build --ray local` starts a local Ray instance (no cluster needed); `--ray auto` joins the
Ray instance already running on this machine; `--ray ray://head:10001` (or any address
`ray.init` accepts) sends the work to a cluster, whose workers must have qa installed with the
same model. Texts go through `map_batches` to embedding actors (each loads the model once) and
come back in their original order; chunking and the embedding cache stay in the build process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.embed import Embedder
from qa.errors import EmbeddingFailed, MissingExtra


# A local Ray stays on this machine: no usage-stats report to Ray's server and no prompt about it
# (ray.init turns them off for a local instance except on nightly wheels; set here for every
# version, before ray.init, so Ray's own daemons inherit it), no dashboard web server. Ray 2.60's
# API server still probes the link-local cloud-metadata address once at start (1 s timeout).
OFFLINE_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_USAGE_STATS_PROMPT_ENABLED": "0"}


def start_local(cpus: int) -> None:
    """Start a local, offline Ray instance with `cpus` CPUs (stop it with `ray.shutdown()`)."""
    ray = _ray()
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    ray.init(num_cpus=max(1, cpus), include_dashboard=False, log_to_driver=False, configure_logging=False)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise MissingExtra(f'embedding on Ray needs the ray extra: pip install "qa[ray]" ({e})') from e
    return ray


class EmbedActor:
    """One model per actor; a batch of texts in, their normalized vectors out."""

    def __init__(self, model_path: str | None, batch_size: int, precision: str = "fp32"):
        self.embedder = Embedder(model_path, batch_size=batch_size, precision=precision)

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        if "spans" not in batch:
            return {"row": batch["row"], "vector": self.embedder.encode(texts)}
        spans = [json.loads(str(s)) for s in batch["spans"]]
        vectors, sentences = self.embedder.encode_with_sentences(texts, spans)
        # Variable-length per row: float32 bytes ("" for none), reshaped by the driver.
        blobs = np.array([b"" if v is None else np.asarray(v, np.float32).tobytes() for v in sentences], dtype=object)
        return {"row": batch["row"], "vector": vectors, "sentences": blobs}


@dataclass
class RayEncoder:
    """A drop-in for `Embedder.encode` on many texts: `RayEncoder(...)(texts) -> (n, dim) float32`."""

    address: str | None = None  # None or "local": start a local Ray; "auto" or ray://…: join one
    model_path: str | Path | None = None
    actors: int = 2
    cpus_per_actor: float = 1.0
    batch_size: int = 256  # texts per Ray batch (the model still encodes them 32 at a time)
    model_batch_size: int = 32
    precision: str = "fp32"  # the index's (qa.embed.PRECISIONS): actors must give the vectors it holds

    def __call__(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._run(texts, None, progress)[0]

    def encode_with_sentences(self, texts: list[str], spans: list[list[tuple[int, int]]], progress: bool = False
                              ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Like `Embedder.encode_with_sentences`, on the actors."""
        return self._run(texts, spans, progress)

    def _run(self, texts: list[str], spans, progress: bool) -> tuple[np.ndarray, list[np.ndarray | None]]:
        ray = _ray()
        started_here = False
        if not ray.is_initialized():
            if self.address in (None, "", "local"):
                start_local(int(self.actors * self.cpus_per_actor))
            else:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            started_here = True
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = progress
            items = [{"row": i, "text": t} for i, t in enumerate(texts)]
            if spans is not None:
                items = [{**item, "spans": json.dumps(s)} for item, s in zip(items, spans)]
            ds = ray.data.from_items(items)
            out = ds.map_batches(
                EmbedActor,
                fn_constructor_kwargs={"model_path": str(self.model_path) if self.model_path else None,
                                       "batch_size": self.model_batch_size, "precision": self.precision},
                batch_size=self.batch_size,
                concurrency=self.actors,
                num_cpus=self.cpus_per_actor,
                batch_format="numpy",
            )
            rows = out.take_all()
        finally:
            if started_here:
                ray.shutdown()
        if not rows:
            return np.zeros((0, Embedder.shared(self.model_path, self.precision).dim), dtype=np.float32), []
        order = np.argsort([int(r["row"]) for r in rows])
        if len(order) != len(texts):
            raise EmbeddingFailed(f"Ray returned {len(order)} vectors for {len(texts)} texts")
        vectors = np.ascontiguousarray(np.vstack([rows[i]["vector"] for i in order]), dtype=np.float32)
        sentences: list[np.ndarray | None] = []
        if spans is not None:
            dim = vectors.shape[1]
            for i in order:
                blob = bytes(rows[i]["sentences"])
                sentences.append(np.frombuffer(blob, np.float32).reshape(-1, dim) if blob else None)
        return vectors, sentences
