"""Follow-up questions: the conversation before a question, turned into the Query retrieval runs.

No language model rewrites anything. The newest question stays what is searched for; the turns
before it add, each weighing less the further back it lies:
- context terms (HQE): the rarer words of earlier turns, as down-weighted BM25 expansion terms;
- a context vector: the earlier turns' vectors, mixed into the question's vector;
- a document prior: the documents a search for the whole conversation ranks first get a bonus.
The answering sentence is chosen by the newest question alone (qa.answer.select).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.errors import InvalidInput, InvalidType
from qa.search import QUESTION_WORDS, Query, retrieve
from qa.settings import ConversationSettings, SearchSettings
from qa.stores import Snapshot, StoredChunk
from qa.stores.base import Recent
from qa.text import term_words

ROLES = ("user", "assistant")
MAX_HISTORY_TURNS = 1000  # a longer history is refused: no conversation a person holds is that long
MAX_TURN_CHARS = 2000  # a turn is read up to here (as a question is)
SHOWN_TERMS = 6  # context words named in `searched_for`

Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


def check_history(history: object) -> tuple[Turn, ...]:
    """The conversation before a question as Turns, oldest first; None or [] is no conversation.

    Each item is a mapping with "role" ("user" or "assistant") and "content" (a string), as in
    Gradio's Chatbot messages and most chat APIs; other keys are ignored. Anything else is an
    InvalidType or InvalidInput naming the item.
    """
    if history is None:
        return ()
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise InvalidType(f"history must be a list of {{'role', 'content'}} messages, not {type(history).__name__}")
    if len(history) > MAX_HISTORY_TURNS:
        raise InvalidInput(f"history has {len(history)} turns; at most {MAX_HISTORY_TURNS} are accepted "
                           "(only the last few are read: pass those)")
    turns = []
    for i, item in enumerate(history):
        if isinstance(item, Turn):
            item = {"role": item.role, "content": item.content}
        if not isinstance(item, Mapping):
            raise InvalidType(f"history[{i}] must be a mapping with 'role' and 'content', not {type(item).__name__}")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise InvalidInput(f"history[{i}] has role {role!r}; a turn's role is 'user' or 'assistant'")
        if not isinstance(content, str):
            raise InvalidType(f"history[{i}] content must be a string, not {type(content).__name__}")
        content = " ".join(content.split())[:MAX_TURN_CHARS]
        if content:
            turns.append(Turn(role, content))
    return tuple(turns)


class TurnVectors:
    """Vectors of conversation turns, remembered by model and text (qa.stores.base.Recent): in a
    chat, the earlier questions were encoded when they were asked, so a follow-up encodes nothing
    again. A text's vector does not depend on what else is in its batch, so remembering changes nothing."""

    def __init__(self, size: int = 2048):
        self._recent = Recent(size)

    def remember(self, model: str, text: str, vector: np.ndarray) -> None:
        self._recent.remember({(model, text): vector})

    def encode(self, model: str, encode: Encode, texts: list[str]) -> np.ndarray:
        known, missing = self._recent.split([(model, t) for t in dict.fromkeys(texts)])
        if missing:
            fresh = dict(zip(missing, encode([t for _, t in missing])))
            self._recent.remember(fresh)
            known.update(fresh)
        return np.vstack([known[(model, t)] for t in texts])


class ChunkMemo:
    """A snapshot read through for the several searches of one follow-up: each chunk's row is
    fetched once (the searches share most candidates; rows are what a search spends most on)."""

    def __init__(self, snapshot: Snapshot):
        self._snapshot = snapshot
        self._chunks: dict[int, StoredChunk] = {}

    def __getattr__(self, name: str):
        return getattr(self._snapshot, name)

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        missing = [i for i in ids if i not in self._chunks]
        if missing:
            self._chunks.update(self._snapshot.chunks(missing))
        return {i: self._chunks[i] for i in ids if i in self._chunks}


@functools.lru_cache(maxsize=4096)
def _turn_terms(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(term_words(text))


def turn_weights(turns: Sequence[Turn], settings: ConversationSettings) -> list[float]:
    """Each turn's weight: the previous user turn weighs 1, each user turn before it `decay` times
    the next; an assistant turn weighs `assistant_weight` times the user turn it answers."""
    weights = [0.0] * len(turns)
    steps = 0  # user turns counted back so far
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].role == "user":
            steps += 1
            weights[i] = settings.decay ** (steps - 1)
        else:
            weights[i] = settings.assistant_weight * settings.decay**steps  # answers the user turn before it
    return weights


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def follow_up(snapshot: Snapshot, question: Query, history: Sequence[Turn], encode: Encode,
              settings: ConversationSettings, search: SearchSettings) -> Query:
    """The Query for `question` asked after `history` (oldest first): the question itself, with
    the passages and documents a search for the whole conversation finds as priors; or the
    question alone when it stands on its own."""
    turns = list(history)[-settings.turns:] if settings.turns > 0 else []
    if not turns:
        return question
    weights = turn_weights(turns, settings)

    # Context terms, HQE-style: words of earlier turns that are rare in the index, weighted by turn.
    own = set(question.terms)
    weight: dict[str, float] = {}
    surface: dict[str, str] = {}
    for turn, w in zip(turns, weights):
        for term, word in _turn_terms(turn.content):
            if term in own or term in QUESTION_WORDS:
                continue
            surface.setdefault(term, word)
            weight[term] = weight.get(term, 0.0) + w
    idf = snapshot.idf(list(weight)) if weight else {}
    rare = [t for t in weight if idf.get(t, 0.0) >= settings.min_idf]
    context_terms = {t: weight[t] for t in sorted(rare, key=lambda t: (-weight[t] * idf[t], t))[: settings.context_terms]}
    # The context vector: the user turns' vectors (remembered from when they were asked), and the
    # answers' too when `answer_vectors` (each new answer is then encoded once).
    dense = [(t, w) for t, w in zip(turns, weights) if t.role == "user" or settings.answer_vectors]
    context = _unit(np.asarray([w for _, w in dense], np.float32) @ encode([t.content for t, _ in dense])) if dense else 0.0

    # A search for the whole conversation: the question, and the turns together weighing as much
    # as their weights add up to (each turn's vector and each question's terms weigh 1).
    whole = Query(question.text, question.terms, _unit(question.vector + float(sum(w for _, w in dense)) * context),
                  context_terms, doc_ids=question.doc_ids)  # within the chosen documents, if any
    plain = replace(search, prf_passages=0)
    hits = retrieve(snapshot, whole, search.depth, plain)
    if not hits or hits[0].score <= 0:
        return question
    top = hits[0].score
    if _stands_alone(snapshot, question, hits[0].chunk.doc_id, settings, plain):
        return question
    best: dict[str, float] = {}
    for h in hits:
        best.setdefault(h.chunk.doc_id, h.score)
    ranked = sorted(best.items(), key=lambda x: -x[1])[: settings.prior_documents]
    document_prior = {d: settings.prior_weight * float(np.exp((s - top) / settings.prior_temperature)) for d, s in ranked}
    passage_prior = {h.chunk.id: settings.passage_weight * h.score / top for h in hits[: settings.passages]}
    shown = list(context_terms)[:SHOWN_TERMS]
    text = question.text + (f" (+ {', '.join(surface[t] for t in shown)})" if shown else "")
    return replace(question, text=text, document_prior=document_prior, passage_prior=passage_prior)


def _stands_alone(snapshot: Snapshot, question: Query, conversation_document: str, settings: ConversationSettings,
                  search: SearchSettings) -> bool:
    """Whether the question is its own topic: it carries enough content words, and searched alone
    it puts another document ahead of the conversation's by more than `alone_lead`."""
    if len({t for t in question.terms if t not in QUESTION_WORDS}) < settings.alone_terms:
        return False
    hits = retrieve(snapshot, question, search.depth, search)
    if not hits:
        return False
    best: dict[str, float] = {}
    for h in hits:
        best.setdefault(h.chunk.doc_id, h.score)
    return hits[0].score - best.get(conversation_document, hits[-1].score) > settings.alone_lead
