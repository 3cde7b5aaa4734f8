"""PowerPoint, Excel, CSV/TSV and EPUB: what each loader makes of a real file written by the
library that writes that format, and how a citation names the place."""

import io
import re
import zipfile
from pathlib import Path

import pytest

import format_files as F
from qa import Index
from qa.sources import SourceFile, load


def load_bytes(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load(SourceFile(path, f"docs/{name}"))


def test_pptx_slides_are_pages_titles_are_sections_and_notes_are_read(tmp_path):
    doc = load_bytes(tmp_path, "deck.pptx", F.pptx())
    assert doc.title == "Budget overview" and len(doc.pages) == 2
    assert [s.path for s in doc.sections] == [("Budget overview",), ("Budgets by area",)]
    notes = doc.text.index("Speaker notes: Remind the committee")
    assert doc.pages[0] <= notes < doc.pages[1]  # a slide's notes are on its page
    assert doc.text.index("Dover | £7.1m") > doc.pages[1]


def test_pptx_answer_cites_the_slide_number_and_title(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "deck.pptx").write_bytes(F.pptx())
    ix = Index(tmp_path / "ix")
    ix.build([folder], progress=False)
    p = ix.ask("What should the committee be reminded about Dover?", k=1).passages[0]
    assert p.page == 1 and p.section == "Budget overview" and "Remind the committee" in p.answer
    p = ix.ask("What is the 2025 budget for Deal?", k=1).passages[0]
    assert p.page == 2 and p.section == "Budgets by area" and "Deal | £7.4m | £7.7m" in p.text


def xlsx_with_cached_formula() -> bytes:
    """A workbook whose B2 holds the formula =2*21 with 42 as its last calculated value (as Excel saves it)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sums"
    sheet.append(["Item", "Total"])
    sheet.append(["Answer", "=2*21"])
    out = io.BytesIO()
    book.save(out)
    src = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    patched = io.BytesIO()
    with zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<f>2\*21</f>(<v\s*/>|<v></v>)?", b"<f>2*21</f><v>42</v>", data)
            dst.writestr(item, data)
    return patched.getvalue()


def test_xlsx_reads_cell_values_not_formulas_and_each_sheet_is_a_section(tmp_path):
    doc = load_bytes(tmp_path, "sums.xlsx", xlsx_with_cached_formula())
    assert "Answer | 42" in doc.text and "2*21" not in doc.text
    doc = load_bytes(tmp_path, "budgets.xlsx", F.xlsx())
    assert [s.path for s in doc.sections] == [("Budgets",), ("Notes",)]
    assert doc.text.index(F.PROSE) > doc.sections[1].start


def test_corrupt_office_files_are_skipped_with_a_reason(tmp_path):
    assert "corrupt XLSX" in load_bytes(tmp_path, "a.xlsx", b"PK\x03\x04 not a zip").reason
    assert "old-style Excel" in load_bytes(tmp_path, "b.xlsx", b"\xd0\xcf\x11\xe0" + b"\x00" * 600).reason
    assert "corrupt PPTX" in load_bytes(tmp_path, "c.pptx", b"PK\x03\x04 not a zip").reason
    assert "corrupt EPUB" in load_bytes(tmp_path, "d.epub", b"PK\x03\x04 not a zip").reason


def test_csv_delimiter_is_sniffed_and_legacy_encodings_read_as_for_text(tmp_path):
    data = "Town;Mayor;Population\nDover;Mrs Café;31,022\n\"Deal\nNorth\";Mr Smith;20,823\n".encode("cp1252")
    doc = load_bytes(tmp_path, "towns.csv", data)
    assert doc.text.startswith("Town | Mayor | Population\nDover | Mrs Café | 31,022\nDeal North | Mr Smith | 20,823")
    assert any("Windows-1252" in w for w in doc.warnings)
    tsv = load_bytes(tmp_path, "budgets.tsv", F.tsv())
    assert tsv.text.startswith("Area | Budget 2024 | Budget 2025\nDover | £7.1m | £7.4m")
    assert "binary" in load_bytes(tmp_path, "blob.csv", bytes(range(256)) * 8).reason


def test_epub_chapters_in_reading_order_with_their_titles_as_sections(tmp_path):
    doc = load_bytes(tmp_path, "book.epub", F.epub())
    assert doc.title == "District Budgets"
    assert [s.path[-1] for s in doc.sections] == ["Introduction", "Budgets by area"]
    assert doc.text.index(F.PROSE) < doc.text.index("Dover | £7.1m") and "- Introduction" not in doc.text


def test_an_epub_with_encrypted_chapters_is_skipped_as_drm(tmp_path):
    src = zipfile.ZipFile(io.BytesIO(F.epub()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("META-INF/encryption.xml", '<encryption><EncryptedData><CipherData>'
                     '<CipherReference URI="EPUB/budgets.xhtml"/></CipherData></EncryptedData></encryption>')
    assert "encrypted EPUB (DRM)" in load_bytes(tmp_path, "locked.epub", out.getvalue()).reason


@pytest.mark.parametrize("fmt", ["pptx", "xlsx", "csv", "tsv", "epub"])
def test_new_formats_are_supported_suffixes(fmt):
    from qa.sources import supported_suffixes

    assert f".{fmt}" in supported_suffixes()
