"""Bad files: each is reported with a clear reason and skipped (or indexed with a warning when its
text can be read whole), everything else is indexed, and the build never crashes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import Index
from qa.chunk import chunk_document
from qa.settings import ChunkSettings
from qa.clean import boilerplate
from qa.sources import SourceFile, load

GOOD_FACT = "The lighthouse on Gull Point was automated in 1987 after its last keeper retired."
ROOT = Path(__file__).resolve().parent.parent


def build_with(tmp_path: Path, files: dict[str, bytes]):
    """Build an index over a good file plus `files`; return the report and the index."""
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    (folder / "good.txt").write_text(f"Gull Point\n\n{GOOD_FACT}\n")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    ix = Index(tmp_path / "ix")
    report = ix.build([folder], progress=False)
    assert "docs/good.txt" in report.added  # everything else is indexed
    return report, ix


def problem(report, source: str):
    found = [p for p in report.problems if p.source == source]
    assert len(found) == 1, report.summary()
    assert found[0].reason in report.summary()  # the build summary says why
    return found[0]


def pdf_bytes(text: str = "A page of text about the harbour.", **encryption) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, text)
    if encryption:
        pdf.set_encryption(**encryption)
    return bytes(pdf.output())


def test_empty_file_is_skipped(tmp_path):
    report, _ = build_with(tmp_path, {"empty.txt": b"", "blank.md": b" \n\n\t\n"})
    assert problem(report, "docs/empty.txt").reason == "empty file"
    assert problem(report, "docs/blank.md").skipped


def test_binary_file_named_txt_is_skipped(tmp_path):
    report, _ = build_with(tmp_path, {"photo.txt": bytes(range(256)) * 64})
    p = problem(report, "docs/photo.txt")
    assert p.skipped and "binary" in p.reason


def test_invalid_utf8_is_indexed_with_a_warning_and_nothing_lost(tmp_path):
    latin1 = "Café owners in the old town open at seven every morning.".encode("latin-1")
    damaged = "Crème brûlée is served at the café by the quay on Sundays.".encode() + b"\xff\xfe tail."
    report, ix = build_with(tmp_path, {"latin.txt": latin1, "damaged.txt": damaged})
    p = problem(report, "docs/latin.txt")
    assert not p.skipped and "UTF-8" in p.reason and "Windows-1252" in p.reason
    assert "Café owners" in ix.document_text("docs/latin.txt")
    p = problem(report, "docs/damaged.txt")
    assert not p.skipped and "invalid UTF-8" in p.reason
    assert "Crème brûlée" in ix.document_text("docs/damaged.txt")  # the good UTF-8 is not turned to mojibake


def test_a_text_file_with_nul_bytes_is_skipped_and_utf16_is_read(tmp_path):
    stray = b"The ferry timetable\x00 changes on the first Monday\x00 of April."
    utf16 = "Tide tables for the estuary are published every January.".encode("utf-16")
    utf16_no_bom = "Harbour dues rise by two percent from June.".encode("utf-16-le")
    report, ix = build_with(tmp_path, {"stray.txt": stray, "notepad.txt": utf16, "nobom.txt": utf16_no_bom})
    p = problem(report, "docs/stray.txt")
    assert p.skipped and "2 NUL byte(s)" in p.reason
    assert ix.document_text("docs/stray.txt") is None
    assert {"docs/notepad.txt", "docs/nobom.txt"} <= set(report.added)
    assert ix.document_text("docs/notepad.txt").startswith("Tide tables")
    assert ix.document_text("docs/nobom.txt").startswith("Harbour dues")


def test_corrupt_pdf_is_skipped(tmp_path):
    whole = pdf_bytes()
    report, _ = build_with(tmp_path, {
        "garbage.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 20,
        "truncated.pdf": whole[: len(whole) // 2],
        "renamed.pdf": b"this was never a PDF",
    })
    assert "corrupt PDF" in problem(report, "docs/garbage.pdf").reason
    assert "corrupt PDF" in problem(report, "docs/truncated.pdf").reason
    assert "not a PDF" in problem(report, "docs/renamed.pdf").reason


def test_encrypted_pdf_needing_a_password_is_skipped_and_one_without_is_read(tmp_path):
    report, ix = build_with(tmp_path, {
        "locked.pdf": pdf_bytes(user_password="secret", owner_password="owner"),
        "restricted.pdf": pdf_bytes("The pier reopens to anglers in March.", owner_password="owner"),
    })
    p = problem(report, "docs/locked.pdf")
    assert p.skipped and p.reason == "encrypted PDF: a password is needed to open it"
    assert "docs/restricted.pdf" in report.added  # only an owner password: no password is needed to read it
    assert "pier reopens" in ix.document_text("docs/restricted.pdf")


def test_corrupt_docx_is_skipped(tmp_path):
    report, _ = build_with(tmp_path, {"broken.docx": b"PK\x03\x04 not really a zip", "old.docx": b"\xd0\xcf\x11\xe0" + b"\x00" * 600})
    assert "corrupt DOCX" in problem(report, "docs/broken.docx").reason
    assert "password-protected or old-style Word" in problem(report, "docs/old.docx").reason


def test_deeply_nested_html_is_skipped_not_silently_cut(tmp_path):
    depth = 5000
    deep = "<html><body>" + "<div>" * depth + "<p>The owls sleep by day.</p>" + "</div>" * depth + "</body></html>"
    shallow = "<html><body>" + "<div>" * 50 + "<p>The bats fly at dusk along the river bank, hunting moths.</p>" + "</div>" * 50
    report, ix = build_with(tmp_path, {"deep.html": deep.encode(), "shallow.html": shallow.encode()})
    p = problem(report, "docs/deep.html")
    assert p.skipped and "nested too deeply" in p.reason
    assert "docs/shallow.html" in report.added
    assert "bats fly at dusk" in ix.document_text("docs/shallow.html")


def test_symlink_loops_are_reported_and_not_followed(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.txt").write_text("The inner harbour wall was rebuilt in granite in 1902.")
    os.symlink(folder, folder / "sub" / "back")  # a folder that contains itself
    os.symlink(folder / "b.txt", folder / "a.txt")  # two links pointing at each other
    os.symlink(folder / "a.txt", folder / "b.txt")
    report, _ = build_with(tmp_path, {})
    assert "loop" in problem(report, "docs/sub/back").reason
    assert "symlink loop" in problem(report, "docs/a.txt").reason
    assert "symlink loop" in problem(report, "docs/b.txt").reason
    assert sorted(report.added) == ["docs/good.txt", "docs/sub/inner.txt"]  # each file once


def test_unsupported_extension_is_skipped_with_the_supported_list(tmp_path):
    report, _ = build_with(tmp_path, {"drawing.dwg": b"AC1032", "README": b"no extension"})
    p = problem(report, "docs/drawing.dwg")
    assert p.skipped and "unsupported file type .dwg" in p.reason and ".pdf" in p.reason and ".xlsx" in p.reason
    assert "unsupported file type (none)" in problem(report, "docs/README").reason


def test_a_loader_crash_costs_one_file_not_the_build(tmp_path, monkeypatch):
    from qa import sources

    def explode(path, data):
        raise RuntimeError("boom")

    monkeypatch.setitem(sources.LOADERS, ".md", explode)
    monkeypatch.setenv("QA_LOAD_BUDGET", "0")  # load in this process, where the loader is replaced
    report, _ = build_with(tmp_path, {"notes.md": b"# Notes\n\nSome notes."})
    assert problem(report, "docs/notes.md").reason == "cannot load md: RuntimeError: boom"


def test_strict_build_exits_1_on_any_report_and_0_without(tmp_path):
    from typer.testing import CliRunner

    from qa.cli import app

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD_FACT)
    build = ["build", str(folder), "--index", str(tmp_path / "ix")]
    run = CliRunner().invoke
    ok = run(app, [*build, "--strict"])
    assert ok.exit_code == 0, ok.output
    (folder / "empty.txt").write_bytes(b"")
    loose = run(app, build)
    assert loose.exit_code == 0 and "skipped: docs/empty.txt: empty file" in loose.output
    strict = run(app, [*build, "--strict"])
    assert strict.exit_code == 1
    assert "skipped: docs/empty.txt: empty file" in strict.output and "1 file(s) skipped, 0 warning(s)" in strict.output
    (folder / "empty.txt").unlink()
    (folder / "latin.txt").write_bytes("Caf\xe9 hours change in May.".encode("latin-1"))
    warned = run(app, [*build, "--strict"])  # a warning is a report too
    assert warned.exit_code == 1 and "0 file(s) skipped, 1 warning(s)" in warned.output


# -- large files: memory and time stay proportional to the file ------------------------------


def write_text(path: Path, megabytes: float, line_breaks: bool = True) -> None:
    """Plain prose, every sentence different, hard-wrapped at 80 columns like a text export."""
    import random

    rng = random.Random(7)
    words = ("harbour survey council report river school budget ferry island meeting review inspection "
             "team officer service plan county water road bridge market station figure funding staff").split()
    out, size = [], 0
    while size < megabytes * 2**20:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 20)))
        out.append(sentence.capitalize() + f" in {rng.randint(1900, 2030)}.")
        size += len(out[-1]) + 1
        if len(out) % 5 == 0:
            out.append("\n\n" if line_breaks else " ")
    text = " ".join(out)
    if line_breaks:
        import textwrap

        text = "\n\n".join(textwrap.fill(p.strip(), 80) for p in text.split("\n\n"))
    path.write_text(text)


def test_a_huge_line_without_breaks_is_chunked_in_linear_time(tmp_path):
    f = tmp_path / "oneline.txt"
    write_text(f, 2, line_breaks=False)
    started = time.time()
    doc = load(SourceFile(f, "docs/oneline.txt"))
    chunks = chunk_document(doc, boilerplate(doc.text))
    assert time.time() - started < 30  # quadratic slicing took minutes here
    most = ChunkSettings().max_chars
    assert all(doc.text[c.start : c.end] == c.text and len(c.text) <= most for c in chunks)
    assert len(chunks) > 2 * 2**20 / most


MEMORY_PROBE = """
import json, resource, sys
from qa import Index

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

small, big, index = sys.argv[1:4]
Index(index + "-small").build([small], progress=False)  # model and buffers in place
before = resident()
report = Index(index).build([big], progress=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak, "report": report.to_dict()}))
"""


def repeated_text(path: Path, megabytes: float) -> None:
    """Varied prose repeated: every distinct chunk is embedded once (the cache is keyed by text hash)."""
    unit_file = path.with_suffix(".unit")
    write_text(unit_file, 0.02)
    unit = unit_file.read_text() + "\n\n"
    unit_file.unlink()
    path.write_text(unit * int(megabytes * 2**20 / len(unit) + 1))


def large_file_is_indexed_in_bounded_memory(tmp_path: Path, megabytes: float, check_memory: bool = True) -> dict:
    """Memory grows with the file by a bounded factor: measured as a build of the large file after
    a build of a small one in the same process, so the model and fixed buffers are not counted."""
    small, folder = tmp_path / "small", tmp_path / "docs"
    small.mkdir()
    folder.mkdir()
    repeated_text(small / "small.txt", 0.1)
    repeated_text(folder / "big.txt", megabytes)
    (folder / "good.txt").write_text(GOOD_FACT)
    size = (folder / "big.txt").stat().st_size
    # One embedding backend throughout (torch), so that a first-use ONNX export or arena growth
    # is not counted as the text pipeline's memory.
    env = {**os.environ, "QA_EMBED_BACKEND": "torch"}
    runs = []
    for attempt in range(2):  # peak RSS is noisy (allocator arenas): the smaller of two runs counts
        r = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(small), str(folder), str(tmp_path / f"ix{attempt}")],
                           capture_output=True, text=True, timeout=3600, cwd=ROOT, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        if not check_memory or runs[-1]["peak"] - runs[-1]["before"] < 64 * 2**20 + 25 * size:
            break
    got = min(runs, key=lambda g: g["peak"] - g["before"])
    report = got["report"]
    assert sorted(report["added"]) == ["docs/big.txt", "docs/good.txt"] and not report["problems"]
    grown = got["peak"] - got["before"]
    # Text, offsets, chunks, vectors and the index itself: measured 15–22 bytes per byte of text
    # (3, 10 and 50 MB files) on top of a fixed few tens of MB.
    if check_memory:
        assert grown < 64 * 2**20 + 25 * size, f"{grown / 2**20:.0f} MB for a {size / 2**20:.0f} MB file"
    return {"size": size, "grown": grown, **got}


def test_a_large_text_file_is_indexed_and_not_skipped(tmp_path):
    # The memory bound itself is asserted by the slow 50 MB test below: at 2 MB the peak RSS of a
    # subprocess varied from ~45 to ~340 MB between runs (allocator arenas), too noisy to gate CI.
    got = large_file_is_indexed_in_bounded_memory(tmp_path, 2, check_memory=False)
    assert got["report"]["chunks_total"] > 1000


@pytest.mark.slow
def test_a_50_mb_text_file_is_indexed_within_bounded_memory(tmp_path):
    got = large_file_is_indexed_in_bounded_memory(tmp_path, 50)
    print(f"50 MB file: peak RSS {got['peak'] / 2**20:.0f} MB, {got['grown'] / 2**20:.0f} MB over the loaded model")
