"""The default store: FAISS vectors keyed by chunk id, SQLite documents and chunks, BM25 arrays,
all in the index folder.

Layout of an index folder:

    CURRENT            name of the version being served (replaced atomically)
    v000007/           one immutable version
        manifest.json  format version, model and dimension, chunker settings, fingerprint, counts
        index.sqlite   documents and chunks (text, offsets, lines, pages, sentence spans)
        vectors.faiss  FAISS IndexIDMap2: id = chunk id, so chunks can be removed and replaced
        bm25/          bm25s arrays + JSON (no pickle), and bm25_ids.npy mapping rows to chunk ids
    embeddings.sqlite  cache of vectors by (model, text hash), shared by all versions
    .lock              held by the one writer at a time

A writer copies the current version into a temporary folder, applies its changes, verifies that
vectors and rows agree, fsyncs, renames the folder into place and only then points CURRENT at it.
A build that fails or is killed leaves CURRENT on the previous version. Nothing is pickled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from qa.chunk import Chunk
from qa.errors import IndexIncompatible, IndexMissing, IndexUnreadable, IndexWriteFailed
from qa.settings import FORMAT_VERSION, LexicalSettings, faiss_threads
from qa.sources import Document, Section
from qa.stores.base import (IndexedDocument, Recent, StoredChunk, StoredDocument, check_format, folder_lock, meta_from, meta_to_json,
                            pack_vectors, unpack_vectors, write_failure)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    pages TEXT NOT NULL,
    sections TEXT NOT NULL,
    chunker TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    added_at REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(id),
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    line_start INTEGER NOT NULL,
    line_end INTEGER NOT NULL,
    page INTEGER,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    search_text TEXT NOT NULL,
    sentences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS sentence_vectors (
    chunk_id INTEGER PRIMARY KEY,
    vectors BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chunk_terms (
    chunk_id INTEGER PRIMARY KEY,
    terms TEXT NOT NULL
);
"""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*"), reverse=True):
        _fsync(p)
    _fsync(folder)


EXACT_SEARCH_LIMIT = 200_000  # below this many chunks exact search is fast enough (~20 ms at 200k)
IVF_NPROBE_SHARE = 1 / 32  # share of IVF lists searched: recall@10 0.98 against exact at 1M, p50 ~20 ms (benchmarks/million.py)
IVF_LISTS_PER_SQRT = 1.0  # nlist = this × √n: 1,000 lists at 1M; 4√n costs 16× the k-means work (4× lists, 4× sample)


_IVF_COPY_ROWS = 65_536  # vectors per slice when a flat index is copied into IVF (96 MB at 384-d)


def _new_vector_index(dim: int):
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _is_ivf(index) -> bool:
    import faiss

    return isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def _to_ivf(flat, dim: int):
    """An IVF index with the same ids and vectors. IVF keeps `remove_ids` (HNSW cannot remove),
    so incremental updates keep working at any size; a hashtable direct map keeps `reconstruct`."""
    import faiss

    ids = _faiss_ids(flat)  # storage order of the flat vectors
    nlist = int(IVF_LISTS_PER_SQRT * np.sqrt(len(ids)))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(ids), size=min(len(ids), nlist * 64), replace=False)
    ivf.train(np.vstack([flat.index.reconstruct(int(i)) for i in sample]))
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    # Copied a slice at a time: a whole copy of the vectors next to the flat index and the IVF one
    # would hold three times 1.5 GB at a million chunks.
    for start in range(0, len(ids), _IVF_COPY_ROWS):
        count = min(_IVF_COPY_ROWS, len(ids) - start)
        ivf.add_with_ids(flat.index.reconstruct_n(start, count), ids[start : start + count])
    ivf.nprobe = max(8, int(nlist * IVF_NPROBE_SHARE))
    return ivf


def _faiss_ids(index) -> np.ndarray:
    import faiss

    if _is_ivf(index):
        ivf = faiss.extract_index_ivf(index)
        invlists = ivf.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(list_no), invlists.list_size(list_no)).copy()
            for list_no in range(ivf.nlist)
            if invlists.list_size(list_no)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
    return faiss.vector_to_array(index.id_map).astype(np.int64)


_CHUNK_COLUMNS = (
    "c.id, c.doc_id, d.source, d.title, c.start, c.end, c.line_start, c.line_end, c.page, "
    "c.section, c.text, c.search_text, c.sentences"
)


def _stored_chunk(row, meta_json: str, blob: bytes | None = None, dim: int = 0) -> StoredChunk:
    sentences = tuple(tuple(s) for s in json.loads(row[12]))
    vectors = unpack_vectors(blob, dim) if blob is not None and dim else None
    if vectors is not None and len(vectors) != len(sentences):
        vectors = None
    return StoredChunk(*row[:12], sentences=sentences, sentence_vectors=vectors, meta=meta_from(meta_json))


class FaissSnapshot:
    """One published version, loaded read-only. Safe to share between threads."""

    def __init__(self, folder: Path):
        import faiss

        self.folder = folder
        self.version = folder.name
        self.manifest = json.loads((folder / "manifest.json").read_text())
        check_format(self.manifest, folder.parent)
        uri = f"file:{(folder / 'index.sqlite').as_posix()}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._db_lock = threading.Lock()
        # Indexes written before sentence vectors were stored have no such table: sentences are
        # then encoded at ask time.
        self._sentence_join = "LEFT JOIN sentence_vectors s ON s.chunk_id = c.id" if self._query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sentence_vectors'") else ""
        # Indexes written before documents had metadata have no meta column: none is known.
        self._meta = "d.meta" if any(r[1] == "meta" for r in self._query("PRAGMA table_info(documents)")) else "'{}'"
        self.vectors = faiss.read_index(str(folder / "vectors.faiss"))
        # One question is one small search: OpenMP workers cost more to wake than they save, and on
        # a busy machine they spin against other processes (21k chunks, load ~6: 42 ms with 2
        # threads, 6 ms with 1). Set QA_FAISS_THREADS for batch searches in your own code.
        faiss.omp_set_num_threads(faiss_threads())
        if _is_ivf(self.vectors):
            ivf = faiss.extract_index_ivf(self.vectors)
            ivf.nprobe = max(8, int(ivf.nlist * IVF_NPROBE_SHARE))
        self._bm25 = None
        self._bm25_ids: np.ndarray | None = None
        self._bm25_lock = threading.Lock()
        self._chosen: dict[frozenset[str], tuple] = {}  # recent document choices: (chunk ids, selector)
        self._documents: list[StoredDocument] | None = None
        self._recent = Recent()  # chunk rows by id
        # Open everything now (BM25 memory-mapped): once open, this version keeps answering even
        # after a newer build has published and its folder has been collected.
        self._load_bm25()

    # -- reads -------------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            with self._db_lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            raise IndexUnreadable(f"{self.folder / 'index.sqlite'} cannot be read ({e}); "
                                  f"rebuild the index with: qa build --full --index {self.folder.parent}") from e

    def dense_search(self, query_vectors: np.ndarray, k: int,
                     doc_ids: Collection[str] | None = None) -> list[list[tuple[int, float]]]:
        import faiss

        allowed, selector = self._chosen_chunks(doc_ids) if doc_ids is not None else (None, None)
        k = min(k, self.vectors.ntotal if allowed is None else len(allowed))
        if k <= 0:
            return [[] for _ in range(len(query_vectors))]
        query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
        if allowed is None:
            scores, ids = self.vectors.search(query_vectors, k)
        else:
            # Searched inside the chosen documents (an ID selector), not filtered after: k come back
            # whenever the documents hold k chunks.
            if _is_ivf(self.vectors):
                ivf = faiss.extract_index_ivf(self.vectors)
                scores, ids = self.vectors.search(query_vectors, k, params=faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe))
                if (ids < 0).any():  # the probed lists held fewer: probe them all
                    scores, ids = self.vectors.search(query_vectors, k, params=faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nlist))
            else:
                scores, ids = self.vectors.search(query_vectors, k, params=faiss.SearchParameters(sel=selector))
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores) if i >= 0] for row_ids, row_scores in zip(ids, scores)]

    def _chosen_chunks(self, doc_ids: Collection[str]):
        """(sorted chunk ids, FAISS ID selector) of these documents, remembered for the last few choices."""
        import faiss

        key = doc_ids if isinstance(doc_ids, frozenset) else frozenset(doc_ids)
        with self._db_lock:
            known = self._chosen.get(key)
        if known is None:
            wanted = sorted(key)
            ids = np.array(sorted(r[0] for i in range(0, len(wanted), _BATCH_ROWS) for r in self._query(
                f"SELECT id FROM chunks WHERE doc_id IN ({','.join('?' * len(wanted[i:i + _BATCH_ROWS]))})",
                tuple(wanted[i:i + _BATCH_ROWS]))), dtype=np.int64)
            known = (ids, faiss.IDSelectorBatch(ids))
            with self._db_lock:
                if len(self._chosen) >= 16:
                    self._chosen.pop(next(iter(self._chosen)))
                self._chosen[key] = known
        return known

    def _load_bm25(self):
        with self._bm25_lock:
            if self._bm25 is None:
                import bm25s

                self._bm25_ids = np.load(self.folder / "bm25_ids.npy", allow_pickle=False)
                if (self.folder / "bm25").is_dir():
                    self._bm25 = bm25s.BM25.load(str(self.folder / "bm25"), mmap=True, allow_pickle=False)
        return self._bm25

    def use_bm25_params(self, lexical: LexicalSettings) -> None:
        """Score BM25 with other parameters from now on, re-indexed in memory from the stored terms
        (seconds; for measuring LexicalSettings without a rebuild, as `qa eval --set lexical.k1=…` does)."""
        bm25 = self._load_bm25()
        if bm25 is None or (bm25.k1, bm25.b) == (lexical.k1, lexical.b):
            return
        ids, fresh = _fit_bm25(self._query(_TERMS_BY_CHUNK), lexical.k1, lexical.b)
        if not np.array_equal(ids, self._bm25_ids):
            raise IndexUnreadable(f"{self.folder}: stored terms and the BM25 index disagree; rebuild with qa build --full")
        with self._bm25_lock:
            self._bm25 = fresh

    def lexical_search(self, terms: list[str], depth: int, score_ids: Collection[int] = (),
                       expansion: Mapping[str, float] = {}, doc_ids: Collection[str] | None = None) -> dict[int, float]:
        """BM25 over every chunk (bm25s's arrays): the `depth` best for the terms and the weighted
        expansion terms together (among the chunks of `doc_ids`, when given), and the scores of `score_ids`."""
        ids, scores = self.bm25_scores(terms)
        for term, weight in expansion.items():
            scores = scores + weight * self.bm25_scores([term])[1]
        if doc_ids is not None and len(ids):
            scores = np.where(np.isin(ids, self._chosen_chunks(doc_ids)[0], assume_unique=True), scores, 0).astype(scores.dtype)
        out: dict[int, float] = {}
        if len(scores) and scores.max() > 0:
            n = min(depth, len(scores))
            top = np.argpartition(-scores, n - 1)[:n]
            out = {int(ids[i]): float(scores[i]) for i in top if scores[i] > 0}
        wanted = np.array([i for i in score_ids if i not in out], dtype=np.int64)
        if len(wanted) and len(ids):
            rows = np.clip(np.searchsorted(ids, wanted), 0, len(ids) - 1)
            for cid, row in zip(wanted.tolist(), rows.tolist()):
                if ids[row] == cid:
                    out[cid] = float(scores[row])
        return out

    def bm25_scores(self, query_terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every chunk for the query: (chunk ids sorted ascending, scores)."""
        bm25 = self._load_bm25()
        if bm25 is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        known = [bm25.vocab_dict[t] for t in query_terms if t in bm25.vocab_dict]
        if not known:
            return self._bm25_ids, np.zeros(len(self._bm25_ids), dtype=np.float32)
        return self._bm25_ids, np.asarray(bm25.get_scores_from_ids(known), dtype=np.float32)

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """Stored vectors of the given chunk ids (to score lexical-only hits densely)."""
        return np.vstack([self.vectors.reconstruct(int(i)) for i in ids]) if ids else np.zeros((0, self.vectors.d), np.float32)

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        out, missing = self._recent.split([int(i) for i in ids])
        read = self._read_chunks(missing)
        self._recent.remember(read)
        out.update(read)
        return out

    def _read_chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        out: dict[int, StoredChunk] = {}
        for batch in range(0, len(ids), 500):
            part = ids[batch : batch + 500]
            marks = ",".join("?" * len(part))
            for row in self._query(
                f"SELECT {_CHUNK_COLUMNS}, {self._meta}{', s.vectors' if self._sentence_join else ''} FROM chunks c "
                f"JOIN documents d ON d.id = c.doc_id {self._sentence_join} WHERE c.id IN ({marks})",
                tuple(part),
            ):
                out[row[0]] = _stored_chunk(row, row[13], row[14] if len(row) > 14 else None, self.vectors.d)
        return out

    def documents(self) -> list[StoredDocument]:
        if self._documents is None:  # a version never changes: read once
            rows = self._query(
                f"SELECT id, source, path, title, format, content_hash, chunker, added_at, {self._meta.replace('d.', '')} "
                "FROM documents ORDER BY source"
            )
            self._documents = [StoredDocument(*r[:8], meta=meta_from(r[8])) for r in rows]
        return list(self._documents)

    def file_stats(self) -> dict[str, tuple[int, int]]:
        return {r[0]: (r[1], r[2]) for r in self._query("SELECT source, size, mtime_ns FROM documents")}

    def idf(self, query_terms: list[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each known term over all chunks."""
        bm25 = self._load_bm25()
        if bm25 is None:
            return {}
        indptr = bm25.scores["indptr"]
        n = len(self._bm25_ids)
        out = {}
        for t in query_terms:
            j = bm25.vocab_dict.get(t)
            df = int(indptr[j + 1] - indptr[j]) if j is not None else 0
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out

    def document_text(self, doc_id_or_source: str) -> str | None:
        rows = self._query("SELECT text FROM documents WHERE id = ? OR source = ?", (doc_id_or_source,) * 2)
        return rows[0][0] if rows else None

    def document_pages(self, doc_id: str) -> tuple[tuple[int, ...], tuple[Section, ...]]:
        rows = self._query("SELECT pages, sections FROM documents WHERE id = ?", (doc_id,))
        if not rows:
            return (), ()
        sections = tuple(Section(s, tuple(p)) for s, p in json.loads(rows[0][1]))
        return tuple(json.loads(rows[0][0])), sections

    def doc_chunks(self, doc_id: str) -> list[StoredChunk]:
        rows = self._query(
            f"SELECT {_CHUNK_COLUMNS}, {self._meta} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.doc_id = ? ORDER BY c.ord",
            (doc_id,),
        )
        return [_stored_chunk(r, r[13]) for r in rows]

    def count(self) -> tuple[int, int]:
        docs = self._query("SELECT COUNT(*) FROM documents")[0][0]
        chunks = self._query("SELECT COUNT(*) FROM chunks")[0][0]
        return docs, chunks

    def check(self) -> list[str]:
        """Consistency problems: vectors without rows, rows without vectors, orphans. Empty is good."""
        problems = []
        faiss_ids = set(_faiss_ids(self.vectors).tolist())
        row_ids = {r[0] for r in self._query("SELECT id FROM chunks")}
        if len(faiss_ids) != self.vectors.ntotal:
            problems.append(f"{self.vectors.ntotal} vectors but {len(faiss_ids)} distinct ids")
        if faiss_ids - row_ids:
            problems.append(f"{len(faiss_ids - row_ids)} vectors have no chunk row")
        if row_ids - faiss_ids:
            problems.append(f"{len(row_ids - faiss_ids)} chunk rows have no vector")
        orphans = self._query("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents)")[0][0]
        if orphans:
            problems.append(f"{orphans} chunks belong to no document")
        if self._sentence_join:
            stray = self._query("SELECT COUNT(*) FROM sentence_vectors WHERE chunk_id NOT IN (SELECT id FROM chunks)")[0][0]
            if stray:
                problems.append(f"{stray} sentence-vector rows belong to no chunk")
        bm25_ids = set(np.load(self.folder / "bm25_ids.npy", allow_pickle=False).tolist())
        if bm25_ids != row_ids:
            problems.append("BM25 rows differ from chunk rows")
        if not (self.folder / "bm25").is_dir() and self._query("SELECT 1 FROM chunk_terms WHERE terms != '' LIMIT 1"):
            problems.append("the BM25 index is missing")
        counts = self.manifest.get("counts", {})
        if counts and counts.get("chunks") != len(row_ids):
            problems.append(f"manifest says {counts.get('chunks')} chunks, database has {len(row_ids)}")
        return problems

    def close(self) -> None:
        with self._db_lock:
            self._db.close()


_TERMS_BY_CHUNK = "SELECT chunk_id, terms FROM chunk_terms ORDER BY chunk_id"
_BATCH_ROWS = 900  # chunk rows read per query (under SQLite's 999 bound variables of old builds)


def _fit_bm25(rows: Iterable[tuple[int, str]], k1: float, b: float):
    """(chunk ids in row order, bm25s over them or None) from (chunk id, space-separated stemmed terms) rows."""
    import bm25s

    corpus = _TermIds(rows)
    if not corpus.vocab:  # no chunk has a term: nothing to score lexically (bm25s cannot index that)
        return corpus.chunk_ids, None
    bm25 = bm25s.BM25(k1=k1, b=b)
    bm25.index(corpus, show_progress=False)
    return corpus.chunk_ids, bm25


class _TermIds:
    """Every chunk's terms as ids into one vocabulary, kept in one int32 array, which bm25s reads as
    its corpus of token-id lists (the `ids` and `vocab` of its Tokenized). Handed lists of strings,
    bm25s holds ~60 bytes a term plus a second copy of them as ids: a 339k-chunk build peaked at
    4.0 GB that way, 1.7 GB this way (benchmarks/million_ask.py, docs/performance.md)."""

    def __init__(self, rows: Iterable[tuple[int, str]]):
        self.vocab: dict[str, int] = {}
        chunk_ids, flat, ends = array("q"), array("i"), array("q", [0])
        for chunk_id, text in rows:
            chunk_ids.append(chunk_id)
            flat.extend([self.vocab.setdefault(t, len(self.vocab)) for t in text.split()])
            ends.append(len(flat))
        self.chunk_ids = np.array(chunk_ids, dtype=np.int64)
        self._flat = np.frombuffer(flat, dtype=np.int32) if len(flat) else np.zeros(0, dtype=np.int32)
        self._ends = np.frombuffer(ends, dtype=np.int64)

    @property
    def ids(self) -> "_TermIds":
        return self

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def __iter__(self) -> Iterator[list[int]]:
        # bm25s makes three passes; each yields one chunk's list at a time.
        for a, b in zip(self._ends[:-1].tolist(), self._ends[1:].tolist()):
            yield self._flat[a:b].tolist()


def _open_snapshot(folder: Path) -> FaissSnapshot:
    """A version's snapshot; a damaged file is IndexUnreadable, a collected version FileNotFoundError."""
    try:
        return FaissSnapshot(folder)
    except FileNotFoundError:
        raise
    except (RuntimeError, sqlite3.Error, ValueError, OSError) as e:  # FAISS raises RuntimeError on a bad file
        raise IndexUnreadable(f"index version {folder} cannot be read ({type(e).__name__}: {e}); "
                              f"rebuild it with: qa build --full --index {folder.parent}") from e


class FaissStore:
    """An index folder: its published versions, the writer lock and the embedding cache."""

    errors = (sqlite3.Error,)

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def current_file(self) -> Path:
        return self.root / "CURRENT"

    def current_version(self) -> str | None:
        try:
            name = self.current_file.read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    def exists(self) -> bool:
        v = self.current_version()
        return v is not None and (self.root / v / "manifest.json").exists()

    def manifest(self) -> dict:
        v = self.current_version()
        if v is None:
            raise IndexMissing(f"no index at {self.root}; build one with: qa build SOURCES --index {self.root}")
        return json.loads((self.root / v / "manifest.json").read_text())

    def open(self) -> FaissSnapshot:
        for _ in range(3):  # a version can be collected between reading CURRENT and opening it
            v = self.current_version()
            if v is None:
                raise IndexMissing(f"no index at {self.root}; build one with: qa build SOURCES --index {self.root}")
            try:
                return _open_snapshot(self.root / v)
            except FileNotFoundError:
                time.sleep(0.05)
        return _open_snapshot(self.root / self.current_version())

    def lock(self, wait: bool = True, on_wait=None) -> contextlib.AbstractContextManager:
        """The single-writer lock. `wait=False` refuses at once when another build holds it."""
        return folder_lock(self.root, wait, on_wait)

    def bm25_params(self, wanted: LexicalSettings) -> dict:
        """The BM25 settings this store scores with when `wanted` is asked for (recorded in the manifest)."""
        return wanted.to_dict()

    def writer(self, base: FaissSnapshot | None, dim: int) -> "FaissWriter":
        return FaissWriter(self, base, dim)

    def publish(self, tmp: Path) -> str:
        """Move a verified, fsynced temporary version into place and point CURRENT at it."""
        existing = sorted(p.name for p in self.root.glob("v[0-9]*") if p.is_dir())
        number = int(existing[-1][1:]) + 1 if existing else 1
        name = f"v{number:06d}"
        os.rename(tmp, self.root / name)
        _fsync(self.root)  # the version's name is durable before CURRENT can point at it
        pointer = self.root / f".CURRENT.{uuid.uuid4().hex}"
        try:
            with open(pointer, "w") as fh:
                fh.write(name + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(pointer, self.current_file)
        except BaseException:  # e.g. no space for the pointer: CURRENT is unchanged, drop the new version
            pointer.unlink(missing_ok=True)
            shutil.rmtree(self.root / name, ignore_errors=True)
            raise
        _fsync(self.root)
        self.collect(keep=name)
        return name

    def collect(self, keep: str) -> None:
        """Delete versions older than the previous one, and temporary folders of dead builds."""
        versions = sorted(p for p in self.root.glob("v[0-9]*") if p.is_dir())
        for old in versions[:-2]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
        for tmp in self.root.glob(".tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)


class FaissWriter:
    """Builds the next version in a temporary folder from a base version and a set of changes."""

    def __init__(self, store: FaissStore, base: FaissSnapshot | None, dim: int):
        import faiss

        self.store = store
        self.tmp = store.root / f".tmp-{uuid.uuid4().hex}"
        self.tmp.mkdir(parents=True)
        self.db_path = self.tmp / "index.sqlite"
        try:  # a failure here (a full disk while copying the base) must not leave the copy behind
            if base is not None:
                shutil.copyfile(base.folder / "index.sqlite", self.db_path)
                self.vectors = faiss.read_index(str(base.folder / "vectors.faiss"))
                if self.vectors.d != dim:
                    raise IndexIncompatible(f"index vectors have {self.vectors.d} dimensions, the model gives {dim}")
            else:
                self.vectors = _new_vector_index(dim)
            self.db = sqlite3.connect(self.db_path)
            self.db.executescript(SCHEMA)
            if not any(r[1] == "meta" for r in self.db.execute("PRAGMA table_info(documents)")):  # an older base
                self.db.execute("ALTER TABLE documents ADD COLUMN meta TEXT NOT NULL DEFAULT '{}'")
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.touched = False
        self._counts = (0, 0)

    def documents(self) -> dict[str, IndexedDocument]:
        rows = self.db.execute("SELECT source, id, content_hash, chunker, path, format FROM documents").fetchall()
        return {r[0]: IndexedDocument(*r[1:]) for r in rows}

    def touch(self, source: str, stat: tuple[int, int]) -> None:
        """Record a new (size, mtime_ns) for an unchanged document, so it is not checked again."""
        cur = self.db.execute(
            "UPDATE documents SET size = ?, mtime_ns = ? WHERE source = ? AND (size != ? OR mtime_ns != ?)",
            (*stat, source, *stat),
        )
        self.touched = self.touched or cur.rowcount > 0

    @property
    def counts(self) -> tuple[int, int]:
        return self._counts

    def remove(self, doc_ids: list[str]) -> int:
        removed = 0
        for doc_id in doc_ids:
            ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
            if ids:
                removed += int(self.vectors.remove_ids(np.array(ids, dtype=np.int64)))
            self.db.execute("DELETE FROM sentence_vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
            self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return removed

    def add(
        self, doc: Document, chunks: list[Chunk], search_texts: list[str], vectors: np.ndarray, chunker: str,
        stat: tuple[int, int] = (0, 0), sentence_vectors: list[np.ndarray | None] | None = None,
    ) -> None:
        """Insert a document, its chunks and their vectors; `stat` is the file's (size, mtime_ns);
        `sentence_vectors[i]` holds one row per sentence of chunks[i] (or None)."""
        self.db.execute(
            "INSERT INTO documents (id, source, path, title, format, content_hash, text, pages, sections, chunker, "
            "size, mtime_ns, added_at, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.id, doc.source, str(doc.path), doc.title, doc.format, doc.content_hash, doc.text,
                json.dumps(list(doc.pages)), json.dumps([[s.start, list(s.path)] for s in doc.sections]),
                chunker, stat[0], stat[1], time.time(), meta_to_json(doc.meta),
            ),
        )
        self.db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (c.id, c.doc_id, c.ord, c.start, c.end, c.line_start, c.line_end, c.page, c.section, c.text, t,
                 json.dumps([list(s) for s in c.sentences]))
                for c, t in zip(chunks, search_texts)
            ],
        )
        if sentence_vectors is not None:
            self.db.executemany(
                "INSERT OR REPLACE INTO sentence_vectors VALUES (?,?)",
                [(c.id, pack_vectors(v)) for c, v in zip(chunks, sentence_vectors) if v is not None],
            )
        if len(chunks):
            self.vectors.add_with_ids(vectors, np.array([c.id for c in chunks], dtype=np.int64))

    def _write_bm25(self, params: dict) -> None:
        """BM25 over every chunk, with `params` (LexicalSettings: k1, b). Each chunk's stemmed terms are
        kept in `chunk_terms` when it is first indexed, so a commit re-reads them instead of
        re-tokenizing the corpus (tokenizing is ~1 MB/s)."""
        from qa.text import terms

        # In batches, so a first build of a million chunks never holds all their text at once.
        missing = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE id NOT IN (SELECT chunk_id FROM chunk_terms)")]
        for i in range(0, len(missing), _BATCH_ROWS):
            batch = missing[i : i + _BATCH_ROWS]
            texts = self.db.execute(
                f"SELECT id, search_text FROM chunks WHERE id IN ({','.join('?' * len(batch))})", batch).fetchall()
            self.db.executemany("INSERT INTO chunk_terms VALUES (?,?)", [(cid, " ".join(terms(t))) for cid, t in texts])
        self.db.execute("DELETE FROM chunk_terms WHERE chunk_id NOT IN (SELECT id FROM chunks)")
        self.db.commit()
        ids, bm25 = _fit_bm25(self.db.execute(_TERMS_BY_CHUNK), params["k1"], params["b"])
        np.save(self.tmp / "bm25_ids.npy", ids, allow_pickle=False)
        if bm25 is not None:
            bm25.save(str(self.tmp / "bm25"), allow_pickle=False)

    def commit(self, manifest: dict) -> str:
        """Verify, write, fsync and publish this version; returns its name."""
        import faiss

        self.db.commit()
        self._write_bm25(manifest["bm25"])
        doc_count = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        row_ids = np.fromiter((r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id")), dtype=np.int64)
        self.db.execute("PRAGMA journal_mode=DELETE")
        self.db.close()
        if len(row_ids) > EXACT_SEARCH_LIMIT and not _is_ivf(self.vectors):
            self.vectors = _to_ivf(self.vectors, self.vectors.d)
        if self.vectors.ntotal != len(row_ids) or not np.array_equal(np.sort(_faiss_ids(self.vectors)), row_ids):
            raise IndexWriteFailed("internal error: vectors and chunk rows disagree; the index was not changed")
        try:
            faiss.write_index(self.vectors, str(self.tmp / "vectors.faiss"))
        except RuntimeError as e:  # FAISS reports a failed fwrite (a full disk) this way
            raise write_failure(e, self.store.root) from e
        self._counts = (doc_count, len(row_ids))
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "counts": {"documents": doc_count, "chunks": len(row_ids)},
            "vector_index": "ivf-flat" if _is_ivf(self.vectors) else "flat",
        }
        (self.tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        _fsync_tree(self.tmp)
        return self.store.publish(self.tmp)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
