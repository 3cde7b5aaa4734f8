"""Property-based tests (hypothesis) of loading, cleaning and chunking on arbitrary text.

Text is drawn from a mix of arbitrary Unicode and the things that break text pipelines: CRLF and
lone CR line ends, form feeds, tabs, zero-width and combining characters, emoji, right-to-left
scripts, very long lines and text with no sentence punctuation at all. For every such text:
nothing raises, every chunk's offsets give back its text, chunks cover all the text cleaning keeps
and none of what it skips, and building twice from the same files gives the same chunks and ids.

The number of examples per test is QA_FUZZ_EXAMPLES (default 150; the determinism test, which
embeds, runs QA_FUZZ_BUILDS builds, default 3). For a longer run:
QA_FUZZ_EXAMPLES=2000 python -m pytest tests/test_properties.py --hypothesis-show-statistics
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa.chunk import chunk_document, page_at
from qa.clean import boilerplate, kept_segments
from qa.settings import ChunkSettings
from qa.sources import Document, Problem, Section, SourceFile, load
from qa.text import LINE_BREAK, LineMap

EXAMPLES = int(os.environ.get("QA_FUZZ_EXAMPLES", "150"))
BUILDS = int(os.environ.get("QA_FUZZ_BUILDS", "3"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

AWKWARD = [
    "\r\n", "\r", "\n", "\n\n", "\r\n\r\n", "\f", "\t", " ", "  ", "\u00a0", "\v", "\x1c", "\x85", "\u2028", "\u2029",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u0301", "e\u0301", "\u0627\u0651", "\u202e", "\u202b",
    "😀", "👍🏽", "👨‍👩‍👧", "🇬🇧", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "مرحبا بالعالم، هذه جملة عربية.", "שלום עולם, זה משפט בעברית.", "これは日本語の文です。", "Ελληνικά κείμενα.",
    ".", ". ", "?", "! ", "…", "...", "Dr. ", "e.g. ", "1. ", "2.3. ", "iv. ", "• ", "- ", "—", "“", "”", "(", ")",
    "The river flows north. ", "It rained for 3 days in May 2021. ", "Who chairs the meetings? ",
    "Cookie policy", "Share on Facebook Twitter Email", "© 2024 All rights reserved", "Home > News > Local",
    "Advertisement", "# Heading\n", "## Sub heading\n", "```\ncode\n```\n",
]
unicode_words = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40
)
long_line = st.integers(100, 3000).map(lambda n: " ".join(f"word{i % 97}" for i in range(n)))  # no punctuation at all
fragment = st.one_of(st.sampled_from(AWKWARD), unicode_words, long_line)
texts = st.lists(st.one_of(st.sampled_from(AWKWARD), st.sampled_from(AWKWARD), unicode_words, fragment),
                 max_size=60).map("".join)
texts_with_long_lines = st.lists(st.one_of(st.sampled_from(AWKWARD), unicode_words, long_line), max_size=12).map("".join)
any_text = st.one_of(texts, texts_with_long_lines)
chunk_settings = st.builds(ChunkSettings, max_chars=st.integers(30, 1200), overlap_sentences=st.integers(0, 3))


def write(folder: Path, name: str, text: str) -> SourceFile:
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return SourceFile(path, f"{folder.name}/{name}")


def document(text: str, pages: tuple[int, ...] = (), sections: tuple[Section, ...] = ()) -> Document:
    return Document(
        path=Path("/corpus/docs/a.txt"), source="docs/a.txt", title="A title", text=text,
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), format="txt",
        pages=pages, sections=sections,
    )


def is_line_start(text: str, i: int) -> bool:
    return i == 0 or text[i - 1] in "\r\n" and not (text[i - 1] == "\r" and text[i : i + 1] == "\n")


def is_line_end(text: str, i: int) -> bool:
    """After a line break (all of \\r\\n), or at the end of the text."""
    return i == len(text) or is_line_start(text, i)


def heading_carried(doc: Document, chunks, i: int) -> bool:
    """Whether offset i lies in a section's heading line whose heading names the section of a later chunk."""
    for s in doc.sections:
        brk = LINE_BREAK.search(doc.text, s.start)
        line_end = brk.start() if brk else len(doc.text)
        if s.start <= i < line_end and s.path and any(c.start >= line_end and s.path[-1] in c.section for c in chunks):
            return True
    return False


def check_chunks(doc: Document, chunk_set: ChunkSettings):
    skips = boilerplate(doc.text)
    chunks = chunk_document(doc, skips, chunk_set)
    text, lines = doc.text, LineMap.of(doc.text)
    kept = kept_segments(text, skips)
    covered = bytearray(len(text))
    for n, c in enumerate(chunks):
        assert c.ord == n
        assert 0 <= c.start < c.end <= len(text)
        assert text[c.start : c.end] == c.text  # offsets round-trip
        assert c.text.strip()
        assert c.end - c.start <= chunk_set.max_chars
        assert (c.line_start, c.line_end) == lines.span(c.start, c.end)
        assert c.page == page_at(doc, c.start)
        assert c.sentences and c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        assert all(a < b and c.start <= a and b <= c.end for a, b in c.sentences)
        assert all(p[1] <= q[0] for p, q in zip(c.sentences, c.sentences[1:]))
        assert any(a <= c.start and c.end <= b for a, b in kept)  # inside one kept segment: no boilerplate
        for a, b in c.sentences:
            covered[a:b] = b"\1" * (b - a)
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(p.start <= q.start for p, q in zip(chunks, chunks[1:]))
    # Every character cleaning keeps is in a chunk, whitespace aside; the one exception (qa/chunk.py):
    # a heading line straight followed by another heading is carried as the section of later chunks.
    for a, b in kept:
        missing = [i for i in range(a, b) if not covered[i] and not text[i].isspace()]
        missing = [i for i in missing if not heading_carried(doc, chunks, i)]
        assert not missing, f"kept text not in any chunk: {text[missing[0]:missing[0] + 20]!r}"
    assert chunk_document(doc, skips, chunk_set) == chunks  # deterministic
    return chunks


# -- loading ------------------------------------------------------------------------------------

@FAST
@given(text=any_text, suffix=st.sampled_from([".txt", ".md"]))
def test_loading_any_text_gives_the_text_back_or_a_reason(text, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        doc = load(write(folder, "a" + suffix, text))
    if isinstance(doc, Problem):
        assert doc.skipped and doc.reason
        assert not text.strip(" \t\n\r\v\f") or "binary" in doc.reason or "no text" in doc.reason, doc.reason
        return
    assert doc.text == text.removeprefix("\ufeff")  # UTF-8 is read exactly as written (one BOM dropped)
    assert doc.title and "\n" not in doc.title and len(doc.title) <= 120
    starts = [s.start for s in doc.sections]
    assert starts == sorted(starts) and all(0 <= s < len(doc.text) for s in starts)
    assert all(s.path and all(s.path) for s in doc.sections)


@settings(max_examples=max(10, EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text)
def test_loading_html_with_any_text_never_raises_and_keeps_sections_in_range(text):
    import html

    page = f"<html><head><title>{html.escape(text[:40])}</title></head><body><h1>Head</h1><p>{html.escape(text)}</p></body></html>"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        doc = load(write(folder, "a.html", page))
    if isinstance(doc, Problem):
        assert doc.reason
        return
    assert all(0 <= s.start < len(doc.text) for s in doc.sections)
    assert all(0 <= p <= len(doc.text) for p in doc.pages)


# -- cleaning -----------------------------------------------------------------------------------

@FAST
@given(text=any_text)
def test_cleaning_returns_whole_lines_in_order_and_keeps_the_rest(text):
    skips = boilerplate(text)
    assert boilerplate(text) == skips
    for s in skips:
        assert 0 <= s.start < s.end <= len(text) and s.reason
        assert is_line_start(text, s.start) and is_line_end(text, s.end), (s, text[max(0, s.start - 2): s.end + 2])
    assert all(p.end <= q.start for p, q in zip(skips, skips[1:]))
    kept = kept_segments(text, skips)
    assert all(p[1] <= q[0] for p, q in zip(kept, kept[1:]))
    mark = bytearray(len(text))  # every visible character is either skipped or kept, never both
    for a, b in [(s.start, s.end) for s in skips] + kept:
        assert not any(mark[a:b])
        mark[a:b] = b"\1" * (b - a)
    assert all(mark[i] or ch.isspace() for i, ch in enumerate(text))


# -- chunking -----------------------------------------------------------------------------------

@FAST
@given(text=any_text, chunk_set=chunk_settings)
def test_chunks_of_any_text_round_trip_and_cover_what_cleaning_keeps(text, chunk_set):
    check_chunks(document(text), chunk_set)


@FAST
@given(text=any_text, chunk_set=chunk_settings, data=st.data())
def test_chunks_respect_pages_and_sections_of_any_layout(text, chunk_set, data):
    assume(len(text) > 1)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(text) - 1), max_size=6))))
    pages = (0, *cuts) if data.draw(st.booleans()) else ()
    heads = sorted(set(data.draw(st.lists(st.integers(0, len(text) - 1), max_size=4))))
    sections = tuple(Section(h, ("A title", f"Part {n}")) for n, h in enumerate(heads))
    doc = document(text, pages, sections)
    for c in check_chunks(doc, chunk_set):
        if pages:  # a chunk stays on the page its first sentence starts on
            assert all(page_at(doc, a) == c.page for a, _ in c.sentences)


@FAST
@given(text=any_text, chunk_set=chunk_settings)
def test_loaded_markdown_and_text_chunk_cleanly(text, chunk_set):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for suffix in (".md", ".txt"):
            doc = load(write(folder, "a" + suffix, text))
            if isinstance(doc, Document):
                check_chunks(doc, chunk_set)


def test_a_very_long_line_without_punctuation_chunks_into_bounded_pieces():
    text = " ".join(f"w{i % 1000}" for i in range(200_000))  # ~1.2 MB, one line, no sentence ends
    chunks = check_chunks(document(text), ChunkSettings())
    assert len(chunks) > 1000 and max(c.end - c.start for c in chunks) <= ChunkSettings().max_chars


# -- deterministic builds -----------------------------------------------------------------------

def index_rows(index: Path) -> dict:
    """Everything a build decides, read back from the published version."""
    version = (index / "CURRENT").read_text().strip()
    folder = index / version
    db = sqlite3.connect(f"file:{folder / 'index.sqlite'}?mode=ro", uri=True)
    try:
        docs = db.execute("SELECT id, source, title, format, content_hash, text, pages, sections, chunker "
                          "FROM documents ORDER BY id").fetchall()
        chunks = db.execute("SELECT id, doc_id, ord, start, end, line_start, line_end, page, section, text, "
                            "search_text, sentences FROM chunks ORDER BY id").fetchall()
    finally:
        db.close()
    import faiss

    vectors = faiss.read_index(str(folder / "vectors.faiss"))
    ids = np.array(sorted(int(i) for i in faiss.vector_to_array(vectors.id_map)), dtype=np.int64)
    return {
        "documents": docs,
        "chunks": chunks,
        "vector_ids": ids.tolist(),
        "vectors": np.vstack([vectors.reconstruct(int(i)) for i in ids]) if len(ids) else np.zeros((0, vectors.d)),
        "bm25_ids": sorted(np.load(folder / "bm25_ids.npy", allow_pickle=False).tolist()),
    }


@settings(max_examples=BUILDS, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(corpus=st.lists(texts, min_size=1, max_size=3))
def test_building_twice_from_the_same_files_gives_the_same_chunks_and_ids(corpus):
    from qa import Index

    assume(any(t.strip() and sum(ch.isalpha() for ch in t) > 20 for t in corpus))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs = tmp / "one" / "docs"
        docs.mkdir(parents=True)
        for n, t in enumerate(corpus):
            (docs / f"doc{n}.{'md' if n % 2 else 'txt'}").write_bytes(t.encode("utf-8"))
        (docs / "anchor.txt").write_text("Anchor notes\n\nThe river Wenn flows north through the valley of Ash.\n")
        shutil.copytree(docs, tmp / "two" / "docs")  # the same files in another place
        first, second = tmp / "index-1", tmp / "index-2"
        Index(first).build([docs], progress=False)
        Index(second).build([tmp / "two" / "docs"], progress=False)
        a, b = index_rows(first), index_rows(second)
        assert a["documents"] == b["documents"]
        assert a["chunks"] == b["chunks"]
        assert a["vector_ids"] == b["vector_ids"] == a["bm25_ids"] == sorted(r[0] for r in a["chunks"])
        np.testing.assert_allclose(a["vectors"], b["vectors"], atol=1e-5)
        Index(first).build([docs], full=True, progress=False)  # a full rebuild in place
        assert index_rows(first)["chunks"] == a["chunks"]
