"""One ingest path: a loaded Document → chunks → the texts the model embeds, where each sentence
stands in them, and the keys their vectors are cached under; then the vectors themselves, from
the embedding cache or one forward pass.

`Index.build`, `qa eval` and `qa bench` all go through here, so an evaluation measures exactly
what a build indexes, and a vector embedded by one is found in the cache by the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from qa.chunk import Chunk, Span, TokenCounter, chunk_document, embedding_text, sentence_spans_in, text_hash
from qa.clean import boilerplate
from qa.settings import ChunkSettings
from qa.sources import Document, find_files, load
from qa.stores.cache import EmbeddingCache


@dataclass(frozen=True)
class PreparedDocument:
    """A document cut into chunks, with what the model reads of each chunk."""

    doc: Document
    chunks: tuple[Chunk, ...]
    search_texts: tuple[str, ...]  # what is embedded (and BM25-indexed) for each chunk
    sentence_spans: tuple[tuple[Span, ...], ...]  # each chunk's sentences inside its search text

    @property
    def vector_keys(self) -> list[str]:
        """Embedding-cache keys of the chunk vectors: the hash of the embedded text."""
        return [text_hash(t) for t in self.search_texts]

    @property
    def sentence_keys(self) -> list[str]:
        """Embedding-cache keys of the sentence vectors: the text and where its sentences stand."""
        return [sentence_key(t, s) for t, s in zip(self.search_texts, self.sentence_spans)]


def sentence_key(text: str, spans) -> str:
    return text_hash(f"{text}\0{json.dumps([list(s) for s in spans])}")


def prepare(doc: Document, settings: ChunkSettings, count_tokens: TokenCounter | None) -> PreparedDocument:
    """Clean, chunk and lay out one document for embedding."""
    chunks = chunk_document(doc, boilerplate(doc.text, keep=doc.tables), settings, count_tokens)
    texts = [embedding_text(c, doc.title, settings) for c in chunks]
    spans = [tuple(sentence_spans_in(t, c)) for t, c in zip(texts, chunks)]
    return PreparedDocument(doc, tuple(chunks), tuple(texts), tuple(spans))


def prepare_folder(paths: list[str | Path], settings: ChunkSettings,
                   count_tokens: TokenCounter | None) -> Iterator[PreparedDocument]:
    """Every readable document under `paths`, prepared (unreadable files are passed over)."""
    for f in find_files(paths).files:
        doc = load(f)
        if isinstance(doc, Document):
            yield prepare(doc, settings, count_tokens)


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # one row per text
    sentence_vectors: list[np.ndarray | None]  # per text: one row per sentence, or None
    encoded: int  # how many texts the model had to encode (the rest came from the cache)


BulkEncode = Callable[..., np.ndarray]


def embed_with_cache(texts: list[str], spans: list, embedder, cache_file: Path, dim: int,
                     bulk_encode: BulkEncode | None = None, progress: bool = False) -> Embedded:
    """Vectors of the texts and of their sentences (at `spans`), from the cache or one forward pass.

    `bulk_encode` embeds instead of the embedder (e.g. `qa.ray_embed.RayEncoder`; one with an
    `encode_with_sentences` method gives the sentence vectors too, else they are encoded at ask time).
    """
    if not texts:
        return Embedded(np.zeros((0, dim), dtype=np.float32), [], 0)
    hashes = [text_hash(t) for t in texts]
    keys = [sentence_key(t, s) for t, s in zip(texts, spans)]
    cache = EmbeddingCache(cache_file)
    try:
        known = cache.get(embedder.name, hashes, dim)
        known_sentences = cache.get_sentences(embedder.name, keys, dim)
        # One of each (text, spans) that lacks its vector or its sentence vectors.
        todo = list({keys[i]: i for i in range(len(texts)) if hashes[i] not in known or keys[i] not in known_sentences}.values())
        if todo:
            todo_texts, todo_spans = [texts[i] for i in todo], [list(spans[i]) for i in todo]
            if bulk_encode is None or hasattr(bulk_encode, "encode_with_sentences"):
                encode = getattr(bulk_encode, "encode_with_sentences", embedder.encode_with_sentences)
                fresh, fresh_sentences = encode(todo_texts, todo_spans, progress=progress)
            else:  # a plain text -> vectors encoder: sentences are then encoded at ask time
                fresh, fresh_sentences = bulk_encode(todo_texts, progress=progress), [None] * len(todo)
            new = {hashes[i]: v for i, v in zip(todo, fresh)}
            new_sentences = {keys[i]: v for i, v in zip(todo, fresh_sentences)}
            cache.put(embedder.name, new)
            cache.put_sentences(embedder.name, new_sentences)
            known.update(new)
            known_sentences.update(new_sentences)
    finally:
        cache.close()
    vectors = np.vstack([known[h] for h in hashes]).astype(np.float32)
    return Embedded(vectors, [known_sentences[key] for key in keys], len(todo))
