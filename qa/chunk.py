"""Sentence-aware chunks with overlap, each carrying its offsets into the document text.

Offsets are carried through construction, never recovered by searching for the text, so that
`document.text[chunk.start:chunk.end] == chunk.text` holds even when a sentence repeats.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from qa.clean import Skip, kept_segments
from qa.settings import ChunkSettings
from qa.sources import Document
from qa.text import LineMap, lines, sentences, tidy

Span = tuple[int, int]
TokenCounter = Callable[[list[str]], list[int]]  # the model's token count of each text, special tokens left out
SPECIAL_TOKENS = 2  # [CLS] and [SEP] around every embedded text


@dataclass(frozen=True)
class Chunk:
    id: int  # 63-bit, derived from the document's content and the span: stable across builds
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    line_start: int
    line_end: int
    page: int | None  # 1-based, for documents with pages
    section: str  # "Title › Heading" path of the section the chunk starts in, or ""
    sentences: tuple[Span, ...]  # sentence spans inside [start, end), document offsets


def chunk_id(doc: Document, start: int, end: int) -> int:
    digest = hashlib.sha256(f"{doc.source}\0{doc.content_hash}\0{start}\0{end}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def _split_long(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut an over-long sentence at whitespace into pieces of at most max_chars."""
    a, b = span
    out = []
    while b - a > max_chars:
        cut = text.rfind(" ", a + max_chars // 2, a + max_chars)
        cut = a + max_chars if cut <= a else cut
        piece_end = cut
        while piece_end > a and text[piece_end - 1].isspace():
            piece_end -= 1
        out.append((a, piece_end))
        a = cut
        while a < b and text[a].isspace():
            a += 1
    if a < b:
        out.append((a, b))
    return out


def _table_pieces(doc: Document, a: int, b: int) -> list[tuple[int, int, bool]]:
    """text[a:b] cut at table row groups: (start, end, is_table) pieces, in order."""
    out: list[tuple[int, int, bool]] = []
    pos = a
    for ta, tb in doc.tables:
        ta, tb = max(ta, a), min(tb, b)
        if ta >= tb:
            continue
        if ta > pos:
            out.append((pos, ta, False))
        out.append((ta, tb, True))
        pos = tb
    if pos < b:
        out.append((pos, b, False))
    return out


def sentence_spans(doc: Document, skips: list[Skip], max_chars: int) -> list[list[Span]]:
    """Sentences of each kept segment (a chunk never crosses skipped boilerplate); in a table,
    each row line is a sentence of its own (two rows are never read as one wrapped sentence)."""
    out = []
    for a, b in kept_segments(doc.text, skips):
        spans: list[Span] = []
        for pa, pb, is_table in _table_pieces(doc, a, b):
            units = [s for la, lb in lines(doc.text, pa, pb) for s in sentences(doc.text, la, lb)] if is_table \
                else sentences(doc.text, pa, pb)
            for s in units:
                spans.extend(_split_long(doc.text, s, max_chars))
        if spans:
            out.append(spans)
    return out


def _table_place(doc: Document, offset: int) -> tuple[int, bool]:
    """Which table row group holds the offset, or which one it follows: (group index, inside)."""
    i = bisect.bisect_right(doc.tables, (offset, float("inf"))) - 1
    return i, i >= 0 and offset < doc.tables[i][1]


def section_at(doc: Document, offset: int) -> str:
    if not doc.sections:
        return ""
    starts = [s.start for s in doc.sections]
    i = bisect.bisect_right(starts, offset) - 1
    return " › ".join(doc.sections[i].path) if i >= 0 else ""


def page_at(doc: Document, offset: int) -> int | None:
    if not doc.pages:
        return None
    return max(1, bisect.bisect_right(doc.pages, offset))


def _heading_only(doc: Document, start: int, end: int) -> bool:
    """Whether text[start:end] is nothing but the heading of a section starting there."""
    text = doc.text[start:end].lstrip("#").strip()
    return any(s.start == start and s.path and text == s.path[-1] for s in doc.sections)


def chunk_document(doc: Document, skips: list[Skip], settings: ChunkSettings = ChunkSettings(),
                   count_tokens: TokenCounter | None = None) -> list[Chunk]:
    """Cut a document into chunks of whole sentences, at most `settings.max_chars` long and, given
    the model's `count_tokens`, at most `settings.max_tokens` tokens as embedded (title included)."""
    lines = LineMap.of(doc.text)
    section_starts = [s.start for s in doc.sections]
    chunks: list[Chunk] = []
    heading_tokens: dict[str, int] = {}
    for spans in sentence_spans(doc, skips, settings.max_chars):
        # A chunk keeps to the page and section its first sentence starts in, so that the page and
        # section it cites hold every sentence it may answer with (a sentence may run on over a page).
        # A table row group is a chunk of its own: its rows never go without the header leading it.
        place = [(bisect.bisect_right(doc.pages, a), bisect.bisect_right(section_starts, a), _table_place(doc, a))
                 for a, _ in spans] if doc.pages or doc.sections or doc.tables else None
        # The model reads only its first max_tokens: text past them would be in no dense vector.
        tokens = count_tokens([tidy(doc.text[a:b]) for a, b in spans]) if count_tokens and settings.max_tokens else None
        i = 0
        while i < len(spans):
            j = i + 1
            if tokens is not None:
                heading = _embedding_heading(section_at(doc, spans[i][0]), doc.title, settings)
                if heading not in heading_tokens:
                    heading_tokens[heading] = count_tokens([f"{heading}:"])[0] if heading else 0
                used = SPECIAL_TOKENS + heading_tokens[heading] + tokens[i]
            while j < len(spans) and spans[j][1] - spans[i][0] <= settings.max_chars and (place is None or place[j] == place[i]):
                if tokens is not None:
                    if used + tokens[j] > settings.max_tokens:
                        break
                    used += tokens[j]
                j += 1
            start, end = spans[i][0], spans[j - 1][1]
            if place is not None and j < len(spans) and place[j] != place[i] and _heading_only(doc, start, end):
                i = j  # a heading straight followed by a subheading: its words lead the next chunks' section
                continue
            line_start, line_end = lines.span(start, end)
            chunks.append(
                Chunk(
                    id=chunk_id(doc, start, end),
                    doc_id=doc.id,
                    ord=len(chunks),
                    start=start,
                    end=end,
                    text=doc.text[start:end],
                    line_start=line_start,
                    line_end=line_end,
                    page=page_at(doc, start),
                    section=section_at(doc, start),
                    sentences=tuple(spans[i:j]),
                )
            )
            if j >= len(spans):
                break
            if place is not None and place[j] != place[i]:
                i = j  # a new page or section starts a new chunk, without overlap
                continue
            # Step back `overlap` sentences, but always move forward.
            i = max(i + 1, j - settings.overlap_sentences)
    return chunks


def embedding_text(chunk: Chunk, title: str, settings: ChunkSettings = ChunkSettings()) -> str:
    """What the model sees for a chunk: tidy text, optionally led by its title and section."""
    body = tidy(chunk.text)
    heading = _embedding_heading(chunk.section, title, settings)
    if heading and not body.startswith(heading):
        return f"{heading}: {body}"
    return body


def _embedding_heading(section: str, title: str, settings: ChunkSettings) -> str:
    return (section or title) if settings.title_in_embedding else ""


def sentence_spans_in(embedded: str, chunk: Chunk) -> list[Span]:
    """Where each sentence of the chunk, tidied as ask() reads it, stands in the chunk's embedding text.

    A sentence not found in order (tidying may join a hyphenated wrap across two sentences) gets
    the empty span (0, 0); its vector is then encoded on its own.
    """
    out: list[Span] = []
    cursor = 0
    for a, b in chunk.sentences:
        sentence = tidy(chunk.text[a - chunk.start : b - chunk.start])
        at = embedded.find(sentence, cursor) if sentence else -1
        if at < 0:
            out.append((0, 0))
            continue
        out.append((at, at + len(sentence)))
        cursor = at + len(sentence)
    return out


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]

