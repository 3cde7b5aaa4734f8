"""The engine: an Index folder you can build, update and ask. One code path for every way in."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
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
from qa.errors import IndexIncompatible, IndexMissing, IndexUnreadable, InvalidInput, InvalidType, NoSources, QAError
from qa.ingest import BulkEncode, PreparedDocument, embed_with_cache, prepare
from qa.search import Query, retrieve
from qa.loading import Loading
from qa.settings import (BM25S_DEFAULTS, AnswerSettings, ChunkSettings, ConversationSettings, LexicalSettings,
                         SearchSettings, ShortAnswerSettings, checkout_seeds, default_index, demo_index, demo_sources,
                         demo_uploads)
from qa.sources import Discovery, Problem, content_hash, find_files, is_ocr_format, supported_suffixes
from qa.span import with_short_answers
from qa.stores import IndexedDocument, Snapshot, StoredDocument, Writer, open_store
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
    ocr_pages: int = 0  # pages (and images) whose text was read by OCR in this build
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"index {self.index} ({self.version or 'unchanged'}): {self.documents} documents, {self.chunks_total} chunks",
            f"  added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
            f"unchanged {self.unchanged}; {self.chunks_embedded} chunks embedded in {self.seconds:.1f} s",
        ]
        if self.ocr_pages:
            lines.append(f"  {self.ocr_pages} page(s) read by OCR")
        for p in self.problems:
            lines.append(f"  {'skipped' if p.skipped else 'note'}: {p.source}: {p.reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "problems"}
        d["problems"] = [{"source": p.source, "reason": p.reason, "skipped": p.skipped} for p in self.problems]
        return d


def _unchanged_ocr(path: Path, previous: IndexedDocument) -> bool:
    """Whether the file is a document read by OCR that has not changed since (same bytes)."""
    if not is_ocr_format(previous.format):
        return False
    try:
        return content_hash(path.read_bytes()) == previous.content_hash
    except OSError:
        return False


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


def source_matches(source: str, pattern: str) -> bool:
    """Whether a cited source is named by `pattern`: itself, a glob over it, or a folder holding it."""
    pattern = pattern.strip()
    return (source == pattern or fnmatch.fnmatchcase(source, pattern)
            or (bool(pattern) and source.startswith(pattern.rstrip("/") + "/")))


def matching_documents(snapshot: Snapshot, patterns: list[str] | str) -> list[StoredDocument]:
    """The indexed documents named by `patterns` (see Index.ask); InvalidInput when none is."""
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple, set, frozenset)) or not all(isinstance(p, str) for p in patterns):
        raise InvalidType("sources must be a list of source paths or glob patterns")
    patterns = [p for p in patterns if p.strip()]
    if not patterns:
        raise InvalidInput("sources is empty: give source paths or glob patterns, or leave it out to search everything")
    docs = snapshot.documents()
    chosen = [d for d in docs if any(source_matches(d.source, p) for p in patterns)]
    if not chosen:
        some = ", ".join(d.source for d in docs[:5]) + (", …" if len(docs) > 5 else "")
        raise InvalidInput(f"no indexed document matches {', '.join(patterns)} (the index holds {some})")
    return chosen


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
        short_answers: ShortAnswerSettings = ShortAnswerSettings(),
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
        `short_answers`: whether and from which confidence the first passage carries a short
        answer inside its highlighted sentence (qa.span). `conversation`: how the history of a
        follow-up question is used (qa.converse)."""
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
        self.short_settings = short_answers
        self.conversation = conversation
        self._turn_vectors = TurnVectors()
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        self._chosen: dict[tuple, frozenset[str]] = {}  # (version, sources asked for) -> document ids
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
        return self._embedder_for(self.store.manifest() if self.store.exists() else {})

    def _embedder_for(self, manifest: dict) -> Embedder:
        """The embedder for an index with this manifest (ask passes its snapshot's: no file read)."""
        if self._embedder is not None:
            return self._embedder
        recorded = manifest.get("model", {})
        path = self.model_path
        if path is None and recorded.get("path") not in (None, "bundled"):
            path = recorded["path"]
        # An index keeps the precision it was built with (indexes from before the setting: fp32).
        precision = self.precision or recorded.get("precision") or ("fp32" if recorded else default_precision(path))
        return Embedder.shared(path, precision)

    def exists(self) -> bool:
        return self.store.exists()

    def ask(self, question: str, k: int = 5, mode: str | None = None, history: list[dict] | None = None,
            sources: list[str] | str | None = None) -> Answer:
        """Cited extractive answer: passages copied from the sources, the answering sentence marked.

        `history`: the conversation before the question, oldest first, as
        [{"role": "user" | "assistant", "content": str}, ...]; a follow-up is searched for in its
        context (qa.converse; the answer's `searched_for` says how). None or [] asks it alone.
        `sources`: search only the documents whose cited source matches one of these: an exact
        source ("reports/q3.pdf"), a glob ("reports/*.pdf", "*.md") or a folder ("reports"). The
        search runs inside them, so k passages come back whenever they hold k.
        """
        question, notes = clean_question(question)
        k = check_k(k)
        turns = check_history(history)
        snap = self.snapshot()
        embedder = self._embedder_for(snap.manifest)
        query = Query.of(question, embedder.encode([question])[0])
        self._turn_vectors.remember(embedder.name, question, query.vector)  # the next follow-up's history
        qvec, q_terms = query.vector, list(query.terms)
        settings = self.search_settings if mode is None else dataclasses.replace(self.search_settings, mode=mode)
        with self._reading():
            if sources is not None:
                query = dataclasses.replace(query, doc_ids=self._chosen_documents(snap, sources))
            if turns:
                snap = ChunkMemo(snap)  # the follow-up's searches share their chunk rows
                query = follow_up(snap, query, turns, lambda texts: self._turn_vectors.encode(
                    embedder.name, embedder.encode, texts), self.conversation, settings)
            hits = retrieve(snap, query, max(k, self.answer_settings.passages_scored), settings)
            if self.reranker is not None:
                from qa.rerank import Reranker, rerank

                hits = rerank(hits, question, Reranker.shared(self.reranker), settings.rerank_depth,
                              settings.rerank_weight)
            # One passage more than asked for: the short answer's confidence reads the first
            # passage's lead over the second (select's first k passages do not depend on k).
            found, scored = select(question, qvec, hits, snap.idf(q_terms), embedder.encode, max(k, 2),
                                   self.answer_settings)
        passages = with_short_answers(question, tuple(to_passage(s) for s in scored), found, self.short_settings)[:k]
        if not found:
            notes.append("the sources do not answer this; the closest passages are shown")
        return Answer(question, found, passages, tuple(notes), searched_for=query.text)

    def _chosen_documents(self, snap: Snapshot, sources: list[str] | str) -> frozenset[str]:
        """The ids of the documents `sources` names in this version (remembered for the last few
        choices: a web page asks with the same choice again and again)."""
        key = (snap.version, (sources,) if isinstance(sources, str) else tuple(sources) if isinstance(sources, (list, tuple)) else None)
        with self._snapshot_lock:
            known = self._chosen.get(key) if key[1] is not None else None
        if known is None:
            known = frozenset(d.id for d in matching_documents(snap, sources))
            with self._snapshot_lock:
                if len(self._chosen) >= 32:
                    self._chosen.pop(next(iter(self._chosen)))
                self._chosen[key] = known
        return known

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
            paths = self.store.manifest().get("sources", []) if self.store.exists() else []
            if not paths:
                raise NoSources(f"no sources recorded for {self.path}: say which files or folders to index, "
                                f"e.g. qa build FOLDER --index {self.path}")
        roots = [str(Path(p).absolute()) for p in paths]
        return self._write(find_files(paths), roots=roots, sync=True, full=full, progress=progress, wait=wait, log=log)

    def update(self, **kwargs) -> BuildReport:
        """Bring the index up to date with the folders it was built from."""
        return self.build(None, **kwargs)

    def add(self, paths: list[str | Path], progress: bool = False, wait: bool = True, log: Log = _stderr) -> BuildReport:
        """Add or replace the documents at `paths`; everything else stays as it is. The paths join
        the index's recorded sources, so later updates keep them."""
        return self._write(find_files(paths), roots=None, sync=False, progress=progress, wait=wait, log=log,
                           record=[str(Path(p).absolute()) for p in paths])

    def remove(self, paths: list[str | Path], wait: bool = True, log: Log = _stderr) -> BuildReport:
        """Remove the documents at `paths` (files, or folders: every document under them); recorded
        sources at or under `paths` are forgotten, so later updates do not bring them back."""
        return self._write(Discovery(), roots=None, sync=False, removals=list(paths), wait=wait, log=log)

    def _write(self, discovery: Discovery, roots: list[str] | None, sync: bool, full: bool = False,
               removals: list[str] = (), progress: bool = False, wait: bool = True, log: Log = _stderr,
               record: list[str] = ()) -> BuildReport:
        """Write the next version: the discovered files added or replaced, `removals` (and, with
        `sync`, every document no longer found) removed. The recorded sources become `roots`, or
        stay as they were, plus `record` and minus what lies under `removals`."""
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
                base_sources = base.manifest.get("sources", []) if base else []
                sources = list(roots) if roots is not None else list(base_sources)
                sources += [p for p in record if not _named_by(sources, p)]
                sources = [s for s in sources if not _named_by(list(removals), s)]
                self._publish(writer, base, embedder, dim, sources, sources != base_sources, report)
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
        with Loading() as loading:  # each file within its time budget, in a worker process
            for f in discovery.files:
                previous = indexed.get(f.source)
                if previous and previous.chunker == chunker and _unchanged_ocr(f.path, previous):
                    report.unchanged += 1  # OCR costs seconds a page: an unchanged scan is not read again
                    st = f.path.stat()
                    writer.touch(f.source, (st.st_size, st.st_mtime_ns))
                    continue
                doc = loading.load(f)
                if isinstance(doc, Problem):
                    report.problems.append(doc)
                    continue
                report.problems.extend(Problem(doc.source, w, skipped=False) for w in doc.warnings)
                st = f.path.stat()
                stat = (st.st_size, st.st_mtime_ns)
                if previous and previous.content_hash == doc.content_hash and previous.chunker == chunker:
                    report.unchanged += 1
                    writer.touch(doc.source, stat)
                    continue
                report.ocr_pages += len(doc.ocr_pages)
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

    def _publish(self, writer: Writer, base: Snapshot | None, embedder, dim: int, sources: list[str],
                 sources_changed: bool, report: BuildReport) -> None:
        """Commit the new version (recording `sources`), or abort the writer when nothing changed."""
        # Other BM25 settings rewrite the BM25 index (from the stored terms; nothing is re-embedded).
        bm25_changed = base is not None and base.manifest.get("bm25", BM25S_DEFAULTS.to_dict()) != (
            self.store.bm25_params(self.lexical))
        if base is not None and not (report.added or report.changed or report.removed or writer.touched or bm25_changed
                                     or sources_changed):
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


def refresh(ix: Index, log: Log = _stderr) -> None:
    """Bring the index up to date with its own recorded sources when files there changed (never
    anything else). A recorded file that is gone is dropped; when a recorded folder is gone (an
    unmounted drive?), the index is left as it is, with a note."""
    recorded = ix.store.manifest().get("sources", []) if ix.exists() else []
    if not recorded:
        return
    missing = [s for s in recorded if not Path(s).exists()]
    files = {d.path for d in ix.documents()}
    folders_missing = [s for s in missing if s not in files]
    if folders_missing:
        log(f"qa: {', '.join(folders_missing)} not found; answering from {ix.path} as it was built")
        return
    present = [s for s in recorded if s not in missing]
    if missing or ix.is_stale(present):
        log(f"qa: the sources of {ix.path} changed since it was built; updating it…")
        if present:
            log(ix.build(present, progress=False, log=log).summary())
        else:
            log(ix.remove(missing, log=log).summary())


def ready_index(path: str | Path | None = None, demo: bool = False, store: str | None = None,
                log: Log = _stderr) -> Index:
    """The index to answer from, built or refreshed as needed:

    - `demo`: the bundled seeds, indexed in `path` (default: qa's cache folder) on first use;
    - otherwise the index at `path` (default ./index, or QA_INDEX), refreshed from its own recorded
      sources when they changed. Missing, it is built over ./seeds in qa's own checkout (the
      README's demo); anywhere else IndexMissing says how to begin.
    """
    if demo:
        ix = Index(path if path is not None else demo_index(), store=store)
        if not ix.exists():
            demo_uploads().mkdir(parents=True, exist_ok=True)
            log(f"qa: building the demo index {ix.path} over the bundled seeds (first use)…")
            log(ix.build([demo_sources(), demo_uploads()], progress=False, log=log).summary())
        refresh(ix, log)
        return ix
    ix = Index(path, store=store)
    if not ix.exists():
        seeds = checkout_seeds()
        if path is None and store is None and seeds is not None and ix.path == Path("index"):
            log(f"qa: building the index {ix.path} over {seeds} (first use)…")
            log(ix.build([seeds], progress=False, log=log).summary())
        else:
            raise IndexMissing(f"no index at {ix.path.absolute()}: build one over your documents with `qa build FOLDER`"
                               f"{'' if path is None else f' --index {ix.path}'} (or try `qa serve --demo`)")
    refresh(ix, log)
    return ix


_default: dict[str, tuple[Index, float]] = {}  # index path -> (Index, when its sources were last checked)
_default_lock = threading.Lock()
REFRESH_SECONDS = 2.0  # how often qa.ask() looks at the sources of the index it asks


def default(path: str | Path | None = None) -> Index:
    """The Index qa.ask() answers from (see ready_index), its sources looked at every few seconds."""
    key = str(Path(path if path is not None else default_index()).absolute())
    with _default_lock:
        ix, checked = _default.get(key, (None, 0.0))
        if ix is None:
            ix = ready_index(path)
        elif time.time() - checked > REFRESH_SECONDS:
            refresh(ix)
        _default[key] = (ix, time.time())
        return ix


def ask(question: str, k: int = 5, mode: str | None = None, history: list[dict] | None = None,
        sources: list[str] | str | None = None, index: str | Path | None = None) -> Answer:
    """Ask the index in ./index (or `index`, or QA_INDEX), refreshed from its recorded sources;
    `history` and `sources` as in Index.ask."""
    return default(index).ask(question, k=k, mode=mode, history=history, sources=sources)


__all__ = ["Index", "build", "ask", "BuildReport"]
