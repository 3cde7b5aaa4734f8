"""The storage contract: what the engine needs from a store, whatever keeps the vectors and text.

A store holds published versions of an index. Reads go to an immutable `Snapshot` of one version;
writes go through a `Writer` that prepares the next version and publishes it with `commit()` (or
drops it with `abort()`), one writer at a time under the index folder's lock. `qa.search`,
`qa.answer` and `qa.index` call only what these protocols name; a new back-end (Qdrant, pgvector,
Elasticsearch…) implements them and is chosen in `qa.stores.open_store`. The contract tests in
`tests/test_stores.py` and every engine test run on each store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import resource
import shutil
import threading
from collections import OrderedDict
from collections.abc import Collection, Hashable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from qa.chunk import Chunk
from qa.errors import IndexIncompatible, IndexLocked, IndexWriteFailed
from qa.formats.meta import DocumentMeta
from qa.settings import FORMAT_VERSION, LexicalSettings
from qa.sources import Document, Section


@dataclass(frozen=True)
class StoredChunk:
    id: int
    doc_id: str
    source: str
    title: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None
    section: str
    text: str
    search_text: str
    sentences: tuple[tuple[int, int], ...]
    # One unit vector per sentence, from the build (NaN rows: encode that sentence at ask time);
    # None when the store holds none for this chunk.
    sentence_vectors: np.ndarray | None = field(default=None, compare=False, repr=False)
    meta: DocumentMeta = DocumentMeta()  # the document's author, published date and URL


@dataclass(frozen=True)
class StoredDocument:
    id: str
    source: str
    path: str
    title: str
    format: str
    content_hash: str
    chunker: str
    added_at: float
    meta: DocumentMeta = DocumentMeta()


class Recent:
    """What was used lately, by key (bounded, least recently used first out, thread-safe): the
    chunk rows a version served (a version never changes, so a remembered row is always right;
    reading a row is much of what an ask costs on a small index; 2,048 rows hold about 20 MB), and
    the vectors of conversation turns (qa.converse.TurnVectors)."""

    def __init__(self, size: int = 2048):
        self.size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def split(self, keys: list) -> tuple[dict, list]:
        """(the items remembered, the keys still to fetch)."""
        known: dict = {}
        with self._lock:
            for key in keys:
                item = self._items.get(key)
                if item is not None:
                    known[key] = item
                    self._items.move_to_end(key)
        return known, [key for key in keys if key not in known]

    def remember(self, items: Mapping) -> None:
        with self._lock:
            for key, item in items.items():
                self._items[key] = item
                self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def meta_to_json(meta: DocumentMeta) -> str:
    return json.dumps({k: v for k, v in asdict(meta).items() if v is not None}, ensure_ascii=False)


def meta_from(data: dict | str | None) -> DocumentMeta:
    """DocumentMeta from stored JSON or a row's dict (keys it lacks are None: older indexes have none)."""
    if isinstance(data, str):
        return _meta_from_json(data)
    data = data if isinstance(data, dict) else {}
    return DocumentMeta(data.get("author"), data.get("published"), data.get("url"))


@functools.lru_cache(maxsize=4096)
def _meta_from_json(text: str) -> DocumentMeta:
    """Every chunk row carries its document's metadata JSON; an ask reads ~60 rows of a few
    documents, so each distinct JSON is parsed once (DocumentMeta is frozen: sharing is safe)."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        data = {}
    return meta_from(data if isinstance(data, dict) else {})


@dataclass(frozen=True)
class IndexedDocument:
    """What a writer knows of a document already in the index, to decide whether to re-index it."""

    id: str
    content_hash: str
    chunker: str  # the chunk settings it was cut with (JSON)
    path: str  # the file it was read from (absolute)
    format: str = ""  # Document.format ("pdf+ocr": read by OCR, not read again while unchanged)


def pack_vectors(vectors: np.ndarray) -> bytes:
    """Sentence vectors as float16 bytes: half the space, cosines within ~1e-3 of float32."""
    return np.asarray(vectors, dtype=np.float16).tobytes()


def unpack_vectors(blob: bytes | None, dim: int) -> np.ndarray | None:
    if not blob:
        return None
    flat = np.frombuffer(blob, dtype=np.float16)
    return flat.astype(np.float32).reshape(-1, dim) if len(flat) % dim == 0 else None


def check_format(manifest: dict, where: Path | str) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexIncompatible(
            f"index {where} has format {manifest.get('format_version')}, this qa reads format "
            f"{FORMAT_VERSION}; rebuild it with: qa build --full --index {where}"
        )


@contextlib.contextmanager
def folder_lock(root: Path, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """The single-writer lock of an index folder (every store keeps its lock there).
    `wait=False` refuses at once when another build holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IndexLocked(f"another build is updating {root}; try again when it finishes") from None
            if on_wait:
                on_wait(f"another build is updating {root}; waiting for it to finish…")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_failure(error: BaseException, index: Path) -> IndexWriteFailed:
    """What to tell a person when writing a new version failed (the previous version keeps answering).

    SQLite reports a full disk as "database or disk is full" or, writing its WAL, as a disk I/O
    error, and hides the errno of a file-size limit: both are read from the machine instead."""
    text = str(error)
    code = getattr(error, "errno", None)
    folder = next((p for p in (index, *index.absolute().parents) if p.exists()), Path("."))
    free = shutil.disk_usage(folder).free / 2**20
    capped = resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY
    if code == errno.EFBIG or (capped and not isinstance(error, OSError)):
        why = f"a file in {index} would exceed the file size limit (ulimit -f)"
    elif code in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text or "No space left" in text or free < 1:
        why = f"no space left on the device holding {index} ({free:.1f} MB free)"
    else:
        why = f"writing {index} failed: {type(error).__name__}: {text}"
    return IndexWriteFailed(f"{why}; the build was abandoned and the previous version of the index is unchanged")


class Snapshot(Protocol):
    """One published version, read-only and safe to share between threads."""

    version: str
    manifest: dict

    # -- retrieval ---------------------------------------------------------------------------
    def dense_search(self, query_vectors: np.ndarray, k: int,
                     doc_ids: Collection[str] | None = None) -> list[list[tuple[int, float]]]:
        """For each query vector, the k chunks of highest inner product: (chunk id, score), best first.
        With `doc_ids`, only chunks of those documents, searched inside them: k come back whenever
        they hold k (never a global top k filtered afterwards)."""

    def lexical_search(self, terms: list[str], depth: int, score_ids: Collection[int] = (),
                       expansion: Mapping[str, float] = {}, doc_ids: Collection[str] | None = None) -> dict[int, float]:
        """BM25 scores for `terms` (stemmed, repeats count): the `depth` best chunks (of `doc_ids`,
        when given) and the chunks in `score_ids`; chunks that score 0 may be left out. `expansion`
        adds weighted terms' scores (a store may add them to the scored chunks only, not let them
        pick the best)."""

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, one row each, in order."""

    def idf(self, terms: list[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term over all chunks."""

    def use_bm25_params(self, lexical: LexicalSettings) -> None:
        """Score BM25 with other parameters from now on (for measuring them without a rebuild)."""

    # -- reading -----------------------------------------------------------------------------
    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]: ...

    def doc_chunks(self, doc_id: str) -> list[StoredChunk]:
        """Every chunk of a document, in order."""

    def documents(self) -> list[StoredDocument]:
        """Every document, ordered by source."""

    def document_text(self, doc_id_or_source: str) -> str | None: ...

    def document_pages(self, doc_id: str) -> tuple[tuple[int, ...], tuple[Section, ...]]: ...

    def file_stats(self) -> dict[str, tuple[int, int]]:
        """source -> (size, mtime_ns) of the file each document was read from."""

    def count(self) -> tuple[int, int]:
        """(documents, chunks)."""

    def check(self) -> list[str]:
        """Consistency problems of this version (empty: every vector has its row and back)."""

    def close(self) -> None: ...


class Writer(Protocol):
    """Prepares the next version from a base version; nothing is visible until `commit()`."""

    touched: bool  # a document's file stats changed (so a version is worth publishing)

    @property
    def counts(self) -> tuple[int, int]:
        """(documents, chunks) of the committed version."""

    def documents(self) -> dict[str, IndexedDocument]:
        """source -> what the index holds of it, for every document of the version being written."""

    def touch(self, source: str, stat: tuple[int, int]) -> None:
        """Record a new (size, mtime_ns) for an unchanged document, so it is not read again."""

    def remove(self, doc_ids: list[str]) -> int:
        """Remove these documents and their chunks; returns the number of chunks removed."""

    def add(self, doc: Document, chunks: list[Chunk], search_texts: list[str], vectors: np.ndarray, chunker: str,
            stat: tuple[int, int] = (0, 0), sentence_vectors: list[np.ndarray | None] | None = None) -> None:
        """Insert a document, its chunks and their vectors; `stat` is the file's (size, mtime_ns);
        `sentence_vectors[i]` holds one row per sentence of chunks[i] (or None)."""

    def commit(self, manifest: dict) -> str:
        """Verify, publish and return the new version's name. After it, readers see the new version."""

    def abort(self) -> None:
        """Drop everything this writer prepared; the published version is unchanged."""


class Store(Protocol):
    """Where an index lives. The index folder always holds the writer lock and the embedding cache."""

    # The exceptions of its back-end that mean storage failed: the engine wraps them into
    # IndexWriteFailed (writing) or IndexUnreadable (reading), so they never reach a caller.
    errors: tuple[type[BaseException], ...]

    def exists(self) -> bool: ...

    def current_version(self) -> str | None: ...

    def manifest(self) -> dict:
        """The current version's manifest (IndexMissing when there is none)."""

    def open(self) -> Snapshot:
        """The current version, loaded read-only (IndexMissing when there is none)."""

    def lock(self, wait: bool = True, on_wait: Callable[[str], None] | None = None
             ) -> contextlib.AbstractContextManager:
        """The single-writer lock; held around every writer."""

    def writer(self, base: Snapshot | None, dim: int) -> Writer:
        """A writer of the next version, starting from `base` (None: an empty index)."""

    def bm25_params(self, wanted: LexicalSettings) -> dict:
        """The BM25 settings this store scores with when `wanted` is asked for (recorded in the manifest)."""
