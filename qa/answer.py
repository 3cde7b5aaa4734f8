"""From retrieved chunks to an Answer: the best sentence, corroboration, abstention, citations.

Every string an Answer carries as evidence is a slice of a source document: `passage.text` is
`document[start:end]` and `passage.answer` is `document[answer_start:answer_end]`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from qa.search import QUESTION_WORDS, Hit
from qa.settings import AnswerSettings
from qa.stores import StoredChunk
from qa.text import LineMap, terms, tidy


@dataclass(frozen=True)
class Passage:
    text: str
    source: str
    title: str
    start: int
    end: int
    line_start: int
    line_end: int
    page: int | None
    score: float
    answer: str
    answer_start: int
    answer_end: int
    also_in: tuple[str, ...] = ()
    section: str = ""
    chunk_id: int = 0
    doc_id: str = ""
    author: str | None = None  # of the document, from its metadata or byline
    published: str | None = None  # ISO 8601 date
    url: str | None = None
    # The short answer inside the highlighted sentence (qa.span), when qa is confident of one:
    # document_text[short_start:short_end] == short_answer, within answer_start..answer_end.
    short_answer: str | None = None
    short_start: int | None = None
    short_end: int | None = None

    @property
    def location(self) -> str:
        """Where the passage stands, as a citation says it: "page 3, lines 12–15" or "line 4"."""
        lines = f"line {self.line_start}" if self.line_start == self.line_end else f"lines {self.line_start}–{self.line_end}"
        return (f"page {self.page}, " if self.page is not None else "") + lines

    @property
    def credit(self) -> str:
        """Who wrote the document and when, as a citation says it: "by Jane Smith, 2022-07-05" ("" if unknown)."""
        parts = [f"by {self.author}" if self.author else "", self.published or ""]
        return ", ".join(x for x in parts if x)

    def to_dict(self) -> dict:
        keys = (
            "text source title start end line_start line_end page score answer answer_start answer_end also_in "
            "author published url short_answer short_start short_end"
        ).split()
        d = {k: getattr(self, k) for k in keys}
        d["also_in"] = list(self.also_in)
        return d


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    passages: tuple[Passage, ...]
    notes: tuple[str, ...] = field(default=())
    # What was searched for: the question, or after a conversation the question with the context
    # it was read in ("what documents do I need? (+ replacement, card)"), for a person to check.
    searched_for: str = ""

    @property
    def answer(self) -> str | None:
        """The answering sentence as it stands in the source, when the sources answer."""
        return self.passages[0].answer if self.found and self.passages else None

    @property
    def short_answer(self) -> str | None:
        """The short answer inside that sentence ("16.4"), when qa is confident of one."""
        return self.passages[0].short_answer if self.found and self.passages else None

    def to_dict(self) -> dict:
        return {"question": self.question, "found": self.found, "passages": [p.to_dict() for p in self.passages],
                "searched_for": self.searched_for or self.question}


def answering_positions(answers: list[str], found: bool) -> list[int]:
    """Positions (0-based) of the passages that give the answer, from their answering sentences:
    the first passage and every other one quoting the same words. None when nothing was found.
    What the chat marks as cited and what a vote on an answer is about."""
    if not found or not answers:
        return []
    first = " ".join(answers[0].split())
    return [i for i, a in enumerate(answers) if i == 0 or " ".join(a.split()) == first]


_MONTHS = "january february march april may june july august september october november december"
_MONTH = r"\b(?:" + "|".join(m[:3] + r"(?:" + m[3:] + r")?" for m in _MONTHS.split()) + r")\.?\b"
_NUMBER_WORDS = r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|third|quarter)\b"
_CLOCK = r"\b\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d{2}\b|\bo'clock\b"  # 6 pm, 9.30am, 18:00
_ANSWER_TYPES: list[tuple[re.Pattern, re.Pattern]] = [
    # (question asks for…, sentence offers…)
    (re.compile(r"\b(?:how\s+(?:long|old)|what\s+(?:age|duration)|how\s+many\s+(?:years|months|weeks|days|hours))\b", re.I),
     re.compile(r"\b\d[\d,.]*\s*-?\s*(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centur(?:y|ies))\b|" + _NUMBER_WORDS + r"\s+(?:years?|months?|weeks?|days?)", re.I)),
    (re.compile(r"\b(?:how\s+(?:many|much|far|large|big|high|tall|often)|what\s+(?:percentage|proportion|share|number|amount|size|fraction))\b", re.I),
     re.compile(r"\d|[£$€¥]|" + _NUMBER_WORDS + r"|\bper\s?cent\b", re.I)),
    (re.compile(r"\b(?:when|what\s+(?:year|date|day|month|time|century|decade)|which\s+(?:year|date|day|month|century|decade)|by\s+when|since\s+when)\b", re.I),
     re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b|" + _MONTH + r"|\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|century|decade|noon|midnight)\b|" + _CLOCK, re.I)),
    (re.compile(r"^\s*(?:who|whom|whose)\b|\b(?:which|what)\s+(?:person|people|man|woman|official|director|minister|inspector|councillor|author|writer|leader|member|chair|head)\b", re.I),
     # Under re.I any two words pass for a name, so "who" rewards nearly every sentence. Measured:
     # a case-sensitive name (two capitalised words) lost single names ("Galileo") and 0.0013
     # recall@1 on SQuAD, so it stays as it is.
     re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+\b|\b(?:mr|mrs|ms|dr|prof|cllr|sir|lord|lady)\b\.?\s+\w+", re.I)),
    (re.compile(r"^\s*(?:why)\b|\bwhat\s+(?:caused|led\s+to|prevented)\b", re.I),
     re.compile(r"\b(?:because|due\s+to|as\s+a\s+result|caused?|led\s+to|owing\s+to|since|prevent(?:ed|s)?|so\s+that|in\s+order\s+to|reason)\b", re.I)),
]


# A list item's own number ("5. Positive experiences…", "(2) The council…") is not a quantity.
_LIST_MARK = re.compile(r"^\s*(?:\(?\d{1,3}[.)]|[•▪◦*-])\s+")


def answer_type_match(question: str, sentence: str) -> float:
    """1.0 when the sentence holds, beyond what the question says, the kind of thing asked for.

    Classic question-answering typing (how many → a number, when → a date, who → a name):
    a sentence restating the question without the requested fact does not get the bonus.
    """
    asked = _asked_type(question)
    if asked is None:
        return 0.0
    offers, question_has = asked
    sentence = _LIST_MARK.sub("", sentence, count=1)
    return 1.0 if any(m.group(0).lower() not in question_has for m in offers.finditer(sentence)) else 0.0


@functools.lru_cache(maxsize=1024)
def _asked_type(question: str) -> tuple[re.Pattern, frozenset[str]] | None:
    """What the question asks for (the first type that matches) and the instances it already says;
    read once per question, not once per sentence scored."""
    for asks, offers in _ANSWER_TYPES:
        if asks.search(question):
            return offers, frozenset(m.group(0).lower() for m in offers.finditer(question))
    return None


@dataclass
class _Scored:
    hit: Hit
    score: float
    sentence: tuple[int, int]
    dense: float
    also_in: list[str]
    joined: list[StoredChunk] = field(default_factory=list)  # overlapping chunks of the document, shown with it

    def span(self) -> tuple[int, int]:
        chunks = [self.hit.chunk, *self.joined]
        return min(c.start for c in chunks), max(c.end for c in chunks)

    def text(self) -> str:
        """Document text over span(): the chunks overlap or touch, so together they cover it."""
        start, end = self.span()
        out = ""
        for c in sorted([self.hit.chunk, *self.joined], key=lambda c: c.start):
            covered = start + len(out)
            if c.end > covered:
                out += c.text[covered - c.start :]
        return out[: end - start]


_KEY_WORD = re.compile(r"[^\W_]+")


def _word_set(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _KEY_WORD.findall(text))


def _same_quote(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    if len(a) < 6 or len(b) < 6:
        return a == b
    overlap = len(a & b)
    return overlap / len(a | b) >= threshold or overlap / min(len(a), len(b)) >= 0.95


def select(
    question: str,
    question_vector: np.ndarray,
    hits: list[Hit],
    idf: dict[str, float],
    encode,
    k: int,
    settings: AnswerSettings = AnswerSettings(),
) -> tuple[bool, list[_Scored]]:
    """Score sentences of the top hits, rank passages by their best sentence, collapse duplicates.

    Only the first `passages_scored` passages have their sentences encoded and are re-ranked by
    their best sentence; passages after them keep their retrieval order and mark their best
    sentence by lexical evidence (the passage's own cosine stands in for the sentence's). So
    asking for more passages never changes the first ones, and costs no extra encoding.

    Overlapping chunks of one document share a sentence. When a passage's best sentence is already
    the answer of a passage ranked before it, the two are shown as one passage over both chunks
    (the text only the later chunk holds is not lost, and no sentence is the answer twice); the
    list is then filled up to k from the passages after.
    """
    head = min(settings.passages_scored, len(hits))
    q_terms = set(terms(question))
    if settings.drop_question_words:
        q_terms = (q_terms - QUESTION_WORDS) or q_terms
    total_idf = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    cosine = _head_sentence_cosines(question_vector, hits[:head], encode)

    def best_sentence(i: int) -> _Scored | None:
        hit = hits[i]
        best = None
        for j, span in enumerate(hit.chunk.sentences):
            text = tidy(hit.chunk.text[span[0] - hit.chunk.start : span[1] - hit.chunk.start])
            coverage = sum(idf.get(t, 0.0) for t in q_terms & set(terms(text))) / total_idf
            dense = cosine[(i, j)] if i < head else hit.dense
            score = (
                settings.sentence_dense * dense
                + settings.sentence_lexical * coverage
                + settings.passage_weight * hit.score
                + settings.answer_type_weight * answer_type_match(question, text)
                + (1 - settings.passage_weight) * hit.prior  # a conversation's prior counts whole here too
            )
            if best is None or score > best.score:
                best = _Scored(hit, score, span, dense, [])
        return best

    kept: list[_Scored] = []
    keys: list[tuple[frozenset[str], frozenset[str]]] = []
    answered: dict[tuple[str, tuple[int, int]], _Scored] = {}  # (document, sentence span) -> the passage showing it

    def keep(cand: _Scored | None) -> None:
        if cand is None:
            return
        c = cand.hit.chunk
        shown = answered.get((c.doc_id, cand.sentence))
        if shown is not None:  # both chunks hold the sentence, so they overlap: one passage over both
            shown.joined.append(c)
            return
        sentence_words = _word_set(c.text[cand.sentence[0] - c.start : cand.sentence[1] - c.start])
        chunk_words = _word_set(c.text)
        for first, (s_words, ch_words) in zip(kept, keys):
            if first.hit.chunk.doc_id != c.doc_id and (
                _same_quote(s_words, sentence_words, settings.duplicate_similarity)
                or _same_quote(ch_words, chunk_words, settings.duplicate_similarity)
            ):
                if c.source not in first.also_in:
                    first.also_in.append(c.source)
                return
        kept.append(cand)
        keys.append((sentence_words, chunk_words))
        answered[(c.doc_id, cand.sentence)] = cand

    scored_head = [best_sentence(i) for i in range(head)]
    for cand in sorted((s for s in scored_head if s), key=lambda s: (-s.score, s.hit.chunk.id)):
        keep(cand)
    for i in range(head, len(hits)):  # then retrieval order, as far as needed to fill k
        if len(kept) >= k:
            break
        keep(best_sentence(i))
    # A conversation's prior helps rank passages but is no evidence that a sentence answers.
    found = bool(kept) and kept[0].score - kept[0].hit.prior >= settings.found_threshold
    return found, kept[:k]


def _head_sentence_cosines(question_vector: np.ndarray, head: list[Hit], encode) -> dict[tuple[int, int], float]:
    """Cosine of the question with every sentence of the scored passages: stored sentence vectors
    from the build where there are some, else encoded now (each distinct sentence once)."""
    cosine: dict[tuple[int, int], float] = {}
    to_encode: dict[str, list[tuple[int, int]]] = {}
    for i, hit in enumerate(head):
        stored = hit.chunk.sentence_vectors
        for j, span in enumerate(hit.chunk.sentences):
            if stored is not None and not np.isnan(stored[j, 0]):
                cosine[(i, j)] = float(stored[j] @ question_vector)
            else:
                a, b = span[0] - hit.chunk.start, span[1] - hit.chunk.start
                to_encode.setdefault(tidy(hit.chunk.text[a:b]), []).append((i, j))
    if to_encode:
        for vector, refs in zip(encode(list(to_encode)), to_encode.values()):
            for ref in refs:
                cosine[ref] = float(vector @ question_vector)
    return cosine


def to_passage(scored: _Scored, line_map: LineMap | None = None) -> Passage:
    c = scored.hit.chunk
    start, end = scored.span()
    text = scored.text()
    a, b = scored.sentence
    answer = text[a - start : b - start]
    if line_map is not None:
        line_start, line_end = line_map.span(start, end)
    else:
        chunks = [c, *scored.joined]
        line_start, line_end = min(x.line_start for x in chunks), max(x.line_end for x in chunks)
    return Passage(
        text=text,
        source=c.source,
        title=c.title,
        start=start,
        end=end,
        line_start=line_start,
        line_end=line_end,
        page=c.page,
        score=round(float(scored.score), 4),
        answer=answer,
        answer_start=a,
        answer_end=b,
        also_in=tuple(scored.also_in),
        section=c.section,
        chunk_id=c.id,
        doc_id=c.doc_id,
        author=c.meta.author,
        published=c.meta.published,
        url=c.meta.url,
    )
