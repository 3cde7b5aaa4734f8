"""The Milvus store: chunks, vectors, BM25 and documents in Milvus collections (Milvus Lite or a server).

`--store milvus:///path/file.db` runs embedded Milvus Lite; `--store milvus://host:19530` talks to
a Milvus server with the same client (pymilvus). Add `?collection=NAME` to keep several indexes in
one Milvus (default `qa`); a server token is read from QA_MILVUS_TOKEN.

Every query server reads everything from Milvus: chunk text, offsets, lines, pages and sentence
spans are fields of the chunk rows, documents (with their full text) are rows of their own. The
index folder only holds the writer lock and the embedding cache.

Collections (prefix `qa` by default):

    qa_chunks    one row per chunk: chunk id, offsets, text, vector, and `terms` (qa's own BM25
                 terms, space separated) from which Milvus's BM25 function makes the sparse vector
    qa_docs      one row per document: source, title, hash, file size and mtime, chunk count
    qa_texts     the document text, pages and sections as JSON, cut into pieces
    qa_versions  one row per published version: manifest, `floor`, `settled`
    qa_changes   documents replaced or touched by each version

Versions without copying: a writer inserts its rows stamped `v_from = N`, invisible to readers of
version N-1. Publishing is one insert into qa_versions (a reader takes the highest version).
Readers of version V see rows with `floor <= v_from <= V`, minus the older rows of documents
that version V replaced. After publishing, the writer deletes those superseded rows and marks the
version settled. A failed or killed build leaves rows above the published version; the next writer
deletes them before it starts. So an update costs what it changes, and a question never sees a
vector without its text (they are one row). A question still running on the previous version
may find a document it was reading removed by the new one; it then skips that chunk.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from qa.chunk import Chunk
from qa.errors import IndexIncompatible, IndexMissing, IndexWriteFailed, MissingExtra
from qa.formats.meta import DocumentMeta
from qa.settings import BM25S_DEFAULTS, FORMAT_VERSION, LexicalSettings, milvus_token
from qa.sources import Document, Section
from qa.stores.base import (IndexedDocument, StoredChunk, StoredDocument, check_format, folder_lock, meta_from, meta_to_json,
                            pack_vectors, unpack_vectors)

try:
    from pymilvus import DataType, Function, FunctionType, MilvusClient
    from pymilvus.exceptions import MilvusException
except ImportError as e:
    raise MissingExtra(f'the Milvus store needs the milvus extra: pip install "qa[milvus]" ({e})') from e


class _QuietIterator(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:  # Milvus Lite has no server timestamp to offer
        return "failed to get mvccTs" not in record.getMessage()

TEXT_PIECE = 16_000  # characters per VARCHAR piece: at most 64 000 bytes of UTF-8, under Milvus's 65 535
MAX_VARCHAR = 65_535
BATCH = 500
SEARCH_LIMIT = 16_384  # Milvus's largest top-k
STRONG = {"consistency_level": "Strong"}  # a server then shows every write to the next read
# Milvus fixes BM25's k1 and b when the collection is made, so this store does not follow
# Index(lexical=...): it keeps 1.5 / 0.75 (bm25s's and Milvus Lite's defaults), which is what
# Milvus Lite 3.2 scores with whatever is asked (pymilvus sends these as their own keys and
# Milvus Lite reads only a JSON "params" key); the manifest records them.
LEXICAL = BM25S_DEFAULTS
BM25_PARAMS = {"bm25_k1": LEXICAL.k1, "bm25_b": LEXICAL.b}
CHUNK_FIELDS = ["chunk_id", "doc_id", "source", "title", "start", "end", "line_start", "line_end", "page",
                "section", "text", "search_text", "sentences"]

_clients: dict[str, MilvusClient] = {}
_clients_lock = threading.Lock()


def parse_spec(spec: str) -> tuple[str, str, bool]:
    """milvus:///abs/file.db, milvus://rel/file.db or milvus://host:port[?collection=NAME] →
    (client uri, collection prefix, is Milvus Lite)."""
    rest = spec[len("milvus:"):]
    rest = rest[2:] if rest.startswith("//") else rest
    parts = urlsplit("x://" + rest)
    prefix = parse_qs(parts.query).get("collection", ["qa"])[0]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", prefix):
        raise ValueError(f"collection name {prefix!r}: use letters, digits and underscores")
    location = rest.split("?", 1)[0]
    if location.endswith(".db"):
        return str(Path(location).absolute()), prefix, True
    if not parts.hostname:
        raise ValueError(f"{spec}: give milvus:///path/to/file.db (Milvus Lite) or milvus://host:19530 (a server)")
    return f"http://{parts.hostname}:{parts.port or 19530}", prefix, False


def client_for(uri: str, lite: bool) -> MilvusClient:
    """One client per Milvus per process (Milvus Lite allows one process per database file)."""
    with _clients_lock:
        if uri not in _clients:
            if lite:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            # Its query iterator logs a warning per page on Milvus Lite; filtered from the first
            # client on (never on import).
            iterator_log = logging.getLogger("pymilvus.client.iterator.query_iterator")
            if not any(isinstance(f, _QuietIterator) for f in iterator_log.filters):
                iterator_log.addFilter(_QuietIterator())
            token = milvus_token()
            _clients[uri] = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
        return _clients[uri]


def bm25_terms(terms: list[str]) -> str:
    """qa's terms as one string that Milvus's standard analyzer splits back into exactly these terms."""
    return " ".join(t.replace("'", "0") for t in terms)


def _in(values) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _docs_filter(doc_ids: Collection[str] | None) -> str:
    return "" if doc_ids is None else f"doc_id in {_in(sorted(doc_ids))}"


def _dummy_vector_field(schema) -> None:
    # Milvus wants a vector field in every collection; rows that are not searched carry a constant.
    schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)


DUMMY = [1.0, 0.0]


class MilvusStore:
    """A Store (qa.stores.base) in Milvus; `local` (the index folder) keeps the lock and the embedding cache."""

    errors = (MilvusException,)

    def __init__(self, spec: str, local: Path):
        self.spec = spec
        self.uri, self.prefix, self.lite = parse_spec(spec)
        self.root = Path(local)
        self.names = {k: f"{self.prefix}_{k}" for k in ("chunks", "docs", "texts", "versions", "changes")}
        self._sentence_field: bool | None = None

    @property
    def client(self) -> MilvusClient:
        return client_for(self.uri, self.lite)

    def __repr__(self) -> str:
        return f"MilvusStore({self.spec!r})"

    # -- versions ----------------------------------------------------------------------------
    def _ready(self) -> bool:
        if not self.client.has_collection(self.names["versions"]):
            return False
        if not getattr(self, "_loaded", False):  # a restarted Milvus (or a new Lite process) starts released
            for name in self.names.values():
                self.client.load_collection(name)  # no-op when loaded
            self._loaded = True
        return True

    def _versions(self) -> list[dict]:
        if not self._ready():
            return []
        rows = self.client.query(self.names["versions"], filter="version >= 0",
                                 output_fields=["version", "floor", "settled", "manifest"], limit=1000, **STRONG)
        return sorted(rows, key=lambda r: r["version"])

    def _current(self) -> dict | None:
        rows = self._versions()
        return rows[-1] if rows else None

    def current_version(self) -> str | None:
        if not self._ready():
            return None
        rows = self.client.query(self.names["versions"], filter="version >= 0", output_fields=["version"],
                                 limit=1000, **STRONG)
        return f"v{max(r['version'] for r in rows):06d}" if rows else None

    def exists(self) -> bool:
        return self.current_version() is not None

    def manifest(self) -> dict:
        row = self._current()
        if row is None:
            raise IndexMissing(f"no index in {self.spec}; build one with: qa build SOURCES --store {self.spec}")
        return json.loads(row["manifest"])

    def open(self) -> "MilvusSnapshot":
        row = self._current()
        if row is None:
            raise IndexMissing(f"no index in {self.spec}; build one with: qa build SOURCES --store {self.spec}")
        return MilvusSnapshot(self, row)

    def lock(self, wait: bool = True, on_wait=None):
        """The single-writer lock of the index folder: one writer at a time per folder (docs/scaling.md)."""
        return folder_lock(self.root, wait, on_wait)

    def bm25_params(self, wanted: LexicalSettings) -> dict:
        """Milvus's own BM25 settings, whatever is asked (see BM25_PARAMS)."""
        return LEXICAL.to_dict()

    def writer(self, base, dim: int) -> "MilvusWriter":
        return MilvusWriter(self, base, dim)

    # -- collections -------------------------------------------------------------------------
    def has_sentence_vectors(self) -> bool:
        """Whether the chunk collection holds sentence vectors (collections made by older qa do not)."""
        if self._sentence_field is None:
            if not self.client.has_collection(self.names["chunks"]):
                return False  # not known until the collection exists
            fields = self.client.describe_collection(self.names["chunks"])["fields"]
            self._sentence_field = any(f["name"] == "sentence_vectors" for f in fields)
        return self._sentence_field

    def vector_dim(self) -> int | None:
        if not self.client.has_collection(self.names["chunks"]):
            return None
        for f in self.client.describe_collection(self.names["chunks"])["fields"]:
            if f["name"] == "vector":
                return int(f["params"]["dim"])
        return None

    def create(self, dim: int, index: str = "FLAT") -> None:
        c = self.client
        if not c.has_collection(self.names["chunks"]):
            s = MilvusClient.create_schema(auto_id=True)
            s.add_field("pk", DataType.INT64, is_primary=True)
            s.add_field("chunk_id", DataType.INT64)
            s.add_field("v_from", DataType.INT64)
            s.add_field("doc_id", DataType.VARCHAR, max_length=64)
            s.add_field("source", DataType.VARCHAR, max_length=4096)
            s.add_field("title", DataType.VARCHAR, max_length=4096)
            s.add_field("ord", DataType.INT64)
            for name in ("start", "end", "line_start", "line_end", "page"):
                s.add_field(name, DataType.INT64)
            for name in ("section", "text", "search_text", "sentences", "sentence_vectors"):
                s.add_field(name, DataType.VARCHAR, max_length=MAX_VARCHAR)
            s.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, enable_match=True,
                        analyzer_params={"tokenizer": "standard"})
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                    output_field_names=["sparse"]))
            ip = c.prepare_index_params()
            ip.add_index("vector", index_type=index, metric_type="IP",
                         params={"M": 16, "efConstruction": 200} if index == "HNSW" else {})
            ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
            for name in ("chunk_id", "v_from", "doc_id"):
                ip.add_index(name, index_type="INVERTED")
            c.create_collection(self.names["chunks"], schema=s, index_params=ip, **STRONG)
        for kind, fields in (
            ("docs", [("source", 4096), ("meta", MAX_VARCHAR)]),
            ("texts", [("payload", MAX_VARCHAR)]),
            ("changes", [("kind", 16)]),
        ):
            if c.has_collection(self.names[kind]):
                continue
            s = MilvusClient.create_schema(auto_id=True)
            s.add_field("pk", DataType.INT64, is_primary=True)
            s.add_field("v_from", DataType.INT64)
            s.add_field("doc_id", DataType.VARCHAR, max_length=64)
            s.add_field("part", DataType.INT64)
            for name, length in fields:
                s.add_field(name, DataType.VARCHAR, max_length=length)
            _dummy_vector_field(s)
            ip = c.prepare_index_params()
            ip.add_index("dummy", index_type="FLAT", metric_type="IP")
            c.create_collection(self.names[kind], schema=s, index_params=ip, **STRONG)
        if not c.has_collection(self.names["versions"]):  # created last: its presence means "ready"
            s = MilvusClient.create_schema(auto_id=False)
            s.add_field("version", DataType.INT64, is_primary=True)
            s.add_field("floor", DataType.INT64)
            s.add_field("settled", DataType.BOOL)
            s.add_field("manifest", DataType.VARCHAR, max_length=MAX_VARCHAR)
            _dummy_vector_field(s)
            ip = c.prepare_index_params()
            ip.add_index("dummy", index_type="FLAT", metric_type="IP")
            c.create_collection(self.names["versions"], schema=s, index_params=ip, **STRONG)

    def query_all(self, kind: str, filter: str, fields: list[str]) -> list[dict]:
        """Every row matching `filter` (Milvus caps one query's result, so page with an iterator)."""
        it = self.client.query_iterator(self.names[kind], batch_size=1000, filter=filter, output_fields=fields,
                                        **STRONG)
        out = []
        try:
            while True:
                page = it.next()
                if not page:
                    break
                out.extend(page)
        finally:
            it.close()
        return out

    def count(self, kind: str, filter: str) -> int:
        rows = self.client.query(self.names[kind], filter=filter, output_fields=["count(*)"], **STRONG)
        return int(rows[0]["count(*)"]) if rows else 0

    def changes(self, version: int) -> tuple[list[str], list[str]]:
        rows = self.query_all("changes", f"v_from == {version}", ["doc_id", "kind"])
        replaced = sorted({r["doc_id"] for r in rows if r["kind"] == "replaced"})
        touched = sorted({r["doc_id"] for r in rows if r["kind"] == "touched"})
        return replaced, touched

    def settle(self, row: dict) -> None:
        """Delete the rows version `row` superseded, then mark it settled (idempotent, so a killed
        writer's work is finished by the next one)."""
        v, floor = row["version"], row["floor"]
        replaced, touched = self.changes(v)
        c = self.client
        for kind in ("chunks", "texts", "docs"):
            if floor > 0:
                c.delete(self.names[kind], filter=f"v_from < {floor}")
            ids = replaced + (touched if kind == "docs" else [])
            for i in range(0, len(ids), BATCH):
                c.delete(self.names[kind], filter=f"v_from < {v} and doc_id in {_in(ids[i:i + BATCH])}")
        c.upsert(self.names["versions"], [{**{k: row[k] for k in ("version", "floor", "manifest")},
                                           "settled": True, "dummy": DUMMY}])

    def recover(self) -> None:
        """Under the lock: drop rows of builds that never published, finish settling the current version."""
        row = self._current()
        top = row["version"] if row else 0
        for kind in ("chunks", "texts", "docs", "changes"):
            self.client.delete(self.names[kind], filter=f"v_from > {top}")
        if row and not row["settled"]:
            self.settle(row)

    def collect(self, keep: int = 3) -> None:
        rows = self._versions()
        old = [r["version"] for r in rows[:-keep]]
        if old:
            self.client.delete(self.names["versions"], filter=f"version in {_in(old)}")
            self.client.delete(self.names["changes"], filter=f"v_from <= {max(old)}")


class MilvusSnapshot:
    """One published version. Reads filter rows by version, so a newer build never changes what it sees
    (except that a document the newer version replaced may disappear)."""

    def __init__(self, store: MilvusStore, row: dict):
        self.store = store
        self.number = int(row["version"])
        self.version = f"v{self.number:06d}"
        self.manifest = json.loads(row["manifest"])
        check_format(self.manifest, Path(store.spec))
        self.folder = None
        self.floor = v_floor = int(row["floor"])
        self._df: dict[str, int] = {}  # document frequency per term (a version never changes)
        self._meta: dict[str, DocumentMeta] = {}  # doc id -> its metadata
        self._documents: list[StoredDocument] | None = None
        v, floor = self.number, v_floor
        base = f"v_from >= {floor} and v_from <= {v}"
        replaced, touched = ([], []) if row["settled"] else store.changes(v)
        self._visible = {
            kind: base + (f" and not (v_from < {v} and doc_id in {_in(ids)})" if ids else "")
            for kind, ids in (("chunks", replaced), ("texts", replaced), ("docs", replaced + touched))
        }

    def _where(self, kind: str, extra: str = "") -> str:
        return f"({self._visible[kind]})" + (f" and ({extra})" if extra else "")

    @property
    def _client(self) -> MilvusClient:
        return self.store.client

    # -- retrieval ---------------------------------------------------------------------------
    def dense_search(self, query_vectors: np.ndarray, k: int,
                     doc_ids: Collection[str] | None = None) -> list[list[tuple[int, float]]]:
        if k <= 0:
            return [[] for _ in range(len(query_vectors))]
        res = self._client.search(self.store.names["chunks"], data=[list(map(float, q)) for q in query_vectors],
                                  anns_field="vector", filter=self._where("chunks", _docs_filter(doc_ids)),
                                  limit=min(k, SEARCH_LIMIT), output_fields=["chunk_id"],
                                  search_params={"metric_type": "IP"}, **STRONG)
        return [[(int(h["entity"]["chunk_id"]), float(h["distance"])) for h in hits] for hits in res]

    def _bm25(self, query_terms: list[str], k: int, extra: str = "") -> dict[int, float]:
        text = bm25_terms(query_terms)
        if not text or k <= 0:
            return {}
        res = self._client.search(self.store.names["chunks"], data=[text], anns_field="sparse",
                                  filter=self._where("chunks", extra), limit=min(k, SEARCH_LIMIT),
                                  output_fields=["chunk_id"], search_params={"metric_type": "BM25"}, **STRONG)
        # Milvus reports the BM25 score as the distance (Milvus Lite negates it): the score is its size.
        return {int(h["entity"]["chunk_id"]): abs(float(h["distance"])) for h in res[0]}

    def lexical_search(self, terms: list[str], depth: int, score_ids: Collection[int] = (),
                       expansion: Mapping[str, float] = {}, doc_ids: Collection[str] | None = None) -> dict[int, float]:
        """Milvus's BM25 full-text search picks the `depth` best for `terms` (among `doc_ids`, a
        filter expression); then the chunks of `score_ids` are scored, and the expansion terms
        re-score all of them (they add none)."""
        out = {cid: s for cid, s in self._bm25(terms, depth, _docs_filter(doc_ids)).items() if s > 0}
        scored = list(dict.fromkeys([*out, *score_ids]))
        out.update(self._bm25_of(terms, [c for c in scored if c not in out]))
        for term, weight in expansion.items():
            for cid, s in self._bm25_of([term], scored).items():
                out[cid] = out.get(cid, 0.0) + weight * s
        return out

    def use_bm25_params(self, lexical: LexicalSettings) -> None:
        if (lexical.k1, lexical.b) != (LEXICAL.k1, LEXICAL.b):
            raise IndexIncompatible(f"Milvus fixes BM25's k1 and b when a collection is made ({LEXICAL.k1}, {LEXICAL.b})")

    def _bm25_of(self, query_terms: list[str], ids: list[int]) -> dict[int, float]:
        """BM25 scores of the given chunks (those that match no term are left out)."""
        out: dict[int, float] = {}
        for i in range(0, len(ids), BATCH):
            part = [int(x) for x in ids[i:i + BATCH]]
            out.update(self._bm25(query_terms, len(part), f"chunk_id in {_in(part)}"))
        return out

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros((0, int(self.manifest["model"]["dim"])), np.float32)
        vecs = {}
        for i in range(0, len(ids), BATCH):
            part = [int(x) for x in ids[i:i + BATCH]]
            for r in self._client.query(self.store.names["chunks"], filter=self._where("chunks", f"chunk_id in {_in(part)}"),
                                        output_fields=["chunk_id", "vector"], **STRONG):
                vecs[int(r["chunk_id"])] = np.asarray(r["vector"], dtype=np.float32)
        return np.vstack([vecs[int(i)] for i in ids])

    def _chunk(self, r: dict, meta: DocumentMeta = DocumentMeta()) -> StoredChunk:
        sentences = tuple(tuple(s) for s in json.loads(r["sentences"]))
        vectors = None
        if r.get("sentence_vectors"):
            vectors = unpack_vectors(base64.b64decode(r["sentence_vectors"]), int(self.manifest["model"]["dim"]))
            vectors = vectors if vectors is not None and len(vectors) == len(sentences) else None
        return StoredChunk(
            id=int(r["chunk_id"]), doc_id=r["doc_id"], source=r["source"], title=r["title"], start=int(r["start"]),
            end=int(r["end"]), line_start=int(r["line_start"]), line_end=int(r["line_end"]),
            page=None if int(r["page"]) < 0 else int(r["page"]), section=r["section"], text=r["text"],
            search_text=r["search_text"], sentences=sentences, sentence_vectors=vectors, meta=meta,
        )

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        rows = []
        fields = CHUNK_FIELDS + (["sentence_vectors"] if self.store.has_sentence_vectors() else [])
        for i in range(0, len(ids), BATCH):
            part = [int(x) for x in ids[i:i + BATCH]]
            rows += self._client.query(self.store.names["chunks"], filter=self._where("chunks", f"chunk_id in {_in(part)}"),
                                       output_fields=fields, **STRONG)
        metas = self._metas({r["doc_id"] for r in rows})
        return {int(r["chunk_id"]): self._chunk(r, metas.get(r["doc_id"], DocumentMeta())) for r in rows}

    def _metas(self, doc_ids: set[str]) -> dict[str, DocumentMeta]:
        """Author, date and URL of these documents (kept: a version's documents do not change)."""
        todo = sorted(d for d in doc_ids if d not in self._meta)
        for i in range(0, len(todo), BATCH):
            for r in self._doc_rows(f"doc_id in {_in(todo[i:i + BATCH])}"):
                self._meta[r["doc_id"]] = meta_from(r)
        return {d: self._meta[d] for d in doc_ids if d in self._meta}

    # -- documents ---------------------------------------------------------------------------
    def _doc_rows(self, extra: str = "") -> list[dict]:
        rows = self.store.query_all("docs", self._where("docs", extra), ["doc_id", "source", "meta"])
        return [{**r, **json.loads(r["meta"])} for r in rows]

    def documents(self) -> list[StoredDocument]:
        if self._documents is None:  # the documents of a version do not change: read once
            self._documents = [
                StoredDocument(r["doc_id"], r["source"], r["path"], r["title"], r["format"], r["content_hash"],
                               r["chunker"], r["added_at"], meta_from(r))
                for r in sorted(self._doc_rows(), key=lambda r: r["source"])
            ]
        return list(self._documents)

    def file_stats(self) -> dict[str, tuple[int, int]]:
        return {r["source"]: (r["size"], r["mtime_ns"]) for r in self._doc_rows()}

    def idf(self, query_terms: list[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term over all chunks of this version. The chunk
        count is the manifest's (checked at commit); a term's document frequency is the number of
        chunks its BM25 search finds (every chunk holding the term scores above 0), counted by text
        match only past the search limit. Milvus Lite scans every row in Python for a count or a
        text match (about 0.5 s each on 4k chunks), its BM25 search uses the inverted index."""
        n = int(self.manifest.get("counts", {}).get("chunks", 0)) or self.store.count("chunks", self._where("chunks"))
        todo = [t for t in dict.fromkeys(query_terms) if t not in self._df]
        if todo and n:
            res = self._client.search(self.store.names["chunks"], data=[bm25_terms([t]) for t in todo],
                                      anns_field="sparse", filter=self._where("chunks"), limit=SEARCH_LIMIT,
                                      output_fields=["chunk_id"], search_params={"metric_type": "BM25"}, **STRONG)
            for t, hits in zip(todo, res):
                df = len(hits)
                if df >= SEARCH_LIMIT:
                    token = json.dumps(bm25_terms([t]), ensure_ascii=False)
                    df = self.store.count("chunks", self._where("chunks", f"text_match(terms, {token})"))
                self._df[t] = df
        return {t: float(np.log(1 + (n - self._df.get(t, 0) + 0.5) / (self._df.get(t, 0) + 0.5))) for t in query_terms}

    def _blob(self, doc_id_or_source: str) -> dict | None:
        key = json.dumps(doc_id_or_source, ensure_ascii=False)
        docs = self.store.query_all("docs", self._where("docs", f"doc_id == {key} or source == {key}"), ["doc_id"])
        if not docs:
            return None
        doc_id = docs[0]["doc_id"]
        rows = self.store.query_all("texts", self._where("texts", f"doc_id == {json.dumps(doc_id, ensure_ascii=False)}"), ["part", "payload"])
        return json.loads("".join(r["payload"] for r in sorted(rows, key=lambda r: r["part"])))

    def document_text(self, doc_id_or_source: str) -> str | None:
        blob = self._blob(doc_id_or_source)
        return blob["text"] if blob else None

    def document_pages(self, doc_id: str) -> tuple[tuple[int, ...], tuple[Section, ...]]:
        blob = self._blob(doc_id)
        if not blob:
            return (), ()
        return tuple(blob["pages"]), tuple(Section(s, tuple(p)) for s, p in blob["sections"])

    def doc_chunks(self, doc_id: str) -> list[StoredChunk]:
        rows = self.store.query_all("chunks", self._where("chunks", f"doc_id == {json.dumps(doc_id, ensure_ascii=False)}"),
                                    CHUNK_FIELDS + ["ord"])
        return [self._chunk(r) for r in sorted(rows, key=lambda r: r["ord"])]

    def count(self) -> tuple[int, int]:
        return self.store.count("docs", self._where("docs")), self.store.count("chunks", self._where("chunks"))

    def check(self) -> list[str]:
        """Consistency problems (empty is good): duplicate chunks, chunks without a document,
        documents whose chunk count or text pieces are off, counts that differ from the manifest."""
        problems = []
        chunk_rows = self.store.query_all("chunks", self._where("chunks"), ["chunk_id", "doc_id"])
        ids = [r["chunk_id"] for r in chunk_rows]
        if len(set(ids)) != len(ids):
            problems.append(f"{len(ids) - len(set(ids))} chunk ids appear twice")
        docs = self._doc_rows()
        doc_ids = [d["doc_id"] for d in docs]
        if len(set(doc_ids)) != len(doc_ids):
            problems.append(f"{len(doc_ids) - len(set(doc_ids))} documents appear twice")
        per_doc: dict[str, int] = {}
        for r in chunk_rows:
            per_doc[r["doc_id"]] = per_doc.get(r["doc_id"], 0) + 1
        orphans = sum(n for d, n in per_doc.items() if d not in set(doc_ids))
        if orphans:
            problems.append(f"{orphans} chunks belong to no document")
        wrong = [d["source"] for d in docs if per_doc.get(d["doc_id"], 0) != d["chunks"]]
        if wrong:
            problems.append(f"{len(wrong)} documents have a wrong number of chunks, e.g. {wrong[0]}")
        pieces: dict[str, list[int]] = {}
        for r in self.store.query_all("texts", self._where("texts"), ["doc_id", "part"]):
            pieces.setdefault(r["doc_id"], []).append(r["part"])
        broken = [d["source"] for d in docs if sorted(pieces.get(d["doc_id"], [])) != list(range(d["parts"]))]
        if broken:
            problems.append(f"{len(broken)} documents have missing text pieces, e.g. {broken[0]}")
        counts = self.manifest.get("counts", {})
        if counts and (counts.get("chunks") != len(ids) or counts.get("documents") != len(docs)):
            problems.append(f"manifest says {counts.get('documents')} documents and {counts.get('chunks')} chunks, "
                            f"Milvus has {len(docs)} and {len(ids)}")
        return problems

    def close(self) -> None:
        pass


class MilvusWriter:
    """Writes version N's rows (invisible until published), then publishes and settles it."""

    def __init__(self, store: MilvusStore, base: MilvusSnapshot | None, dim: int):
        self.store = store
        have = store.vector_dim()
        if have is not None and have != dim:
            raise IndexIncompatible(f"Milvus collection {store.names['chunks']} has {have}-dimensional vectors, the "
                                    f"model gives {dim}; use another ?collection= or drop it")
        store.create(dim)
        store.recover()
        current = store._current()
        self.number = (current["version"] if current else 0) + 1
        self.floor = base.floor if base is not None else self.number  # no base: start empty
        self.touched = False
        self._counts = (0, 0)
        self._replaced: set[str] = set()
        self._touched: set[str] = set()
        # source -> the document's row as stored (doc_id, content hash, chunker, path, stats, chunk count)
        self._docs: dict[str, dict] = {r["source"]: r for r in base._doc_rows()} if base is not None else {}
        self._new: set[str] = set()  # doc ids written by this writer

    def documents(self) -> dict[str, IndexedDocument]:
        return {s: IndexedDocument(r["doc_id"], r["content_hash"], r["chunker"], r["path"], r.get("format", "")) for s, r in self._docs.items()}

    def _insert(self, kind: str, rows: list[dict]) -> None:
        for i in range(0, len(rows), BATCH):
            self.store.client.insert(self.store.names[kind], rows[i:i + BATCH])

    def _doc_row(self, r: dict) -> dict:
        meta = {k: r[k] for k in ("path", "title", "format", "content_hash", "chunker", "size", "mtime_ns",
                                  "added_at", "chunks", "parts")}
        meta.update({k: r[k] for k in ("author", "published", "url") if r.get(k)})
        return {"v_from": self.number, "doc_id": r["doc_id"], "part": 0, "source": r["source"],
                "meta": json.dumps(meta), "dummy": DUMMY}

    def touch(self, source: str, stat: tuple[int, int]) -> None:
        r = self._docs.get(source)
        if r is None or (r["size"], r["mtime_ns"]) == tuple(stat):
            return
        r = {**r, "size": stat[0], "mtime_ns": stat[1]}
        if r["doc_id"] in self._new:
            self.store.client.delete(self.store.names["docs"], filter=f"v_from == {self.number} and doc_id == {json.dumps(r['doc_id'], ensure_ascii=False)}")
        else:
            self._touched.add(r["doc_id"])
        self._insert("docs", [self._doc_row(r)])
        self._docs[source] = r
        self.touched = True

    @property
    def counts(self) -> tuple[int, int]:
        return self._counts

    def remove(self, doc_ids: list[str]) -> int:
        removed = 0
        for doc_id in doc_ids:
            source = next((s for s, r in self._docs.items() if r["doc_id"] == doc_id), None)
            if source is None:
                continue
            removed += int(self._docs.pop(source)["chunks"])
            if doc_id in self._new:
                for kind in ("chunks", "texts", "docs"):
                    self.store.client.delete(self.store.names[kind],
                                             filter=f"v_from == {self.number} and doc_id == {json.dumps(doc_id, ensure_ascii=False)}")
                self._new.discard(doc_id)
            self._replaced.add(doc_id)
        return removed

    def _sentence_field(self, vectors: np.ndarray | None) -> dict:
        """Sentence vectors as base64 float16 text ("" when absent or too long for a field)."""
        if not self.store.has_sentence_vectors():
            return {}
        text = base64.b64encode(pack_vectors(vectors)).decode() if vectors is not None else ""
        return {"sentence_vectors": text if len(text) <= MAX_VARCHAR else ""}

    def add(self, doc: Document, chunks: list[Chunk], search_texts: list[str], vectors: np.ndarray, chunker: str,
            stat: tuple[int, int] = (0, 0), sentence_vectors: list[np.ndarray | None] | None = None) -> None:
        from qa.text import terms

        blob = json.dumps({"text": doc.text, "pages": list(doc.pages),
                           "sections": [[s.start, list(s.path)] for s in doc.sections]})
        pieces = [blob[i:i + TEXT_PIECE] for i in range(0, len(blob), TEXT_PIECE)] or [""]
        r = {"doc_id": doc.id, "source": doc.source, "path": str(doc.path), "title": doc.title, "format": doc.format,
             "content_hash": doc.content_hash, "chunker": chunker, "size": stat[0], "mtime_ns": stat[1],
             "added_at": time.time(), "chunks": len(chunks), "parts": len(pieces), **json.loads(meta_to_json(doc.meta))}
        self._insert("texts", [{"v_from": self.number, "doc_id": doc.id, "part": n, "payload": p, "dummy": DUMMY}
                               for n, p in enumerate(pieces)])
        self._insert("chunks", [
            {"chunk_id": c.id, "v_from": self.number, "doc_id": c.doc_id, "source": doc.source, "title": doc.title,
             "ord": c.ord, "start": c.start, "end": c.end, "line_start": c.line_start, "line_end": c.line_end,
             "page": -1 if c.page is None else c.page, "section": c.section, "text": c.text, "search_text": t,
             "sentences": json.dumps([list(s) for s in c.sentences]), "terms": bm25_terms(terms(t)),
             "vector": np.asarray(v, dtype=np.float32).tolist(), **self._sentence_field(sv)}
            for c, t, v, sv in zip(chunks, search_texts, vectors, sentence_vectors or [None] * len(chunks))
        ])
        self._insert("docs", [self._doc_row(r)])  # last: a document row means its chunks are in
        self._docs[doc.source] = r
        self._new.add(doc.id)

    def commit(self, manifest: dict) -> str:
        """Verify the new version's rows, publish it with one insert, then delete what it superseded."""
        docs = len(self._docs)
        chunks = sum(int(r["chunks"]) for r in self._docs.values())
        changes = [{"v_from": self.number, "doc_id": d, "part": 0, "kind": kind, "dummy": DUMMY}
                   for kind, ids in (("replaced", self._replaced), ("touched", self._touched)) for d in sorted(ids)]
        self._insert("changes", changes)
        manifest = {**manifest, "format_version": FORMAT_VERSION, "counts": {"documents": docs, "chunks": chunks},
                    "vector_index": "milvus", "store": self.store.spec}
        row = {"version": self.number, "floor": self.floor, "settled": False, "manifest": json.dumps(manifest)}
        probe = MilvusSnapshot(self.store, row)
        have = probe.count()
        if have != (docs, chunks):
            raise IndexWriteFailed(f"internal error: the new version would have {have[0]} documents and {have[1]} chunks, "
                               f"expected {docs} and {chunks}; the index was not changed")
        self.store.client.insert(self.store.names["versions"], [{**row, "dummy": DUMMY}])  # published
        self._counts = (docs, chunks)
        self.store.settle(row)
        self.store.collect()
        # No flush: Milvus Lite keeps BM25 statistics per sealed segment (not per collection), so
        # sealing each build would make an updated index rank differently from a full rebuild.
        return f"v{self.number:06d}"

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            for kind in ("chunks", "texts", "docs", "changes"):
                self.store.client.delete(self.store.names[kind], filter=f"v_from == {self.number}")
