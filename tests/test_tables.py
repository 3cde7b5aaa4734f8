"""Tables keep their headers: in every format with tables, each group of rows is written under the
table's header row, kept whole in one chunk, each row a sentence; cleaning never drops a row."""

from pathlib import Path

import pytest

import format_files as F
from qa import Index
from qa.clean import boilerplate
from qa.embed import Embedder
from qa.formats.tables import GROUP_MAX_CHARS, row_groups
from qa.ingest import prepare
from qa.settings import ChunkSettings
from qa.sources import SourceFile, load

HEADER_LINE = " | ".join(F.HEADER)
TABLE_FORMATS = ["html", "docx", "pdf", "pptx", "xlsx", "csv", "tsv", "epub"]


def loaded(tmp_path: Path, fmt: str):
    path = tmp_path / f"budgets.{fmt}"
    path.write_bytes(F.MAKERS[fmt]())
    doc = load(SourceFile(path, f"docs/{path.name}"))
    assert not hasattr(doc, "reason"), doc
    return doc


@pytest.fixture(scope="module")
def count_tokens():
    return Embedder.shared(None).token_counter()


def test_row_groups_repeat_the_header_and_stay_under_the_group_size():
    rows = [HEADER_LINE] + [" | ".join(r) for r in F.ROWS]
    groups = row_groups(rows)
    assert len(groups) > 1
    for g in groups:
        assert g.split("\n")[0] == HEADER_LINE and len(g) <= GROUP_MAX_CHARS
    assert [ln for g in groups for ln in g.split("\n")[1:]] == rows[1:]  # every row once, in order


def test_a_long_first_row_is_prose_and_not_repeated():
    prose = "This table lays out two columns of text | and its first row is a long paragraph " * 5
    groups = row_groups([prose] + [f"row {i} | value {i}" for i in range(80)])
    assert len(groups) > 1 and sum(g.count(prose) for g in groups) == 1


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_every_chunk_of_table_rows_starts_with_the_header_row(tmp_path, fmt, count_tokens):
    doc = loaded(tmp_path, fmt)
    assert doc.tables, "the loader records its row groups"
    groups = [(a, b) for a, b in doc.tables if doc.text.startswith(HEADER_LINE, a)]
    assert doc.text.count(HEADER_LINE) == len(groups) > (fmt != "pptx")  # repeated in the stored text, by design
    prepared = prepare(doc, ChunkSettings(), count_tokens)
    rows_seen = set()
    for chunk in prepared.chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        rows = [r for r in F.ROWS if " | ".join(r) in chunk.text]
        if rows:
            assert chunk.text.startswith(HEADER_LINE), (fmt, chunk.text)
            rows_seen.update(r[0] for r in rows)
            # each row line is a sentence of its own, so the answer can be that one row
            sentences = {doc.text[a:b] for a, b in chunk.sentences}
            assert all(" | ".join(r) in sentences for r in rows)
    expected = 7 if fmt == "pptx" else len(F.ROWS)  # the slide holds the first seven rows
    assert len(rows_seen) == expected


def test_table_rows_are_never_dropped_as_boilerplate(tmp_path):
    doc = loaded(tmp_path, "csv")
    assert boilerplate(doc.text)  # alone, "Dover | £7.1m | £7.4m" looks like a price fragment
    assert boilerplate(doc.text, keep=doc.tables) == []


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "pdf"])
def test_the_2024_budget_for_dover_comes_with_its_header(tmp_path, fmt):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / f"budgets.{fmt}").write_bytes(F.MAKERS[fmt]())
    ix = Index(tmp_path / "ix")
    ix.build([folder], progress=False)
    p = ix.ask("What is the 2024 budget for Dover?", k=3).passages[0]
    assert "Dover | £7.1m | £7.4m" in p.text and HEADER_LINE in p.text
    assert p.answer == "Dover | £7.1m | £7.4m"
    text = ix.document_text(p.source)
    assert text[p.start : p.end] == p.text and text[p.answer_start : p.answer_end] == p.answer
