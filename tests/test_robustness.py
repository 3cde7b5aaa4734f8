"""Files that break parsers: rotated pages, a damaged cross-reference table, a loader that hangs
or crashes. Each file is read or skipped with its reason, and none can stall or end a build."""

import io
import re
import time

import pytest

from qa.loading import WORKER, Loading
from qa.sources import SourceFile, load


def pdf_pages(lines: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.add_page()
        pdf.multi_cell(0, 6, line)
    return bytes(pdf.output())


def rotated(data: bytes, degrees: int) -> bytes:
    import pypdf

    reader, writer = pypdf.PdfReader(io.BytesIO(data)), pypdf.PdfWriter()
    for page in reader.pages:
        page.rotate(degrees)
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def load_bytes(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load(SourceFile(path, f"docs/{name}"))


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_text_on_rotated_pages_is_read(tmp_path, degrees):
    # One line a page, alike but for a number: the running-header rule took every line for a
    # header and left no text. A page's every line is never dropped now.
    lines = [f"Sheet {n}: the pier reopens to anglers in March after repairs." for n in (1, 2, 3)]
    doc = load_bytes(tmp_path, "rotated.pdf", rotated(pdf_pages(lines), degrees))
    assert not hasattr(doc, "reason"), doc
    assert [doc.text[a:b].strip() for a, b in zip(doc.pages, [*doc.pages[1:], len(doc.text)])] == lines


def test_a_pdf_whose_xref_table_pypdf_cannot_read_is_read_by_pdfminer(tmp_path):
    good = pdf_pages(["The harbour ferry leaves at nine every morning from the stone quay."] * 2)
    damaged = re.sub(rb"xref\n.*?trailer", b"xref\ngarbage garbage\ntrailer", good, flags=re.S)
    doc = load_bytes(tmp_path, "damaged.pdf", damaged)
    assert not hasattr(doc, "reason"), doc
    assert doc.text.count("harbour ferry leaves at nine") == 2 and len(doc.pages) == 2
    assert any("read with pdfminer.six" in w for w in doc.warnings)


def test_a_pdf_neither_parser_can_read_keeps_both_reasons(tmp_path):
    problem = load_bytes(tmp_path, "garbage.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 20)
    assert problem.reason.startswith("corrupt PDF") and "pdfminer.six" in problem.reason


# A worker whose loaders misbehave on purpose: .slow sleeps, .steps makes progress slowly, .crash dies.
TEST_WORKER = """
import os, signal, time
from qa.formats import registry
from qa.formats.registry import Loaded

def slow(path, data):
    time.sleep(60)

def steps(path, data):
    for _ in range(6):
        registry.step()
        time.sleep(0.5)
    return Loaded("Six slow pages, each well within its budget.")

def crash(path, data):
    os.kill(os.getpid(), signal.SIGSEGV)

registry.LOADERS.update({".slow": slow, ".steps": steps, ".crash": crash})
""" + WORKER


def test_a_file_that_runs_over_its_budget_is_skipped_and_the_next_one_loads(tmp_path):
    files = {}
    for name, data in {"a.slow": b"x", "b.steps": b"x", "c.crash": b"x", "d.txt": b"The quay was rebuilt in 1902."}.items():
        (tmp_path / name).write_bytes(data)
        files[name] = SourceFile(tmp_path / name, f"docs/{name}")
    with Loading(budget=2, worker=TEST_WORKER) as loading:
        started = time.monotonic()
        slow = loading.load(files["a.slow"])
        assert time.monotonic() - started < 20
        assert slow.skipped and "gave up" in slow.reason and "2 s" in slow.reason
        stepped = loading.load(files["b.steps"])  # 3 s in all, but no step over 2 s: read
        assert stepped.text.startswith("Six slow pages")
        crashed = loading.load(files["c.crash"])
        assert crashed.skipped and crashed.reason == "the loader crashed on this file (signal SIGSEGV)"
        assert loading.load(files["d.txt"]).text == "The quay was rebuilt in 1902."


def test_documents_cross_the_worker_pipe_unchanged(tmp_path):
    import format_files as F

    (tmp_path / "b.docx").write_bytes(F.docx())
    here = load(SourceFile(tmp_path / "b.docx", "docs/b.docx"))
    with Loading(budget=30) as loading:
        assert loading.load(SourceFile(tmp_path / "b.docx", "docs/b.docx")) == here
    with Loading(budget=0) as loading:  # 0: in this process
        assert loading.load(SourceFile(tmp_path / "b.docx", "docs/b.docx")) == here
