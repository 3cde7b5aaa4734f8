"""OCR: images and image-only PDF pages are read by RapidOCR (the ocr extra, in the test extra),
offline; citations keep the page; the build counts the pages it read; without the extra the
skip says how to get it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import format_files as F
from qa import Index
from qa.formats import ocr
from qa.sources import SourceFile, load
from qa.web.render import render_document_head

ROOT = Path(__file__).resolve().parent.parent
FERRY = "The harbour ferry leaves the stone quay\nat nine every morning from April to October."


def load_bytes(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load(SourceFile(path, f"docs/{name}"))


@pytest.mark.parametrize("name", ["page.png", "page.jpg"])
def test_an_image_of_text_is_read_by_ocr(tmp_path, name):
    doc = load_bytes(tmp_path, name, F.MAKERS[name.split(".")[1]]())
    assert doc.text == FERRY
    assert doc.format.endswith("+ocr") and doc.ocr_pages == (1,) and doc.pages == ()


def test_each_tiff_frame_is_a_page(tmp_path):
    doc = load_bytes(tmp_path, "pages.tiff", F.tiff())
    assert len(doc.pages) == 2 and doc.ocr_pages == (1, 2)
    assert doc.text[doc.pages[1]:] == "The lighthouse keeper retired in 1987."


def test_scanned_pdf_pages_are_read_and_cited_by_page_and_the_build_counts_them(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(F.scanned_pdf())
    (folder / "notes.txt").write_text("The mill pond was dredged in the summer of 2019.")
    ix = Index(tmp_path / "ix")
    report = ix.build([folder], progress=False)
    assert report.ocr_pages == 2 and "2 page(s) read by OCR" in report.summary()
    assert report.to_dict()["ocr_pages"] == 2
    p = ix.ask("When does the harbour ferry leave the quay?", k=1).passages[0]
    assert p.source == "docs/scan.pdf" and p.page == 2 and "nine every morning" in p.text
    text = ix.document_text("docs/scan.pdf")
    assert text[p.start : p.end] == p.text  # offsets point into the OCR text, which is what is stored
    assert next(d for d in ix.documents() if d.source == "docs/scan.pdf").format == "pdf+ocr"
    again = ix.build([folder], progress=False)  # unchanged: not read (nor OCR'd) again
    assert again.unchanged == 2 and again.ocr_pages == 0 and again.version is None


def test_the_source_viewer_labels_ocr_text():
    assert "OCR" in render_document_head("Scan", "docs/scan.pdf", {}, ocr=True)
    assert "OCR" not in render_document_head("Notes", "docs/notes.txt", {}, ocr=False)


def test_a_pdf_with_some_scanned_pages_keeps_its_text_pages_and_reads_the_others(tmp_path):
    from pypdf import PdfReader, PdfWriter
    import io

    writer = PdfWriter()
    for data in (F.pdf(), F.scanned_pdf()):
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    doc = load_bytes(tmp_path, "mixed.pdf", out.getvalue())
    assert doc.ocr_pages == (2, 3) and doc.format == "pdf+ocr"
    assert "Dover | £7.1m | £7.4m" in doc.text[: doc.pages[1]] and "nine every morning" in doc.text[doc.pages[2]:]


def test_without_the_ocr_extra_the_skip_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr, "available", lambda: False)
    image = load_bytes(tmp_path, "page.png", F.png())
    assert 'pip install "qa[ocr]"' in image.reason
    scan = load_bytes(tmp_path, "scan.pdf", F.scanned_pdf())
    assert "scanned PDF needs OCR" in scan.reason and 'pip install "qa[ocr]"' in scan.reason


def test_an_image_without_text_or_that_is_damaged_is_skipped_with_a_reason(tmp_path):
    from PIL import Image
    import io

    blank = io.BytesIO()
    Image.new("L", (600, 400), 255).save(blank, format="PNG")
    assert load_bytes(tmp_path, "blank.png", blank.getvalue()).reason == "no text found by OCR"
    assert "corrupt or unsupported image" in load_bytes(tmp_path, "cut.png", F.png()[:300]).reason


def test_ocr_runs_offline_from_the_models_in_the_wheel(tmp_path):
    """In a network namespace of its own (no network at all), OCR still reads the image."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("cannot make a network namespace here (unshare -n)")
    (tmp_path / "page.png").write_bytes(F.png())
    code = ("import json, sys; from pathlib import Path; from qa.sources import SourceFile, load; "
            "d = load(SourceFile(Path(sys.argv[1]), 'docs/page.png')); print(json.dumps(getattr(d, 'text', None)))")
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", code, str(tmp_path / "page.png")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == FERRY
