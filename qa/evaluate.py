"""Answer quality on public benchmarks, through the same `Index.build()` and `Index.ask()` users call.

- SQuAD v1.1 dev: the 48 articles become 48 text files (title line, then paragraphs separated by
  blank lines); every question is asked; a gold answer string in a passage is a retrieval hit, in
  the highlighted sentence an answer hit.
- BEIR SciFact: one text file per abstract (title, blank line, text); documents are ranked by
  their best passage as `ask()` orders them, continued in retrieval order up to 100.
- Abstention: SQuAD indexed without some articles; their questions should come back not found.
- doc2dial: dialogues grounded in documents; each user turn is asked alone, with every user turn
  joined, and with its history (qa's conversation mode); a passage covering half the gold span
  is a hit. SQuAD chained: SQuAD questions asked after earlier questions about other paragraphs
  of the same article, a history that should not help (recall@5 must not fall).

Indexes are built once per (data set, chunk settings, model) under a cache folder and reused.
Vectors of questions and sentences are remembered in a SQLite file (`VectorMemo`), so sweeping
settings that only act at query time (fusion weight, sentence weights, threshold) re-encodes nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from qa.chunk import text_hash
from qa.embed import Embedder, default_precision
from qa.index import Index
from qa.ingest import embed_with_cache, prepare_folder
from qa.search import Query, retrieve
from qa.settings import Settings, eval_cache, eval_data
from qa.stores import EmbeddingCache
from qa.text import tidy

SEED = 13


def memo_for(settings: Settings) -> "VectorMemo":
    return VectorMemo(Embedder.shared(precision=settings.model.precision or default_precision(None)))


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


# -- vectors remembered across runs --------------------------------------------------------------
class VectorMemo:
    """Stands in for an Embedder: same vectors, but each text is encoded once per machine."""

    def __init__(self, embedder: Embedder, path: Path | None = None):
        self.embedder = embedder
        self.name = embedder.name
        self.path = embedder.path
        self.precision = embedder.precision
        self.file = path or eval_cache() / "vectors.sqlite"
        self.memory: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def token_counter(self):
        return self.embedder.token_counter()

    def encode_with_sentences(self, texts, spans, progress: bool = False):
        return self.embedder.encode_with_sentences(texts, spans, progress=progress)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memory]
        if missing:
            hashes = [text_hash(t) for t in missing]
            cache = EmbeddingCache(self.file)
            try:
                known = cache.get(self.name, hashes, self.dim)
                todo = [t for t, h in zip(missing, hashes) if h not in known]
                if todo:
                    fresh = self.embedder.encode(todo, progress=progress)
                    new = {text_hash(t): v for t, v in zip(todo, fresh)}
                    cache.put(self.name, new)
                    known.update(new)
            finally:
                cache.close()
            for t, h in zip(missing, hashes):
                self.memory[t] = known[h]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self.memory[t] for t in texts])


def eval_index(path: Path, memo: VectorMemo, settings: Settings) -> Index:
    """The users' Index over `path`, asking with remembered vectors. Its BM25 is re-indexed in memory
    when these settings ask for another k1/b than it was built with (the cached eval indexes are
    shared by every BM25 setting; nothing else depends on it)."""
    ix = Index(path, chunking=settings.chunk, search=settings.search, answering=settings.answer,
               reranker=settings.model.reranker or None, lexical=settings.lexical, embedder=memo,
               short_answers=settings.short, conversation=settings.conversation)
    if ix.exists():
        ix.snapshot().use_bm25_params(settings.lexical)
    return ix


def unencoded_sentences(ix: Index) -> list[str]:
    """Every sentence ask() would hand to the model (those without a stored vector), for one batch."""
    snap = ix.snapshot()
    out: dict[str, None] = {}
    for doc in snap.documents():
        stored = snap.chunks([c.id for c in snap.doc_chunks(doc.id)])
        for c in stored.values():
            for j, (a, b) in enumerate(c.sentences):
                if c.sentence_vectors is None or np.isnan(c.sentence_vectors[j, 0]):
                    out[tidy(c.text[a - c.start : b - c.start])] = None
    return list(out)


def warm_embedding_cache(docs: Path, index: Path, settings: Settings, embedder: Embedder, log=print,
                         batch: int = 512) -> None:
    """Embed the chunks a build of `docs` will need, batch by batch, into the index's embedding cache.

    The build then takes every vector from the cache; doing it in batches makes a long first
    build resumable (an interrupted run keeps what it embedded).
    """
    items: dict[str, tuple[str, tuple]] = {}
    for prepared in prepare_folder([docs], settings.chunk, embedder.token_counter()):
        for key, text, spans in zip(prepared.sentence_keys, prepared.search_texts, prepared.sentence_spans):
            items[key] = (text, spans)
    index.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(index / "embeddings.sqlite")
    try:
        known = cache.get_sentences(embedder.name, list(items), embedder.dim)
        todo = [key for key in items if key not in known]
    finally:
        cache.close()
    started = time.perf_counter()
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        embed_with_cache([items[k][0] for k in part], [items[k][1] for k in part], embedder,
                         index / "embeddings.sqlite", embedder.dim)
        rate = (i + len(part)) / (time.perf_counter() - started)
        log(f"embedded {i + len(part)}/{len(todo)} new chunks of {len(items)} ({rate:.1f}/s)")


def index_folder(name: str, settings: Settings, memo: VectorMemo) -> Path:
    return eval_cache() / f"{name}-{_key(asdict(settings.chunk), memo.name, 'sentence-vectors')}"


def built_index(name: str, docs: Path, settings: Settings, memo: VectorMemo, log=print,
                seed_from: Path | None = None) -> Index:
    """The index over `docs` for these chunk settings, built on first use and reused afterwards."""
    folder = index_folder(name, settings, memo)
    if not Index(folder / "index").exists():
        if seed_from is not None and (seed_from / "embeddings.sqlite").exists() and not (folder / "index").exists():
            (folder / "index").mkdir(parents=True)
            (folder / "index" / "embeddings.sqlite").write_bytes((seed_from / "embeddings.sqlite").read_bytes())
        log(f"building {folder / 'index'} from {docs} ({settings.chunk})")
        warm_embedding_cache(docs, folder / "index", settings, memo.embedder, log=log)
        # The real embedder builds (its vectors land in the index's own embedding cache).
        report = Index(folder / "index", chunking=settings.chunk, precision=memo.embedder.precision,
                       lexical=settings.lexical).build([docs], progress=False, log=log)
        log(report.summary())
    return eval_index(folder / "index", memo, settings)


# -- SQuAD ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    article: int


def squad_articles(path: Path | None = None) -> list[dict]:
    path = path or eval_data() / "squad-v1.1" / "dev-v1.1.json"
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def _slug(title: str) -> str:
    return re.sub(r"[^\w-]+", "_", title)[:60]


def squad_documents(articles: list[dict], keep: list[int], folder: Path) -> Path:
    """Write the kept articles as text files (title line, blank line, paragraphs); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for i in keep:
        a = articles[i]
        name = f"{i:02d}_{_slug(a['title'])}.txt"
        wanted.add(name)
        text = a["title"].replace("_", " ") + "\n\n" + "\n\n".join(p["context"].strip() for p in a["paragraphs"]) + "\n"
        f = folder / name
        if not f.exists() or f.read_text(encoding="utf-8") != text:
            f.write_text(text, encoding="utf-8")
    for f in folder.glob("*.txt"):
        if f.name not in wanted:
            f.unlink()
    return folder


def squad_questions(articles: list[dict], keep: list[int]) -> list[Question]:
    out = []
    for i in keep:
        for p in articles[i]["paragraphs"]:
            for qa in p["qas"]:
                out.append(Question(qa["id"], qa["question"], tuple(dict.fromkeys(a["text"] for a in qa["answers"])), i))
    return out


SPLITS = ("tune", "test", "all")


def split_articles(count: int, split: str) -> list[int]:
    """tune: the first half of the articles (24 of 48), test: the other half, all: every one."""
    half = count // 2
    return {"tune": list(range(half)), "test": list(range(half, count)), "all": list(range(count))}[split]


def sample(items: list, limit: int | None) -> list:
    """A fixed seeded sample (the same for every run and setting), in the original order."""
    if not limit or limit >= len(items):
        return items
    chosen = set(random.Random(SEED).sample(range(len(items)), limit))
    return [x for i, x in enumerate(items) if i in chosen]


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


# -- the official SQuAD v1.1 answer metrics -----------------------------------------------------
_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """As the official SQuAD v1.1 script: lower case, punctuation and articles dropped, spaces collapsed."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: tuple[str, ...] | list[str]) -> bool:
    return any(squad_normalize(prediction) == squad_normalize(g) for g in golds)


def f1(prediction: str, golds: tuple[str, ...] | list[str]) -> float:
    """Token F1 against the best-matching gold answer (official SQuAD v1.1)."""
    def one(gold: str) -> float:
        p, g = squad_normalize(prediction).split(), squad_normalize(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(p), common / len(g)
        return 2 * precision * recall / (precision + recall)

    return max((one(g) for g in golds), default=0.0)


@dataclass(frozen=True)
class ShortAnswerRecord:
    """One question's short answer: what ask() showed, and the best candidate at any confidence."""

    shown: str | None  # the first passage's short_answer
    best: str | None  # the best candidate of its highlighted sentence, whatever its confidence
    confidence: float  # that candidate's confidence (0 when there is none)
    answers: tuple[str, ...]
    sentence_holds_gold: bool


CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))


def _em_f1(pairs: list[tuple[str, tuple[str, ...]]]) -> tuple[float | None, float | None]:
    if not pairs:
        return None, None
    return (round(sum(exact_match(p, g) for p, g in pairs) / len(pairs), 4),
            round(sum(f1(p, g) for p, g in pairs) / len(pairs), 4))


def short_answer_summary(records: list[ShortAnswerRecord]) -> dict:
    """Coverage (share of questions whose first passage carries a short answer), exact match and
    F1 where one is shown, the same restricted to questions whose highlighted sentence holds a
    gold answer, and the coverage-precision curve over confidence thresholds."""
    n = max(1, len(records))
    shown = [(r.shown, r.answers) for r in records if r.shown is not None]
    em, f = _em_f1(shown)
    in_gold = [(r.shown, r.answers) for r in records if r.shown is not None and r.sentence_holds_gold]
    em_gold, f_gold = _em_f1(in_gold)
    curve = []
    for t in CURVE_THRESHOLDS:
        above = [(r.best, r.answers) for r in records if r.best is not None and r.confidence >= t]
        c_em, c_f1 = _em_f1(above)
        curve.append({"threshold": t, "coverage": round(len(above) / n, 4), "exact_match": c_em, "f1": c_f1})
    return {"short_coverage": round(len(shown) / n, 4), "short_exact_match": em, "short_f1": f,
            "short_in_gold_sentence": len(in_gold), "short_exact_match_in_gold_sentence": em_gold,
            "short_f1_in_gold_sentence": f_gold, "short_curve": curve}


@dataclass
class SquadResult:
    questions: int
    recall: dict[int, float]
    sentence_hit1: float
    mrr: float
    found: float
    seconds_per_question: float
    passage_chars: float = 0.0  # mean length of the first 5 passages shown: recall@k is only fair read with it
    scores: list[float] = field(default_factory=list, repr=False)  # top passage score per question
    hits: list[bool] = field(default_factory=list, repr=False)  # gold answer in the highlighted sentence
    short: list[ShortAnswerRecord] = field(default_factory=list, repr=False)

    def row(self) -> dict:
        return {
            "questions": self.questions,
            **{f"recall@{k}": round(v, 4) for k, v in self.recall.items()},
            "sentence_hit@1": round(self.sentence_hit1, 4),
            "mrr": round(self.mrr, 4),
            "found": round(self.found, 4),
            "passage_chars": round(self.passage_chars),
            "ms_per_question": round(1000 * self.seconds_per_question, 1),
            **(short_answer_summary(self.short) if self.short else {}),
        }


def run_squad(ix: Index, questions: list[Question], ks: tuple[int, ...] = (1, 5, 20),
              histories: dict[str, list[dict]] | None = None) -> SquadResult:
    depth = max(ks)
    hit_at = {k: 0 for k in ks}
    sentence_hits, rr, found = 0, 0.0, 0
    scores, hits = [], []
    chars: list[int] = []
    short: list[ShortAnswerRecord] = []
    asking = 0.0
    for q in questions:
        started = time.perf_counter()
        answer = ix.ask(q.text, k=depth, history=(histories or {}).get(q.id))
        asking += time.perf_counter() - started
        chars.extend(len(p.text) for p in answer.passages[:5])
        gold = [_norm(a) for a in q.answers]
        first = next((r for r, p in enumerate(answer.passages, 1) if any(g in _norm(p.text) for g in gold)), None)
        for k in ks:
            hit_at[k] += first is not None and first <= k
        rr += 1 / first if first else 0.0
        hit = bool(answer.passages) and any(g in _norm(answer.passages[0].answer) for g in gold)
        sentence_hits += hit
        found += answer.found
        scores.append(answer.passages[0].score if answer.passages else 0.0)
        hits.append(hit)
        short.append(short_answer_record(ix, q, answer))
    n = max(1, len(questions))
    return SquadResult(len(questions), {k: v / n for k, v in hit_at.items()}, sentence_hits / n, rr / n, found / n,
                       asking / n, float(np.mean(chars)) if chars else 0.0, scores, hits, short)


def short_answer_record(ix: Index, q: Question, answer) -> ShortAnswerRecord:
    """What the first passage showed, and (for the curve) its best candidate at any confidence."""
    from qa.span import best_span, load_weights

    best = None
    if answer.found and answer.passages:
        first = answer.passages[0]
        lead = first.score - (answer.passages[1].score if len(answer.passages) > 1 else 0.0)
        best = best_span(q.text, first.answer, first.score, lead, load_weights(ix.short_settings.weights))
    holds = bool(answer.passages) and any(squad_normalize(g) in squad_normalize(answer.passages[0].answer)
                                          for g in q.answers)
    return ShortAnswerRecord(answer.short_answer, best.text if best else None, best.confidence if best else 0.0,
                             q.answers, holds)


def squad_index(settings: Settings, memo: VectorMemo, articles: list[dict], keep: list[int] | None = None,
                name: str = "squad", log=print) -> Index:
    keep = list(range(len(articles))) if keep is None else keep
    docs = squad_documents(articles, keep, eval_cache() / f"{name}-docs")
    seed_from = None
    if name != "squad":  # a subset of the full corpus: its chunks are already embedded there
        seed_from = index_folder("squad", settings, memo) / "index"
    ix = built_index(name, docs, settings, memo, log=log, seed_from=seed_from)
    return ix


def prepare(ix: Index, questions: list[str], log=print) -> None:
    """Encode questions and all sentences in big batches (cheap after the first run)."""
    started = time.perf_counter()
    ix.embedder.encode(questions)
    ix.embedder.encode(unencoded_sentences(ix))
    log(f"vectors ready in {time.perf_counter() - started:.1f} s")


def eval_squad(settings: Settings, split: str = "all", limit: int | None = None, log=print) -> SquadResult:
    articles = squad_articles()
    memo = memo_for(settings)
    ix = squad_index(settings, memo, articles, log=log)
    questions = sample(squad_questions(articles, split_articles(len(articles), split)), limit)
    prepare(ix, [q.text for q in questions], log)
    return run_squad(ix, questions)


# -- abstention -------------------------------------------------------------------------------
def held_out(count: int) -> list[int]:
    """Every sixth article (8 of 48, 4 in each half) is left out of the abstention index."""
    return [i for i in range(count) if i % 6 == 5]


def eval_abstention(settings: Settings, limit: int | None = None, log=print) -> dict:
    """Index SQuAD without the held-out articles; score every question; sweep the found threshold.

    The threshold is chosen on the first 24 articles' questions and reported on the other 24.
    """
    articles = squad_articles()
    memo = memo_for(settings)
    out_of_index = held_out(len(articles))
    kept = [i for i in range(len(articles)) if i not in out_of_index]
    ix = squad_index(settings, memo, articles, kept, name="squad-heldout", log=log)
    out = {}
    for half in ("tune", "test"):
        span = split_articles(len(articles), half)
        answerable = sample(squad_questions(articles, [i for i in span if i not in out_of_index]), limit)
        unanswerable = sample(squad_questions(articles, [i for i in span if i in out_of_index]), limit)
        prepare(ix, [q.text for q in answerable + unanswerable], log)
        a = run_squad(ix, answerable)
        u = run_squad(ix, unanswerable)
        out[half] = {"answerable": a.scores, "answerable_hit": a.hits, "unanswerable": u.scores}
    return out


def abstention_curve(scores: dict, thresholds=None) -> list[dict]:
    thresholds = thresholds if thresholds is not None else [round(0.30 + 0.01 * i, 2) for i in range(41)]
    a = np.array(scores["answerable"])
    hit = np.array(scores["answerable_hit"], dtype=bool)
    u = np.array(scores["unanswerable"])
    return [
        {
            "threshold": t,
            "answerable_found": round(float((a >= t).mean()), 4),
            "answered_correctly": round(float(((a >= t) & hit).mean()), 4),
            "unanswerable_rejected": round(float((u < t).mean()), 4),
        }
        for t in thresholds
    ]


def choose_threshold(curve: list[dict], keep_found: float = 0.95) -> dict:
    """The highest threshold that still finds `keep_found` of answerable questions."""
    ok = [c for c in curve if c["answerable_found"] >= keep_found]
    return max(ok, key=lambda c: c["threshold"]) if ok else curve[0]


# -- SciFact ----------------------------------------------------------------------------------
def scifact_documents(folder: Path, corpus: Path | None = None, only: set[str] | None = None) -> Path:
    corpus = corpus or eval_data() / "beir-scifact" / "corpus.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    for line in corpus.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if only is not None and d["_id"] not in only:
            continue
        f = folder / f"{d['_id']}.txt"
        text = f"{d['title'].strip()}\n\n{d['text'].strip()}\n"
        if not f.exists():
            f.write_text(text, encoding="utf-8")
    return folder


def scifact_queries(split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    root = eval_data() / "beir-scifact"
    qrels: dict[str, dict[str, int]] = {}
    for line in (root / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    for line in (root / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q["_id"] in qrels:
            queries[q["_id"]] = q["text"]
    return queries, qrels


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def ranked_documents(ix: Index, question: str, n: int = 100, k_ask: int = 10) -> list[str]:
    """Document ids (file stems) as ask() orders its passages, continued in retrieval order."""
    answer = ix.ask(question, k=k_ask)
    order: dict[str, None] = {}
    for p in answer.passages:
        for source in (p.source, *p.also_in):
            order.setdefault(Path(source).stem, None)
    snap = ix.snapshot()
    qvec = ix.embedder.encode([question])[0]
    depth = 4 * n
    settings = replace(ix.search_settings, depth=depth)
    for hit in retrieve(snap, Query.of(question, qvec), depth, settings):
        if len(order) >= n:
            break
        order.setdefault(Path(hit.chunk.source).stem, None)
    return list(order)[:n]


def eval_scifact(settings: Settings, split: str = "test", limit: int | None = None, log=print,
                 corpus: Path | None = None, name: str = "scifact") -> dict:
    queries, qrels = scifact_queries(split)
    ids = sample(sorted(queries, key=int), limit)
    memo = memo_for(settings)
    docs = scifact_documents(eval_cache() / f"{name}-docs", corpus)
    ix = built_index(name, docs, settings, memo, log=log)
    memo.encode([queries[i] for i in ids])
    ndcg, recall = [], []
    started = time.perf_counter()
    for qid in ids:
        ranked = ranked_documents(ix, queries[qid])
        rel = qrels[qid]
        ndcg.append(ndcg_at(ranked, rel, 10))
        recall.append(len(set(ranked[:100]) & {d for d, r in rel.items() if r > 0}) / max(1, sum(r > 0 for r in rel.values())))
    n = max(1, len(ids))
    return {"queries": len(ids), "ndcg@10": round(float(np.mean(ndcg)), 4), "recall@100": round(float(np.mean(recall)), 4),
            "ms_per_query": round(1000 * (time.perf_counter() - started) / n, 1)}


# -- conversations: doc2dial and SQuAD chained -------------------------------------------------
@dataclass(frozen=True)
class DialogueTurn:
    id: str
    dialogue: str
    doc: str  # file name of the grounding document
    history: tuple[dict, ...]  # {"role", "content"}, oldest first
    question: str
    start: int  # the gold span in the document
    end: int
    answer: str = ""  # the gold span's text


# alone: the newest user turn; joined: every user turn so far, as one question; conversation: the
# newest turn with its history (qa's follow-ups); switched / switched joined: the same two after
# the whole of another dialogue, about another document (a topic switch).
DIALOGUE_HOWS = ("alone", "joined", "conversation", "switched", "switched joined")


def doc2dial_turns(path: Path | None = None) -> list[DialogueTurn]:
    path = path or eval_data() / "doc2dial" / "turns.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        t = json.loads(line)
        out.append(DialogueTurn(t["id"], t["id"].rsplit("_", 1)[0], t["doc"], tuple(t["history"]), t["question"],
                                t["answer_start"], t["answer_end"], t["answer"]))
    return out


def split_dialogues(turns: list[DialogueTurn], split: str) -> list[DialogueTurn]:
    """tune: a fixed seeded half of the dialogues, test: the other half, all: every turn."""
    if split == "all":
        return turns
    dialogues = sorted({t.dialogue for t in turns})
    random.Random(SEED).shuffle(dialogues)
    half = set(dialogues[: len(dialogues) // 2])
    return [t for t in turns if (t.dialogue in half) == (split == "tune")]


def switched_prefixes(turns: list[DialogueTurn]) -> dict[str, list[dict]]:
    """A topic switch: each dialogue is asked after the whole of another one about another
    document (a fixed seeded pairing), so what that one was about should be left behind."""
    last: dict[str, DialogueTurn] = {}
    for t in turns:
        last[t.dialogue] = t  # the turns of a dialogue come in order
    dialogues = sorted(last)
    before = dialogues[:]
    random.Random(SEED).shuffle(before)
    out = {}
    for i, d in enumerate(dialogues):
        others = (last[before[(i + j) % len(before)]] for j in range(len(before)))
        prev = next((p for p in others if p.doc != last[d].doc), None)
        if prev is not None:
            out[d] = [*prev.history, {"role": "user", "content": prev.question},
                      {"role": "assistant", "content": prev.answer}]
    return out


def _asked(turn: DialogueTurn, how: str, prefixes: dict[str, list[dict]] | None = None
           ) -> tuple[str, list[dict] | None]:
    """The question and history given to ask() for one way of asking."""
    history = list(turn.history)
    if how.startswith("switched"):
        history = [*(prefixes or {}).get(turn.dialogue, []), *history]
    if how == "alone":
        return turn.question, None
    if how.endswith("joined"):
        return " ".join([*(h["content"] for h in history if h["role"] == "user"), turn.question]), None
    return turn.question, history


def run_dialogues(ix: Index, turns: list[DialogueTurn], how: str, k: int = 5,
                  prefixes: dict[str, list[dict]] | None = None) -> dict:
    """hit@1, hit@5 (a passage of the first k in the right file covers at least half the gold span),
    doc@1 (the first passage is from the right file), sentence@1 (the highlighted sentence of the
    first passage overlaps the gold span) and found, over every turn. doc@1+also_in also counts a
    first passage that names the right file in `also_in`, and hit@5+also_in a passage whose text
    stands in the right file, named in its `also_in`, over half the gold span (the same text in
    several files: 45 % of the turns are about one of 25 pairs of near-identical documents)."""
    counts = {"hit@1": 0, "hit@5": 0, "doc@1": 0, "sentence@1": 0, "found": 0, "doc@1+also_in": 0,
              "hit@5+also_in": 0}
    texts: dict[str, str] = {}
    started = time.perf_counter()
    for t in turns:
        question, history = _asked(t, how, prefixes)
        answer = ix.ask(question, k=k, history=history)
        need = (t.end - t.start) / 2
        right = [Path(p.source).name == t.doc for p in answer.passages]
        covers = [r and min(p.end, t.end) - max(p.start, t.start) >= need for r, p in zip(right, answer.passages)]
        counts["hit@1"] += any(covers[:1])
        counts["hit@5"] += any(covers[:5])
        counts["doc@1"] += any(right[:1])
        first = answer.passages[0] if answer.passages else None
        counts["sentence@1"] += bool(right[:1] and right[0] and min(first.answer_end, t.end) > max(first.answer_start, t.start))
        counts["found"] += answer.found
        counts["doc@1+also_in"] += bool(first) and t.doc in {Path(x).name for x in (first.source, *first.also_in)}
        also = []
        for p in answer.passages[:5]:
            if t.doc in {Path(x).name for x in p.also_in}:
                other = next(x for x in p.also_in if Path(x).name == t.doc)
                text = texts.setdefault(other, ix.document_text(other) or "")
                at = text.find(p.text)  # where the same text stands in the right file (evaluation only)
                also.append(at >= 0 and min(at + len(p.text), t.end) - max(at, t.start) >= need)
        counts["hit@5+also_in"] += any(covers[:5]) or any(also)
    n = max(1, len(turns))
    return {"turns": len(turns), **{key: round(v / n, 4) for key, v in counts.items()},
            "ms_per_turn": round(1000 * (time.perf_counter() - started) / n, 1)}


def eval_doc2dial(settings: Settings, split: str = "all", limit: int | None = None, hows=DIALOGUE_HOWS,
                  log=print) -> dict:
    memo = memo_for(settings)
    ix = built_index("doc2dial", eval_data() / "doc2dial" / "docs", settings, memo, log=log)
    turns = split_dialogues(doc2dial_turns(), split)
    prefixes = switched_prefixes(turns)
    turns = sample(turns, limit)
    prepare(ix, [q for t in turns for how in ("joined", "switched joined") for q in (_asked(t, how, prefixes)[0],)]
            + [t.question for t in turns] + [h["content"] for t in turns for h in t.history]
            + [h["content"] for p in prefixes.values() for h in p], log)
    return {how: run_dialogues(ix, turns, how, prefixes=prefixes) for how in hows}


CHAINED_TURNS = 3  # earlier questions (with qa's answers) before each SQuAD question


def chained_histories(articles: list[dict], questions: list[Question], answers: dict[str, str],
                      turns: int = CHAINED_TURNS) -> dict[str, list[dict]]:
    """For each question, a history of `turns` questions about other paragraphs of its article
    (a fixed seeded choice), each followed by `answers[id]`, the answer qa gave it alone."""
    paragraph_of: dict[str, int] = {}
    for a in articles:
        for j, p in enumerate(a["paragraphs"]):
            for q in p["qas"]:
                paragraph_of[q["id"]] = j
    by_article: dict[int, list[Question]] = {}
    for q in squad_questions(articles, sorted({q.article for q in questions})):
        by_article.setdefault(q.article, []).append(q)
    rng = random.Random(SEED)
    out = {}
    for q in questions:
        others = [x for x in by_article[q.article] if paragraph_of[x.id] != paragraph_of[q.id]]
        history = []
        for earlier in rng.sample(others, min(turns, len(others))):
            history += [{"role": "user", "content": earlier.text}, {"role": "assistant", "content": answers[earlier.id]}]
        out[q.id] = history
    return out


def eval_squad_chained(settings: Settings, split: str = "all", limit: int | None = None, log=print) -> dict:
    """SQuAD asked without and with a history about other paragraphs of the same article."""
    articles = squad_articles()
    memo = memo_for(settings)
    ix = squad_index(settings, memo, articles, log=log)
    questions = sample(squad_questions(articles, split_articles(len(articles), split)), limit)
    everyone = squad_questions(articles, sorted({q.article for q in questions}))
    prepare(ix, [q.text for q in everyone], log)
    # What qa answers each question alone: the assistant turns of the histories (remembered per
    # configuration, as asking them all takes minutes; the conversation settings play no part).
    memo_file = eval_cache() / f"squad-answers-{_key(asdict(replace(settings, conversation=None)), memo.name)}.json"
    answers = json.loads(memo_file.read_text()) if memo_file.exists() else {}
    for q in everyone:
        if q.id not in answers:
            a = ix.ask(q.text, k=1)
            answers[q.id] = a.passages[0].answer if a.passages else ""
    memo_file.write_text(json.dumps(answers))
    histories = chained_histories(articles, questions, answers)
    alone = run_squad(ix, questions)
    chained = run_squad(ix, questions, histories=histories)
    return {"no history": alone.row(), f"after {CHAINED_TURNS} other questions": chained.row(),
            "recall@5 change": round(chained.recall[5] - alone.recall[5], 4)}


# -- latency ----------------------------------------------------------------------------------
def ask_latency(index_path: Path, settings: Settings, questions: list[str], k: int = 5) -> dict:
    """Warm ask() latency with the real embedder (no remembered vectors), after one warm-up question."""
    ix = Index(index_path, chunking=settings.chunk, search=settings.search, answering=settings.answer,
               reranker=settings.model.reranker or None)
    ix.ask(questions[0], k=k)
    times = []
    for q in questions:
        started = time.perf_counter()
        ix.ask(q, k=k)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"asks": len(times), "p50_ms": round(1000 * times[len(times) // 2], 1),
            "p95_ms": round(1000 * times[min(len(times) - 1, int(0.95 * len(times)))], 1)}
