"""From retrieved chunks to an Answer: the best sentence, corroboration, abstention, citations.

Every string an Answer carries as evidence is a slice of a source document: `passage.text` is
`document[start:end]` and `passage.answer` is `document[answer_start:answer_end]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from qa.search import Hit
from qa.text import LineMap, terms, tidy


@dataclass(frozen=True)
class AnswerSettings:
    passages_scored: int = 5  # top passages whose sentences are scored
    # Weights tuned on SQuAD dev articles 1-24 (`qa eval squad --split tune`, see README "Answer quality").
    sentence_dense: float = 0.6  # weight of question–sentence cosine (sentence vectors in context, from the build)
    sentence_lexical: float = 0.4  # weight of the IDF-weighted share of question terms in the sentence
    passage_weight: float = 0.25  # weight of the passage's fused score
    answer_type_weight: float = 0.1  # bonus when the sentence holds the kind of thing asked for
    found_threshold: float = 0.55  # below this the sources are taken not to answer (qa eval abstention: chosen on articles 1-24)
    duplicate_similarity: float = 0.8  # word-set overlap at which two passages count as one quote


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

    def to_dict(self) -> dict:
        keys = (
            "text source title start end line_start line_end page score answer answer_start answer_end also_in"
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

    @property
    def answer(self) -> str | None:
        """The answering sentence as it stands in the source, when the sources answer."""
        return self.passages[0].answer if self.found and self.passages else None

    def to_dict(self) -> dict:
        return {"question": self.question, "found": self.found, "passages": [p.to_dict() for p in self.passages]}


_MONTHS = "january february march april may june july august september october november december"
_MONTH = r"\b(?:" + "|".join(m[:3] + r"(?:" + m[3:] + r")?" for m in _MONTHS.split()) + r")\.?\b"
_NUMBER_WORDS = r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|third|quarter)\b"
_ANSWER_TYPES: list[tuple[re.Pattern, re.Pattern]] = [
    # (question asks for…, sentence offers…)
    (re.compile(r"\b(?:how\s+(?:long|old)|what\s+(?:age|duration)|how\s+many\s+(?:years|months|weeks|days|hours))\b", re.I),
     re.compile(r"\b\d[\d,.]*\s*-?\s*(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centur(?:y|ies))\b|" + _NUMBER_WORDS + r"\s+(?:years?|months?|weeks?|days?)", re.I)),
    (re.compile(r"\b(?:how\s+(?:many|much|far|large|big|high|tall|often)|what\s+(?:percentage|proportion|share|number|amount|size|fraction))\b", re.I),
     re.compile(r"\d|[£$€¥]|" + _NUMBER_WORDS + r"|\bper\s?cent\b", re.I)),
    (re.compile(r"\b(?:when|what\s+(?:year|date|day|month|time|century|decade)|which\s+(?:year|date|day|month|century|decade)|by\s+when|since\s+when)\b", re.I),
     re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b|" + _MONTH + r"|\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|century|decade)\b", re.I)),
    (re.compile(r"^\s*(?:who|whom|whose)\b|\b(?:which|what)\s+(?:person|people|man|woman|official|director|minister|inspector|councillor|author|writer|leader|member|chair|head)\b", re.I),
     re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+\b|\b(?:mr|mrs|ms|dr|prof|cllr|sir|lord|lady)\b\.?\s+\w+", re.I)),
    (re.compile(r"^\s*(?:why)\b|\bwhat\s+(?:caused|led\s+to|prevented)\b", re.I),
     re.compile(r"\b(?:because|due\s+to|as\s+a\s+result|caused?|led\s+to|owing\s+to|since|prevent(?:ed|s)?|so\s+that|in\s+order\s+to|reason)\b", re.I)),
]


def answer_type_match(question: str, sentence: str) -> float:
    """1.0 when the sentence holds, beyond what the question says, the kind of thing asked for.

    Classic question-answering typing (how many → a number, when → a date, who → a name):
    a sentence restating the question without the requested fact does not get the bonus.
    """
    for asks, offers in _ANSWER_TYPES:
        if asks.search(question):
            question_has = {m.group(0).lower() for m in offers.finditer(question)}
            if any(m.group(0).lower() not in question_has for m in offers.finditer(sentence)):
                return 1.0
            return 0.0
    return 0.0


@dataclass
class _Scored:
    hit: Hit
    score: float
    sentence: tuple[int, int]
    dense: float
    also_in: list[str]


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
    their best sentence; passages beyond them keep their retrieval order and mark their best
    sentence by lexical evidence (the passage's own cosine stands in for the sentence's). So
    asking for more passages never changes the first ones, and costs no extra encoding.
    """
    top = hits[: max(k, settings.passages_scored)]
    head = min(settings.passages_scored, len(top))
    q_terms = set(terms(question))
    total_idf = sum(idf.get(t, 0.0) for t in q_terms) or 1.0

    sentence_refs: list[tuple[int, int, tuple[int, int]]] = []  # (passage, sentence, span)
    texts: list[str] = []
    cosine: dict[tuple[int, int], float] = {}  # (passage, sentence) -> cosine with the question
    to_encode: dict[str, list[tuple[int, int]]] = {}
    for i, hit in enumerate(top):
        stored = hit.chunk.sentence_vectors
        for j, span in enumerate(hit.chunk.sentences):
            a, b = span[0] - hit.chunk.start, span[1] - hit.chunk.start
            sentence_refs.append((i, j, span))
            texts.append(tidy(hit.chunk.text[a:b]))
            if i >= head:
                continue
            if stored is not None and not np.isnan(stored[j, 0]):
                cosine[(i, j)] = float(stored[j] @ question_vector)
            else:
                to_encode.setdefault(texts[-1], []).append((i, j))
    if to_encode:
        for vector, refs in zip(encode(list(to_encode)), to_encode.values()):
            for ref in refs:
                cosine[ref] = float(vector @ question_vector)

    best: dict[int, _Scored] = {}
    for (i, j, span), text in zip(sentence_refs, texts):
        coverage = sum(idf.get(t, 0.0) for t in q_terms & set(terms(text))) / total_idf
        dense = cosine[(i, j)] if i < head else top[i].dense
        score = (
            settings.sentence_dense * dense
            + settings.sentence_lexical * coverage
            + settings.passage_weight * top[i].score
            + settings.answer_type_weight * answer_type_match(question, text)
        )
        if i not in best or score > best[i].score:
            best[i] = _Scored(top[i], score, span, dense, [])

    reranked = sorted((best[i] for i in best if i < head), key=lambda s: (-s.score, s.hit.chunk.id))
    ranked = reranked + [best[i] for i in sorted(best) if i >= head]
    kept: list[_Scored] = []
    keys: list[tuple[frozenset[str], frozenset[str]]] = []
    for cand in ranked:
        c = cand.hit.chunk
        sentence_words = _word_set(c.text[cand.sentence[0] - c.start : cand.sentence[1] - c.start])
        chunk_words = _word_set(c.text)
        duplicate_of = None
        for j, (s_words, ch_words) in enumerate(keys):
            first = kept[j]
            if first.hit.chunk.doc_id == c.doc_id:
                # Overlapping chunks of one document answering with the same sentence.
                if first.sentence == cand.sentence:
                    duplicate_of = j
                    break
            elif _same_quote(s_words, sentence_words, settings.duplicate_similarity) or _same_quote(
                ch_words, chunk_words, settings.duplicate_similarity
            ):
                duplicate_of = j
                break
        if duplicate_of is None:
            kept.append(cand)
            keys.append((sentence_words, chunk_words))
        elif c.doc_id != kept[duplicate_of].hit.chunk.doc_id and c.source not in kept[duplicate_of].also_in:
            kept[duplicate_of].also_in.append(c.source)
    found = bool(kept) and kept[0].score >= settings.found_threshold
    return found, kept[:k]


def to_passage(scored: _Scored, line_map: LineMap | None = None) -> Passage:
    c = scored.hit.chunk
    a, b = scored.sentence
    answer = c.text[a - c.start : b - c.start]
    if line_map is not None:
        line_start, line_end = line_map.span(c.start, c.end)
    else:
        line_start, line_end = c.line_start, c.line_end
    return Passage(
        text=c.text,
        source=c.source,
        title=c.title,
        start=c.start,
        end=c.end,
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
    )
