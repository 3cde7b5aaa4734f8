"""The same sentence-transformers model run by ONNX Runtime: no torch import on the query path.

A cold `qa ask` spent most of its time importing torch and sentence-transformers (8.9–10.5 s in
all on the benchmark machine, 1.3–1.7 s with this module). ONNX Runtime with the model's own
`tokenizer.json` loads in a fraction of that. The ONNX file is exported once from the model folder (torch is needed for the
export only) into a cache folder, and used only for models whose sentence-transformers pipeline is
plain: Transformer → mean or CLS pooling → optional Normalize. Anything else keeps torch.

`variant="int8"` is the same graph with its weights quantized to int8, one scale per output
channel, and activations quantized on the fly (dynamic quantization): about twice torch's
encoding speed on AVX-512 VNNI cores (docs/performance.md gives its speed and quality).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from qa.settings import cache_root, encode_workers_override

VARIANTS = ("fp32", "int8")
# Per-channel weight scales: least cosine to fp32 0.990 on SQuAD chunks, against 0.913 with one
# scale per tensor (the earlier "model-int8.onnx", whose dense recall@5 dropped 0.013).
VARIANT_FILES = {"fp32": "model-fp32.onnx", "int8": "model-int8-per-channel.onnx"}




def _model_key(model_dir: Path) -> str:
    """Changes when the weights or the config of the model folder change."""
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "tokenizer.json", "sentence_bert_config.json"):
        f = model_dir / name
        if f.exists():
            h.update(f.read_bytes())
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("pytorch_model.bin")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}".encode())
    return h.hexdigest()[:12]


def _pipeline(model_dir: Path) -> dict | None:
    """Pooling and normalization of a plain sentence-transformers folder, or None if it is not one."""
    modules_file = model_dir / "modules.json"
    if not modules_file.exists() or not (model_dir / "tokenizer.json").exists():
        return None
    modules = json.loads(modules_file.read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    if modules[0].get("path", "") != "":
        return None
    pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
        return None
    max_len = 512
    sbert = model_dir / "sentence_bert_config.json"
    if sbert.exists():
        max_len = int(json.loads(sbert.read_text()).get("max_seq_length") or max_len)
    return {"pooling": "mean" if modes[0] == "pooling_mode_mean_tokens" else "cls",
            "normalize": kinds[-1] == "Normalize", "max_len": max_len}


def onnx_folder(model_dir: Path) -> Path:
    return cache_root() / "onnx" / f"{model_dir.name}-{_model_key(model_dir)}"


def exported(model_dir: Path, variant: str = "fp32") -> Path | None:
    f = onnx_folder(model_dir) / VARIANT_FILES[variant]
    return f if f.exists() else None


@contextlib.contextmanager
def _quietly():
    """The one-off export's libraries warn about tracing and quantization details that are expected
    here, and one of them configures the root logger on import (after which every library's debug
    lines print). A user's first build shows none of it, and the host's logging is left as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.addHandler(logging.NullHandler())  # makes a library's logging.basicConfig() a no-op
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def export(model_dir: Path, variant: str = "fp32") -> Path:
    """Write the ONNX graph of the model folder's transformer (and its int8 version) to the cache."""
    with _quietly():
        return _export(model_dir, variant)


def _export(model_dir: Path, variant: str) -> Path:
    if _pipeline(model_dir) is None:
        raise ValueError(f"{model_dir} is not a plain sentence-transformers model (Transformer, Pooling, Normalize)")
    folder = onnx_folder(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model-fp32.onnx"
    if not fp32.exists():
        import torch
        from transformers import AutoModel

        bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

        class Wrapped(torch.nn.Module):  # keyword arguments: positional order differs across versions
            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state

        model = Wrapped().eval()
        ids = torch.ones((2, 8), dtype=torch.long)
        tmp = folder / f".model-fp32.{os.getpid()}.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model, (ids, ids, torch.zeros_like(ids)), str(tmp), dynamo=False, opset_version=17,
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"},
                              "token_type_ids": {0: "b", 1: "s"}, "last_hidden_state": {0: "b", 1: "s"}},
            )
        os.replace(tmp, fp32)
    if variant == "int8":
        int8 = folder / VARIANT_FILES["int8"]
        if not int8.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = folder / f".model-int8.{os.getpid()}.onnx"
            quantize_dynamic(str(fp32), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
            os.replace(tmp, int8)
        return int8
    return fp32


Span = tuple[int, int]


class TokenEncoder:
    """Tokenize with the model's `tokenizer.json`, run the transformer, pool like sentence-transformers.

    Subclasses supply `_hidden` (the transformer's last hidden state). Besides one vector per text,
    `encode(texts, spans=...)` pools the tokens inside given character spans of each text: vectors
    of its sentences *in context* ("late chunking"), from the same forward pass as the text's own
    vector, so a build gets sentence vectors at no extra model cost.
    """

    def __init__(self, model_dir: Path):
        from tokenizers import Tokenizer

        pipeline = _pipeline(model_dir)
        if pipeline is None:
            raise ValueError(f"{model_dir} is not a plain sentence-transformers model (Transformer, Pooling, Normalize)")
        self.pooling, self.normalize, self.max_len = pipeline["pooling"], pipeline["normalize"], pipeline["max_len"]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_len)
        self.dim: int | None = None

    def _hidden(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _normalized(self, vectors: np.ndarray) -> np.ndarray:
        if self.normalize:
            vectors = vectors / np.clip(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12, None)
        return vectors

    def encode(self, texts: list[str], batch_size: int = 32, spans: list[list[Span]] | None = None,
               progress: bool = False):
        """Vectors of `texts`; with `spans`, also (vectors, span_vectors), where span_vectors[i] is
        an (len(spans[i]), dim) array whose rows are NaN for spans no whole token falls in
        (empty, or cut off by the model's maximum length)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")  # like sentence-transformers
        out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        span_out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        starts = range(0, len(order), batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            part = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in part)
            ids = np.zeros((len(part), width), dtype=np.int64)
            mask = np.zeros((len(part), width), dtype=np.int64)
            types = np.zeros((len(part), width), dtype=np.int64)
            for row, i in enumerate(part):
                e = encodings[i]
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = e.attention_mask
                types[row, : len(e.ids)] = e.type_ids
            hidden = self._hidden({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            if self.pooling == "mean":
                m = mask[:, :, None].astype(np.float32)
                vectors = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            else:
                vectors = hidden[:, 0]
            vectors = self._normalized(vectors)
            for row, i in enumerate(part):
                out[i] = vectors[row]
                if spans is not None:
                    span_out[i] = self._pool_spans(hidden[row], encodings[i], spans[i])
        vectors = np.ascontiguousarray(np.vstack(out), dtype=np.float32)
        return vectors if spans is None else (vectors, span_out)

    def _pool_spans(self, hidden: np.ndarray, encoding, spans: list[Span]) -> np.ndarray:
        offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        real = (offsets[:, 1] > offsets[:, 0]) & (np.array(encoding.special_tokens_mask) == 0)
        pooled = np.full((len(spans), hidden.shape[-1]), np.nan, dtype=np.float32)
        for j, (a, b) in enumerate(spans):
            inside = real & (offsets[:, 0] >= a) & (offsets[:, 1] <= b)
            if inside.any():
                pooled[j] = hidden[: len(offsets)][inside].mean(axis=0)
        return self._normalized(pooled).astype(np.float32)


class TorchTokenEncoder(TokenEncoder):
    """The transformer of a loaded SentenceTransformer, run by torch (bulk encoding in builds)."""

    def __init__(self, model_dir: Path, transformer):
        super().__init__(model_dir)
        self.transformer = transformer  # a transformers PreTrainedModel (SentenceTransformer[0].auto_model)

    def _hidden(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.transformer(**{k: torch.from_numpy(v) for k, v in feed.items()})
        return out.last_hidden_state.float().numpy()


class OnnxEncoder(TokenEncoder):
    """Encodes like SentenceTransformer.encode(normalize_embeddings=True), with ONNX Runtime."""

    def __init__(self, model_dir: Path, variant: str = "fp32", threads: int | None = None):
        import onnxruntime as ort

        ort.disable_telemetry_events()  # no usage events leave the machine (Windows builds send them)
        path = exported(model_dir, variant)
        if _pipeline(model_dir) is None or path is None:
            raise FileNotFoundError(f"no ONNX export of {model_dir} ({variant}); qa.onnx_embed.export() makes one")
        super().__init__(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: on a busy machine spinning workers fight for cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1]) if isinstance(self.session.get_outputs()[0].shape[-1], int) else None

    def _hidden(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]


class ParallelEncoder:
    """One-thread ONNX Runtime sessions, one per core, each encoding an interleaved share of the texts.

    Encoding one text per run (int8, see qa.embed), a run's matrix products are too small to keep
    two threads busy: on 2 cores two one-thread sessions side by side encoded 66.6 chunks/s
    against 44.4 for one two-thread session, with the same vectors (docs/performance.md).
    ONNX Runtime releases the GIL while it runs, so Python threads are enough.
    """

    def __init__(self, model_dir: Path, variant: str = "int8", workers: int | None = None):
        from concurrent.futures import ThreadPoolExecutor

        self.workers = max(1, workers or encode_workers())
        self.encoders = [OnnxEncoder(model_dir, variant, threads=1) for _ in range(self.workers)]
        self.dim = self.encoders[0].dim
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="qa-encode")

    def encode(self, texts: list[str], batch_size: int = 1, spans: list[list[Span]] | None = None,
               progress: bool = False):
        """Same results as OnnxEncoder.encode (vectors, or (vectors, span vectors) with `spans`)."""
        shares = [list(range(i, len(texts), self.workers)) for i in range(self.workers)]
        shares = [share for share in shares if share]

        def run(job: tuple[int, list[int]]):
            n, share = job
            part_spans = None if spans is None else [spans[i] for i in share]
            # One progress bar, on the first share: shares are interleaved, so it tracks the whole.
            return self.encoders[n].encode([texts[i] for i in share], batch_size, part_spans, progress and n == 0)

        if not texts:
            empty = np.zeros((0, self.dim or 0), dtype=np.float32)
            return empty if spans is None else (empty, [])
        results = [r if spans is not None else (r, None) for r in self.pool.map(run, enumerate(shares))]
        vectors = np.zeros((len(texts), results[0][0].shape[1]), dtype=np.float32)
        span_out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        for share, (part_vectors, part_spans) in zip(shares, results):
            vectors[share] = part_vectors
            for i, v in zip(share, part_spans or []):
                span_out[i] = v
        return vectors if spans is None else (vectors, span_out)


def encode_workers() -> int:
    """Cores this process may use (QA_ENCODE_WORKERS overrides)."""
    override = encode_workers_override()
    if override:
        return override
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
