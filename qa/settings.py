"""Defaults shared by the stages, and where the default corpus and index live."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

FORMAT_VERSION = 1
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut into passages; stored in the manifest, a change means re-chunking."""

    # A passage a person reads at a glance. 900 raised SQuAD recall@5 (articles 1-24: 0.958 -> 0.961,
    # its paragraphs then fit whole) but not SciFact train (0.733 -> 0.732), and the seed
    # questions' answering sentence came first less often (19 -> 16 of 24): kept at 700.
    max_chars: int = 700
    # The bundled MiniLM reads 256 tokens (max_seq_length); a chunk stops before it would overflow
    # them with its title, so no sentence is left out of the dense vector (0: no token limit).
    max_tokens: int = 256
    overlap_sentences: int = 1  # the last sentence of a chunk opens the next one
    title_in_embedding: bool = True  # prefix "title › section" to the text that is embedded

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LexicalSettings:
    """BM25 over the chunks' stemmed terms; stored in the manifest, applied when the BM25 index is
    next written (every build or update rewrites it; nothing is re-embedded)."""

    # Anserini's BM25 setting for BEIR rather than bm25s's 1.5 / 0.75: on the tuning data (SQuAD
    # articles 1-24, SciFact train) a grid from k1 0.5-2.0 and b 0.2-1.0 moved every figure by
    # less than 0.005, and this point was among the best on both (README "Answer quality").
    k1: float = 0.9
    b: float = 0.4

    def to_dict(self) -> dict:
        return asdict(self)


# bm25s's own defaults: what indexes whose manifest names no BM25 settings were written with, and
# what the Milvus store scores with (qa.store_milvus).
BM25S_DEFAULTS = LexicalSettings(k1=1.5, b=0.75)


def default_sources() -> Path:
    """./seeds when it exists, else the seeds that ship beside the package."""
    env = os.environ.get("QA_SOURCES")
    if env:
        return Path(env)
    local = Path("seeds")
    return local if local.is_dir() else PROJECT_ROOT / "seeds"


def default_index() -> Path:
    env = os.environ.get("QA_INDEX")
    if env:
        return Path(env)
    return Path("index") if Path("seeds").is_dir() else PROJECT_ROOT / "index"
