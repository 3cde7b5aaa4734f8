"""Every setting in one place: the settings dataclasses of each stage, and the environment.

Environment variables are read here and nowhere else, each by a function called when the value
is needed (so a test or a long-lived process that changes one sees it). Importing qa reads none
and sets none.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from qa.errors import InvalidInput

FORMAT_VERSION = 1
PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent


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
    # less than 0.005, and this point was among the best on both (docs/quality.md).
    k1: float = 0.9
    b: float = 0.4

    def to_dict(self) -> dict:
        return asdict(self)


# bm25s's own defaults: what indexes whose manifest names no BM25 settings were written with, and
# what the Milvus store scores with (qa.stores.milvus).
BM25S_DEFAULTS = LexicalSettings(k1=1.5, b=0.75)

MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class SearchSettings:
    """Retrieval (qa.search): how the dense and BM25 candidates are taken and fused."""

    mode: str = "hybrid"
    depth: int = 50  # candidates taken from each retriever before fusion
    dense_weight: float = 0.6  # share of the cosine in the fused score; the rest is normalized BM25 (tuned on SQuAD articles 1-24)
    fusion: str = "weighted"  # "weighted": scores as above; "rrf": reciprocal rank fusion (for comparison); "minmax": cosine min-max scaled over the candidates
    rrf_k: int = 60
    # Pseudo-relevance feedback (off while prf_passages is 0): the first prf_passages fused hits
    # expand the query and retrieval runs again. BM25 gets the prf_terms terms most likely in those
    # passages (RM3: term share in a passage, weighted by the passage's fused score), together
    # weighing prf_lexical times the question's own terms; the dense query gets prf_dense times
    # the passages' mean vector added (Rocchio).
    prf_passages: int = 0
    prf_terms: int = 10
    prf_lexical: float = 0.5
    prf_dense: float = 0.0
    # Query normalization: leave question words and pronouns ("what", "did", "his", ...) out of the
    # BM25 query; being rare in prose, they would weigh as much as the words that carry the question.
    # On: SQuAD articles 1-24 recall@5 0.954 -> 0.958, SciFact train unchanged (docs/quality.md).
    drop_question_words: bool = True
    document_weight: float = 0.0  # add this share of the best other passage's score of the same document
    # Share of a candidate's best stored sentence cosine in its dense score (the rest: the chunk's).
    # Off: 0.3 / 0.6 moved SciFact train by +0.001 / -0.001 and SQuAD 1-24 recall@5 by < 0.001.
    sentence_weight: float = 0.0
    # Context evidence (off): add context_weight times the cosine of the question with the mean
    # vector of the chunk's context: its whole document (context_chunks 0) or the chunks within
    # context_chunks places of it. A SciFact lever (an abstract cut in ~3 chunks is one unit of
    # meaning): whole document at 0.6, SciFact train 0.732 -> 0.741 but SQuAD 1-24 recall@5
    # 0.965 -> 0.955, as the article's mean pulls up its passages that do not answer (docs/quality.md).
    context_weight: float = 0.0
    context_chunks: int = 0
    # With a cross-encoder (Index(reranker=PATH), qa ask/serve --reranker): how many of the first
    # hits it re-scores, and its share of their new score (untuned: no cross-encoder ships here).
    rerank_depth: int = 20
    rerank_weight: float = 0.5


@dataclass(frozen=True)
class AnswerSettings:
    """From retrieved passages to an Answer (qa.answer)."""

    passages_scored: int = 5  # top passages whose sentences are scored
    # Weights tuned on SQuAD dev articles 1-24 (`qa eval squad --split tune`, see docs/quality.md).
    sentence_dense: float = 0.6  # weight of question–sentence cosine (sentence vectors in context, from the build)
    sentence_lexical: float = 0.4  # weight of the IDF-weighted share of question terms in the sentence
    passage_weight: float = 0.25  # weight of the passage's fused score
    answer_type_weight: float = 0.1  # bonus when the sentence holds the kind of thing asked for
    found_threshold: float = 0.55  # below this the sources are taken not to answer (qa eval abstention: chosen on articles 1-24)
    duplicate_similarity: float = 0.8  # word-set overlap at which two passages count as one quote
    # Sentence evidence counts the question's content words only: "how", "did", "what" are not
    # what a sentence must share to answer (as search.drop_question_words does for BM25).
    drop_question_words: bool = False


@dataclass(frozen=True)
class ShortAnswerSettings:
    """The short answer inside the first passage's highlighted sentence (qa.span)."""

    enabled: bool = True
    # A short answer is shown from this confidence on. Chosen on SQuAD dev articles 1-24 by
    # benchmarks/train_short_answer.py (recorded in qa/span_weights.json): the largest worst margin
    # over the targets (coverage 0.30, EM 0.65, F1 0.75) in the worst of four folds of articles,
    # out of fold (docs/short-answers.md).
    threshold: float = 0.55
    weights: str = ""  # a weights file written by benchmarks/train_short_answer.py; "" for the shipped one


@dataclass(frozen=True)
class ConversationSettings:
    """Follow-up questions (qa.converse): how the conversation before a question shapes what is
    searched. The answering sentence is always chosen by the newest question alone."""

    turns: int = 8  # history turns read, the most recent ones (older turns are not looked at)
    decay: float = 0.5  # weight of a user turn per user turn back (the previous one weighs 1)
    assistant_weight: float = 0.5  # an assistant turn's weight, relative to the user turn it answers
    answer_vectors: bool = True  # assistant turns count in the context vector too (else in its terms only)
    # Context terms (HQE): the `context_terms` words of earlier turns that weigh most by turn weight
    # times rarity, among those at least `min_idf` rare (BM25 IDF over the chunks).
    min_idf: float = 1.0
    context_terms: int = 20
    # A search for the whole conversation (the question, and every turn's vector and rare terms at
    # its weight) gives priors: its first `prior_documents` documents get prior_weight times
    # exp(-(how far their best score lies below the first) / prior_temperature); its first
    # `passages` passages are candidates too, with passage_weight times their relative score.
    prior_weight: float = 0.4
    prior_temperature: float = 0.1
    prior_documents: int = 3
    passage_weight: float = 0.2
    passages: int = 50
    # The question is asked alone when it stands on its own: it has at least alone_terms content
    # words and, searched alone, puts another document ahead of the conversation's by more than
    # alone_lead (in fused score).
    alone_terms: int = 5
    alone_lead: float = 0.3


@dataclass(frozen=True)
class ModelSettings:
    """Which weights encode (for evaluation runs; an Index takes `model=` and `precision=`)."""

    precision: str = ""  # "fp32" or "int8"; "" is qa.embed.default_precision for the bundled model
    reranker: str = ""  # a cross-encoder folder that re-scores the first hits (qa.rerank); "" for none


@dataclass(frozen=True)
class Settings:
    """All the settings of one configuration, as `qa eval --set group.name=value` overrides them."""

    chunk: ChunkSettings = ChunkSettings()
    search: SearchSettings = SearchSettings()
    answer: AnswerSettings = AnswerSettings()
    model: ModelSettings = ModelSettings()
    lexical: LexicalSettings = LexicalSettings()
    short: ShortAnswerSettings = ShortAnswerSettings()
    conversation: ConversationSettings = ConversationSettings()

    def with_overrides(self, overrides: list[str]) -> "Settings":
        """Apply "group.field=value" strings, e.g. "search.dense_weight=0.4", "chunk.max_chars=500"."""
        out = self
        groups = [f.name for f in fields(self)]
        for item in overrides:
            key, _, raw = item.partition("=")
            group, _, name = key.strip().partition(".")
            if group not in groups or not raw:
                raise InvalidInput(f"bad setting {item!r}: use chunk.NAME=VALUE, search.NAME=VALUE, answer.NAME=VALUE, "
                                   "short.NAME=VALUE, conversation.NAME=VALUE, lexical.k1|b=VALUE, "
                                   "model.precision=fp32|int8 or model.reranker=PATH")
            current = getattr(out, group)
            if name not in current.__dataclass_fields__:
                raise InvalidInput(f"{group} has no setting {name!r}; it has {', '.join(current.__dataclass_fields__)}")
            kind = type(getattr(current, name))
            try:
                value = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
            except ValueError:
                raise InvalidInput(f"bad setting {item!r}: {name} takes a {kind.__name__}") from None
            out = replace(out, **{group: replace(current, **{name: value})})
        return out


# -- the environment: read here only, when asked ---------------------------------------------------
def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def default_index() -> Path:
    """QA_INDEX, else ./index in the current folder: never a folder derived from where qa is installed."""
    env = _env("QA_INDEX")
    return Path(env) if env else Path("index")


def demo_sources() -> Path:
    """The bundled demo corpus (seeds/, shipped inside the package so a wheel has it)."""
    return PACKAGE_ROOT / "seeds"


def checkout_seeds() -> Path | None:
    """./seeds when the current folder is qa's own checkout (its pyproject names the project qa):
    there the README's `qa serve` builds the demo on first use. Anywhere else a seeds/ folder is
    just a folder."""
    project, seeds = Path("pyproject.toml"), Path("seeds")
    if seeds.is_dir() and project.is_file() and (PACKAGE_ROOT.parent / "pyproject.toml").exists() and \
            project.resolve() == (PACKAGE_ROOT.parent / "pyproject.toml").resolve():
        return seeds
    return None


def demo_index() -> Path:
    """Where `qa serve --demo` keeps its index when no --index is given: qa's cache, not your folder."""
    return cache_root() / "demo-index"


def demo_uploads() -> Path:
    """Where `qa serve --demo` saves uploaded files (indexed with the seeds; never into the package)."""
    return cache_root() / "demo-uploads"


def faiss_threads() -> int:
    """OpenMP threads per FAISS search (QA_FAISS_THREADS, default 1: one question is one small search)."""
    return max(1, int(_env("QA_FAISS_THREADS") or 1))


def cache_root() -> Path:
    """Where qa keeps per-machine files such as the exported ONNX models (QA_CACHE, default ~/.cache/qa)."""
    env = _env("QA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "qa"


def embed_backend() -> str:
    """QA_EMBED_BACKEND: "auto" (ONNX Runtime for small batches when it can) or "torch"."""
    return _env("QA_EMBED_BACKEND") or "auto"


def encode_workers_override() -> int | None:
    """QA_ENCODE_WORKERS: parallel encoding sessions for builds (default: the cores this process may use)."""
    env = _env("QA_ENCODE_WORKERS")
    return max(1, int(env)) if env else None


def milvus_token() -> str:
    """QA_MILVUS_TOKEN: the token for a Milvus server ("" for none)."""
    return _env("QA_MILVUS_TOKEN") or ""


def api_token() -> str | None:
    """QA_API_TOKEN: the bearer token `qa serve` asks of API callers when --api-token is not given
    (an environment variable keeps it out of the process list)."""
    return _env("QA_API_TOKEN")


def eval_data() -> Path:
    """QA_EVAL_DATA: the benchmark data folder (default ../shared/data beside the checkout)."""
    env = _env("QA_EVAL_DATA")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"


def eval_cache() -> Path:
    """QA_EVAL_CACHE: where evaluation indexes and remembered vectors are kept (default /tmp/qa-eval)."""
    env = _env("QA_EVAL_CACHE")
    return Path(env) if env else Path("/tmp/qa-eval")


def malloc_arena_max_set() -> bool:
    """Whether MALLOC_ARENA_MAX is set (it then wins over qa serve's own cap on malloc arenas)."""
    return "MALLOC_ARENA_MAX" in os.environ


def load_budget() -> float:
    """QA_LOAD_BUDGET: seconds a file may take to open, and each of its pages to read, before a
    build gives it up (default 60); 0 reads files in the build's own process, without a budget."""
    return max(0.0, float(_env("QA_LOAD_BUDGET") or 60))


def ocr_page_budget() -> float:
    """QA_OCR_PAGE_BUDGET: seconds OCR may take on one page before the build gives the file up (default 120)."""
    return max(1.0, float(_env("QA_OCR_PAGE_BUDGET") or 120))
