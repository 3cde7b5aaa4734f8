"""The engine: an Index folder you can build, update and ask. One code path for every way in."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import sqlite3
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from qa.answer import Answer, select, to_passage
from qa.converse import ChunkMemo, TurnVectors, check_history, follow_up
from qa.embed import PRECISIONS, Embedder, default_precision
from qa.errors import (IndexIncompatible, IndexUnreadable, InvalidInput, InvalidType, NoSources, QAError)
from qa.ingest import BulkEncode, PreparedDocument, embed_with_cache, prepare
from qa.search import Query, retrieve
from qa.settings import (BM25S_DEFAULTS, AnswerSettings, ChunkSettings, ConversationSettings, LexicalSettings,
                         SearchSettings, default_index, default_sources)
from qa.sources import Discovery, Problem, find_files, load, supported_suffixes
from qa.stores import IndexedDocument, Snapshot, Writer, open_store
from qa.stores.base import write_failure

MAX_QUESTION_CHARS = 2000  # longer questions are cut here (with a note): no question needs more
MAX_K = 100
FLUSH_CHUNKS = 4096  # chunks embedded and written per batch during a build (bounds build memory)

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class BuildReport:
    index: str
    version: str | None
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0
    documents: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"index {self.index} ({self.version or 'unchanged'}): {self.documents} documents, {self.chunks_total} chunks",
            f"  added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
            f"unchanged {self.unchanged}; {self.chunks_embedded} chunks embedded in {self.seconds:.1f} s",
        ]
        for p in self.problems:
            lines.append(f"  {'skipped' if p.skipped else 'note'}: {p.source}: {p.reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "problems"}
        d["problems"] = [{"source": p.source, "reason": p.reason, "skipped": p.skipped} for p in self.problems]
        return d


def clean_question(question: object) -> tuple[str, list[str]]:
    """A usable question, or an InvalidInput / InvalidType saying what is wrong with it."""
    if not isinstance(question, str):
        raise InvalidType(f"question must be a string, not {type(question).__name__}")
    notes = []
    # Control characters carry no meaning in a question; drop them (keep ordinary whitespace).
    question = "".join(ch if ch in "\t\n" or unicodedata.category(ch)[0] != "C" else " " for ch in question)
    question = " ".join(question.split())
    if not question:
        raise InvalidInput("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        notes.append(f"question truncated to its first {MAX_QUESTION_CHARS} characters (it had {len(question)})")
        question = question[:MAX_QUESTION_CHARS]
    return question, notes


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InvalidType(f"k must be an integer, not {type(k).__name__}")
    if k < 1:
        raise InvalidInput(f"k must be at least 1 (got {k})")
    return int(min(k, MAX_K))


def _named_by(paths: list[str | Path], file_path: str) -> bool:
    """Whether a stored document's file is one of `paths` or lies under one of them."""
    for given in paths:
        p = Path(given).absolute()
        if file_path == str(p) or file_path.startswith(str(p).rstrip("/") + "/"):
            return True
    return False


@dataclass(frozen=True)
class _Pending:
    """A document read and prepared during a build, waiting for its vectors."""

    prepared: PreparedDocument
    stat: tuple[int, int]  # the file's (size, mtime_ns)
    previous: IndexedDocument | None  # what the index held for this source, when it is a change


class Index:
    """An index folder. Reads always go to an immutable loaded version; writes are serialized.

    A long-lived Index picks up a version published by another process on its next question;
    a question already running finishes on the version it started with.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        model: str | Path | None = None,
        chunking: ChunkSettings = ChunkSettings(),
        search: SearchSettings = SearchSettings(),
        answering: AnswerSettings = AnswerSettings(),
        store: str | None = None,
        bulk_encode: BulkEncode | None = None,
        precision: str | None = None,
        reranker: str | Path | None = None,
        lexical: LexicalSettings = LexicalSettings(),
        embedder: Embedder | None = None,
        conversation: ConversationSettings = ConversationSettings(),
    ):
        """`store`: None keeps vectors, chunks and documents in the index folder (FAISS + SQLite);
        "milvus:///file.db" or "milvus://host:19530" keeps them in Milvus. The index folder
        always holds the writer lock and the embedding cache. `bulk_encode`: what embeds the
        chunks of a build instead of the embedder (e.g. `qa.ray_embed.RayEncoder`; one with an
        `encode_with_sentences` method also gives the sentence vectors); questions are always
        embedded in process. `precision`: "fp32" or "int8" model weights (qa.embed.PRECISIONS);
        None keeps what the index was built with, and a new index gets qa.embed.default_precision
        (int8 for plain sentence-transformers models). `reranker`: a cross-encoder model folder
        that re-scores the first hits of every ask (qa.rerank; None: none, the default); the
        attribute can be set later too. `lexical`: BM25's k1 and b, applied when the BM25 index is
        next written (every build or update rewrites it). `embedder`: an object that encodes as
        `qa.embed.Embedder` does (name, dim, encode, encode_with_sentences, token_counter), used
        instead of the model named by `model` and `precision` (evaluation remembers vectors so).
        `conversation`: how the history of a follow-up question is used (qa.converse)."""
        self.path = Path(path) if path is not None else default_index()
        self.store = open_store(store, self.path)
        if precision is not None and precision not in PRECISIONS:
            raise InvalidInput(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.model_path = model
        self.precision = precision
        self.chunking = chunking
        self.search_settings = search
        self.answer_settings = answering
        self.bulk_encode = bulk_encode
        self.reranker = reranker
        self.lexical = lexical
        self._embedder = embedder
        self.conversation = conversation
        self._turn_vectors = TurnVectors()
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r})"

    # -- reading -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Storage failures while reading become IndexUnreadable (never a back-end's own exception)."""
        try:
            yield
        except QAError:
            raise
        except (sqlite3.Error, *self.store.errors) as e:
            raise IndexUnreadable(f"index {self.path} cannot be read: {type(e).__name__}: {e}") from e

    def snapshot(self) -> Snapshot:
        """The current published version, reloaded when another build has replaced it."""
        with self._reading():
            current = self.store.current_version()
            snap = self._snapshot
            if snap is not None and snap.version == current:
                return snap
            with self._snapshot_lock:
                if self._snapshot is None or self._snapshot.version != self.store.current_version():
                    snap = self.store.open()
                    self._check_model(snap.manifest)
                    self._snapshot = snap
                return self._snapshot

    def _check_model(self, manifest: dict) -> None:
        built_with = manifest.get("model", {}).get("name")
        chosen = self.model_path is not None or self.precision is not None or self._embedder is not None
        if chosen and built_with != self.embedder.name:
            raise IndexIncompatible(
                f"index {self.path} was built with model {built_with}, not {self.embedder.name}; rebuild it with: "
                f"{self._rebuild_command()}"
            )

    def _rebuild_command(self) -> str:
        model = f" --model {self.model_path}" if self.model_path is not None else ""
        precision = f" --precision {self.precision}" if self.precision is not None else ""
        return f"qa build --full{model}{precision} --index {self.path}"

    @property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        recorded = self.store.manifest().get("model", {}) if self.store.exists() else {}
        path = self.model_path
        if path is None and recorded.get("path") not in (None, "bundled"):
            path = recorded["path"]
        # An index keeps the precision it was built with (indexes from before the setting: fp32).
        precision = self.precision or recorded.get("precision") or ("fp32" if recorded else default_precision(path))
        return Embedder.shared(path, precision)

    def exists(self) -> bool:
        return self.store.exists()

    def ask(self, question: str, k: int = 5, mode: str | None = None, history: list[dict] | None = None) -> Answer:
        """Cited extractive answer: passages copied from the sources, the answering sentence marked.

        `history`: the conversation before the question, oldest first, as
        [{"role": "user" | "assistant", "content": str}, ...]; a follow-up is searched for in its
        context (qa.converse; the answer's `searched_for` says how). None or [] asks it alone."""
        question, notes = clean_question(question)
        k = check_k(k)
        turns = check_history(history)
        snap = self.snapshot()
        embedder = self.embedder
        query = Query.of(question, embedder.encode([question])[0])
        self._turn_vectors.remember(embedder.name, question, query.vector)  # the next follow-up's history
        qvec, q_terms = query.vector, list(query.terms)
        settings = self.search_settings if mode is None else dataclasses.replace(self.search_settings, mode=mode)
        with self._reading():
            if turns:
                snap = ChunkMemo(snap)  # the follow-up's searches share their chunk rows
                query = follow_up(snap, query, turns, lambda texts: self._turn_vectors.encode(
                    embedder.name, embedder.encode, texts), self.conversation, settings)
            hits = retrieve(snap, query, max(k, self.answer_settings.passages_scored), settings)
            if self.reranker is not None:
                from qa.rerank import Reranker, rerank

                hits = rerank(hits, question, Reranker.shared(self.reranker), settings.rerank_depth,
                              settings.rerank_weight)
            found, scored = select(question, qvec, hits, snap.idf(q_terms), embedder.encode, k, self.answer_settings)
        passages = tuple(to_passage(s) for s in scored)
        if not found:
            notes.append("the sources do not answer this; the closest passages are shown")
        return Answer(question, found, passages, tuple(notes), searched_for=query.text)

    def documents(self):
        with self._reading():
            return self.snapshot().documents()

    def document_text(self, source: str) -> str | None:
        with self._reading():
            return self.snapshot().document_text(source)

    def stats(self) -> dict:
        snap = self.snapshot()
        with self._reading():
            docs, chunks = snap.count()
        m = snap.manifest
        return {
            "index": str(self.path),
            "version": snap.version,
            "documents": docs,
            "chunks": chunks,
            "model": m.get("model", {}).get("name"),
            "dimension": m.get("model", {}).get("dim"),
            "built_at": m.get("built_at"),
            "sources": m.get("sources", []),
        }

    def check(self) -> list[str]:
        """Consistency problems of the current version (empty list: every vector has its row and back)."""
        with self._reading():
            return self.snapshot().check()

    # -- writing -----------------------------------------------------------------------------
    def build(self, paths: list[str | Path] | None = None, full: bool = False, progress: bool = True,
              wait: bool = True, log: Log = _stderr) -> BuildReport:
        """Make the index mirror exactly the files under `paths` (default: the paths it was built from).

        Unchanged documents cost nothing, changed ones have their chunks replaced, missing ones
        are removed. `full=True` re-chunks everything (vectors still come from the cache).
        """
        if paths is None:
            paths = self.store.manifest().get("sources", []) if self.store.exists() else [default_sources()]
        roots = [str(Path(p).absolute()) for p in paths]
        return self._write(find_files(paths), roots=roots, sync=True, full=full, progress=progress, wait=wait, log=log)

    def update(self, **kwargs) -> BuildReport:
        """Bring the index up to date with the folders it was built from."""
        return self.build(None, **kwargs)

    def add(self, paths: list[str | Path], progress: bool = False, wait: bool = True, log: Log = _stderr) -> BuildReport:
        """Add or replace the documents at `paths`; everything else stays as it is."""
        return self._write(find_files(paths), roots=None, sync=False, progress=progress, wait=wait, log=log)

    def remove(self, paths: list[str | Path], wait: bool = True, log: Log = _stderr) -> BuildReport:
        """Remove the documents at `paths` (files, or folders: every document under them)."""
        return self._write(Discovery(), roots=None, sync=False, removals=list(paths), wait=wait, log=log)

    def _write(self, discovery: Discovery, roots: list[str] | None, sync: bool, full: bool = False,
               removals: list[str] = (), progress: bool = False, wait: bool = True, log: Log = _stderr) -> BuildReport:
        """Write the next version: the discovered files added or replaced, `removals` (and, with
        `sync`, every document no longer found) removed, `roots` recorded as the index's sources."""
        started = time.time()
        if sync and not discovery.files:
            kinds = " ".join(supported_suffixes())
            detail = "; ".join(f"{p.source}: {p.reason}" for p in discovery.problems[:5])
            raise NoSources(f"no documents to index (supported: {kinds})" + (f" — {detail}" if detail else ""))
        embedder = self.embedder
        report = BuildReport(index=str(self.path), version=None, problems=list(discovery.problems))
        with self._write_lock, self._writing(), self.store.lock(wait=wait, on_wait=log):
            base = self.store.open() if self.store.exists() and not full else None
            if base is not None:
                self._check_base_model(base, embedder)
            # The dimension is read from the index when it has one, so a build with nothing new to
            # embed never loads the model (no torch import: an update of unchanged files takes ~1 s).
            dim = int(base.manifest["model"]["dim"]) if base is not None else embedder.dim
            writer = self.store.writer(base, dim)
            try:
                indexed = writer.documents()
                self._index_files(discovery, writer, indexed, embedder, dim, progress, report)
                gone = self._gone(indexed, discovery, sync, removals)
                for source in sorted(gone):
                    writer.remove([indexed[source].id])
                    report.removed.append(source)
                self._publish(writer, base, embedder, dim, roots, report)
            except BaseException:
                writer.abort()
                raise
        report.seconds = round(time.time() - started, 3)
        return report

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Storage failures while writing (a full disk, a size limit, a lost server) become
        IndexWriteFailed, saying why; the previous version is unchanged (writers publish last)."""
        try:
            yield
        except QAError:
            raise
        except (OSError, sqlite3.Error, *self.store.errors) as e:
            raise write_failure(e, self.path) from e

    def _check_base_model(self, base: Snapshot, embedder: Embedder) -> None:
        built_with = base.manifest.get("model", {}).get("name")
        if built_with != embedder.name:
            raise IndexIncompatible(
                f"index {self.path} was built with model {built_with}; to use {embedder.name} rebuild it "
                f"with: {self._rebuild_command()}"
            )

    def _index_files(self, discovery: Discovery, writer: Writer, indexed: dict[str, IndexedDocument], embedder,
                     dim: int, progress: bool, report: BuildReport) -> None:
        """Load each discovered file; unchanged ones are only touched, new and changed ones are
        chunked, embedded and written a batch at a time (memory follows a batch, not the corpus)."""
        chunker = self._chunker_key()
        count_tokens = embedder.token_counter()
        pending: list[_Pending] = []
        for f in discovery.files:
            doc = load(f)
            if isinstance(doc, Problem):
                report.problems.append(doc)
                continue
            report.problems.extend(Problem(doc.source, w, skipped=False) for w in doc.warnings)
            st = f.path.stat()
            stat = (st.st_size, st.st_mtime_ns)
            previous = indexed.get(doc.source)
            if previous and previous.content_hash == doc.content_hash and previous.chunker == chunker:
                report.unchanged += 1
                writer.touch(doc.source, stat)
                continue
            pending.append(_Pending(prepare(doc, self.chunking, count_tokens), stat, previous))
            if sum(len(p.prepared.chunks) for p in pending) >= FLUSH_CHUNKS:
                self._flush(pending, writer, embedder, dim, progress, report)
        self._flush(pending, writer, embedder, dim, progress, report)

    def _flush(self, pending: list[_Pending], writer: Writer, embedder, dim: int, progress: bool,
               report: BuildReport) -> None:
        """Embed what is pending (from the cache where it can) and write it."""
        embedded = embed_with_cache(
            [t for p in pending for t in p.prepared.search_texts], [s for p in pending for s in p.prepared.sentence_spans],
            embedder, self.path / "embeddings.sqlite", dim, self.bulk_encode, progress)
        report.chunks_embedded += embedded.encoded
        chunker = self._chunker_key()
        offset = 0
        for p in pending:
            doc, n = p.prepared.doc, len(p.prepared.chunks)
            if p.previous:
                writer.remove([p.previous.id])
                report.changed.append(doc.source)
            else:
                report.added.append(doc.source)
            writer.add(doc, list(p.prepared.chunks), list(p.prepared.search_texts), embedded.vectors[offset : offset + n],
                       chunker, p.stat, sentence_vectors=embedded.sentence_vectors[offset : offset + n])
            offset += n
        pending.clear()

    @staticmethod
    def _gone(indexed: dict[str, IndexedDocument], discovery: Discovery, sync: bool, removals: list[str]) -> set[str]:
        """Sources to remove: with `sync`, those no longer found (a file that failed to load keeps
        its previous version); and those under `removals`."""
        gone = set()
        if sync:
            seen = {f.source for f in discovery.files} | {p.source for p in discovery.problems}
            gone = {s for s in indexed if s not in seen}
        if removals:
            gone |= {s for s, d in indexed.items() if _named_by(removals, d.path)}
        return gone

    def _publish(self, writer: Writer, base: Snapshot | None, embedder, dim: int, roots: list[str] | None,
                 report: BuildReport) -> None:
        """Commit the new version, or abort the writer when nothing changed."""
        sources = roots if roots is not None else (base.manifest.get("sources", []) if base else [])
        # Other BM25 settings rewrite the BM25 index (from the stored terms; nothing is re-embedded).
        bm25_changed = base is not None and base.manifest.get("bm25", BM25S_DEFAULTS.to_dict()) != (
            self.store.bm25_params(self.lexical))
        if base is not None and not (report.added or report.changed or report.removed or writer.touched or bm25_changed):
            writer.abort()
            report.documents, report.chunks_total = base.count()
        else:
            report.version = writer.commit(self._manifest(embedder, dim, writer, sources))
            report.documents, report.chunks_total = writer.counts

    def _chunker_key(self) -> str:
        return json.dumps(self.chunking.to_dict(), sort_keys=True)

    def _manifest(self, embedder: Embedder, dim: int, writer: Writer, sources: list[str]) -> dict:
        listing = "\n".join(f"{s}\t{d.content_hash}" for s, d in sorted(writer.documents().items()))
        return {
            "model": {"name": embedder.name, "path": str(embedder.path or "bundled"), "dim": dim,
                      "precision": embedder.precision},
            "chunker": self.chunking.to_dict(),
            "bm25": self.store.bm25_params(self.lexical),
            "sources": sources,
            "fingerprint": hashlib.sha256(listing.encode()).hexdigest(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def is_stale(self, paths: list[str | Path]) -> bool:
        """Whether the files under `paths` differ (by size and mtime) from what the index holds."""
        if not self.store.exists():
            return True
        discovery = find_files(paths)
        stats = {}
        for f in discovery.files:
            st = f.path.stat()
            stats[f.source] = (st.st_size, st.st_mtime_ns)
        with self._reading():
            indexed = self.snapshot().file_stats()
        failed = {p.source for p in discovery.problems}
        return {s: v for s, v in stats.items() if s not in failed} != {s: tuple(v) for s, v in indexed.items()}


def build(paths: list[str | Path] | str | Path | None = None, index: str | Path | None = None,
          model: str | Path | None = None, full: bool = False, progress: bool = True, store: str | None = None,
          **kwargs) -> BuildReport:
    """Build or update the index at `index` (default ./index) from files and folders."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return Index(index, model=model, store=store).build(paths, full=full, progress=progress, **kwargs)


_default: Index | None = None
_default_checked = 0.0
_default_lock = threading.Lock()


def default() -> Index:
    """./index over ./seeds, built on first use and rebuilt when the seeds change."""
    global _default, _default_checked
    with _default_lock:
        if _default is None or _default.path != default_index():
            _default = Index(default_index())
        if time.time() - _default_checked > 2.0:
            sources = [default_sources()]
            if not _default.exists():
                _stderr(f"qa: building the index {_default.path} over {sources[0]} (first use)…")
                _stderr(_default.build(sources, progress=False).summary())
            elif _default.is_stale(sources):
                _stderr(f"qa: {sources[0]} changed since the index was built; updating {_default.path}…")
                _stderr(_default.build(sources, progress=False).summary())
            _default_checked = time.time()
        return _default


def ask(question: str, k: int = 5, mode: str | None = None, history: list[dict] | None = None) -> Answer:
    """Ask the default index (./index over ./seeds, built when missing or stale); `history` as in Index.ask."""
    return default().ask(question, k=k, mode=mode, history=history)


__all__ = ["Index", "build", "ask", "BuildReport"]
