"""Offsets are the contract: every chunk and sentence reads back exactly from its document."""

from qa.chunk import chunk_document
from qa.clean import boilerplate
from qa.settings import ChunkSettings
from qa.sources import find_files, load
from qa.text import LineMap, sentences


def seed_documents(seeds_copy):
    found = find_files([seeds_copy])
    assert not found.problems
    return [load(f) for f in found.files]


def test_every_seed_chunk_round_trips_offsets_and_lines(seeds_copy):
    docs = seed_documents(seeds_copy)
    assert len(docs) == 5
    for doc in docs:
        chunks = chunk_document(doc, boilerplate(doc.text))
        assert chunks, doc.source
        file_lines = doc.path.read_text(encoding="utf-8").splitlines(keepends=True)
        for c in chunks:
            assert doc.text[c.start:c.end] == c.text
            assert c.text == c.text.strip()
            # the 1-based line range, read from the file itself, holds the chunk text
            assert "".join(file_lines[c.line_start - 1 : c.line_end]).find(c.text.splitlines()[0]) >= 0
            assert c.text.splitlines()[-1] in file_lines[c.line_end - 1]
            for a, b in c.sentences:
                assert c.start <= a < b <= c.end


def test_chunks_respect_max_size_and_overlap_one_sentence(seeds_copy):
    settings = ChunkSettings(max_chars=400, overlap_sentences=1)
    for doc in seed_documents(seeds_copy):
        chunks = chunk_document(doc, boilerplate(doc.text), settings)
        for c in chunks:
            assert len(c.text) <= 400 or len(c.sentences) == 1
        for prev, nxt in zip(chunks, chunks[1:]):
            if nxt.start < prev.end:  # same kept segment: overlap is exactly the last sentence
                assert nxt.sentences[0] == prev.sentences[-1]


def test_chunks_fit_the_models_token_limit_with_their_title():
    from pathlib import Path

    from qa.chunk import embedding_text
    from qa.embed import Embedder
    from qa.sources import Document

    count = Embedder.shared().token_counter()
    assert count is not None
    # Digits and rare words cost several tokens per character: 900 characters of them overflow 256 tokens.
    text = " ".join(f"Sample {i} gave 0.{i}31{i}7 mg/kg of CYP2D6*{i}A in HbA1c-{i}9 assays." for i in range(60))
    doc = Document(Path("/x/a.txt"), "x/a.txt", "Pharmacokinetic results", text, "h", "txt")
    limited = chunk_document(doc, [], ChunkSettings(max_chars=900, max_tokens=256), count)
    unlimited = chunk_document(doc, [], ChunkSettings(max_chars=900, max_tokens=0), count)

    def tokens(c):
        return count([embedding_text(c, doc.title)])[0] + 2  # [CLS] and [SEP]

    assert max(tokens(c) for c in unlimited) > 256  # the case is real: characters alone overflow
    assert all(tokens(c) <= 256 for c in limited)
    assert len(limited) > len(unlimited)
    assert [doc.text[c.start:c.end] for c in limited] == [c.text for c in limited]


def test_offsets_stay_true_when_a_sentence_repeats():
    from pathlib import Path

    from qa.sources import Document

    text = "The cat sat. The cat sat. A dog barked loudly at the postman. The cat sat."
    doc = Document(Path("/x/a.txt"), "x/a.txt", "t", text, "h", "txt")
    chunks = chunk_document(doc, [], ChunkSettings(max_chars=40, overlap_sentences=0))
    starts = [c.start for c in chunks]
    assert len(set(starts)) == len(starts)
    assert [doc.text[c.start:c.end] for c in chunks] == [c.text for c in chunks]
    assert chunks[-1].start == text.rindex("The cat sat.")


def test_pdf_line_wraps_do_not_cut_sentences(seeds_copy):
    doc = next(d for d in seed_documents(seeds_copy) if d.source.endswith("003_42851cccac0bed55.txt"))
    spans = [" ".join(doc.text[a:b].split()) for a, b in sentences(doc.text)]
    # a sentence wrapped over a blank line in the PDF extraction comes back whole
    assert any(
        s.startswith("2.10 Workers from the Early Help and social work teams spend time getting to know the children")
        for s in spans
    )
    assert not any(s == "the children they work with;" for s in spans)
    wrapped = "Kent County Council is one of only 20 Local Authorities from a cohort of 154 in England"
    assert any(wrapped in s for s in spans)


def test_sentence_splitter_keeps_abbreviations_and_list_numbers():
    text = "Dr. Smith met Cllr. Jones on 5 July. 1. Outcome of the inspection was good. It cost £1.4m in total."
    got = [text[a:b] for a, b in sentences(text)]
    assert got == [
        "Dr. Smith met Cllr. Jones on 5 July.",
        "1. Outcome of the inspection was good.",
        "It cost £1.4m in total.",
    ]


def test_line_map_counts_crlf_and_lone_cr_as_line_ends():
    text = "a\r\nb\rc\nd"
    m = LineMap.of(text)
    assert [m.line(text.index(ch)) for ch in "abcd"] == [1, 2, 3, 4]
