"""Your own documents: qa works in any folder on its own ./index, refreshes it only from the
sources it recorded, asks within chosen documents, and knows who wrote a document and when."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import Index
from qa.errors import InvalidInput
from qa.sources import SourceFile, load

ROOT = Path(__file__).resolve().parent.parent
RIVER = "River notes\n\nThe river Wenn flows north through the valley of Ash.\n"
LAMPS = "# Lamp notes\n\nThe lamplighter of Ormsby lit exactly 212 gas lamps every evening.\n"


def qa_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def checkout_index_state() -> list[tuple[str, int]]:
    folder = ROOT / "index"
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_in_any_folder_qa_builds_asks_and_refreshes_its_own_index_from_its_own_sources(tmp_path):
    before = checkout_index_state()
    work = tmp_path / "work"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "river.txt").write_text(RIVER)
    (work / "docs" / "lamps.md").write_text(LAMPS)
    env = {"QA_INDEX": ""}

    missing = qa_cli("ask", "Which way does the river Wenn flow?", cwd=work, env=env)
    assert missing.returncode == 1 and "qa build FOLDER" in missing.stderr
    assert not (work / "index").exists()

    built = qa_cli("build", "docs", cwd=work, env=env)
    assert built.returncode == 0, built.stderr
    assert (work / "index" / "CURRENT").exists()
    answer = qa_cli("ask", "Which way does the river Wenn flow?", "--json", cwd=work, env=env)
    assert answer.returncode == 0, answer.stderr
    first = json.loads(answer.stdout)["passages"][0]
    assert first["source"] == "docs/river.txt" and "north" in first["answer"]

    # A seeds/ folder here is nobody's business: the index follows only the sources it recorded.
    (work / "seeds").mkdir()
    (work / "seeds" / "other.txt").write_text("Seed notes\n\nThe seed bank in Wakehurst stores 2.4 billion seeds.\n")
    (work / "docs" / "river.txt").write_text(RIVER.replace("north", "south-east"))
    again = qa_cli("ask", "Which way does the river Wenn flow?", "--json", cwd=work, env=env)
    assert again.returncode == 0, again.stderr
    assert "updating" in again.stderr
    assert "south-east" in json.loads(again.stdout)["passages"][0]["answer"]
    sources = {d.source for d in Index(work / "index").documents()}
    assert sources == {"docs/river.txt", "docs/lamps.md"}

    elsewhere = qa_cli("ask", "Which way does the river Wenn flow?", cwd=work, env={"QA_INDEX": str(tmp_path / "none")})
    assert elsewhere.returncode == 1 and str(tmp_path / "none") in elsewhere.stderr
    assert checkout_index_state() == before


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_ask(command: list[str], cwd: Path, env: dict, question: str) -> dict:
    """Start `qa serve …` in a subprocess, ask one question through its API, stop it."""
    from gradio_client import Client

    port = free_port()
    proc = subprocess.Popen([*command, "--port", str(port)], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"qa serve exited: {proc.stdout.read()}")
            try:
                return Client(f"http://127.0.0.1:{port}/", verbose=False).predict(question, 3, api_name="/ask")
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_demo_from_an_unrelated_folder_serves_the_bundled_seeds_and_keeps_the_folder_clean(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"QA_CACHE": str(tmp_path / "cache"), "QA_INDEX": ""}
    refused = qa_cli("serve", cwd=empty, env=env, timeout=120)
    assert refused.returncode == 1 and "qa build FOLDER" in refused.stderr and "--demo" in refused.stderr
    data = serve_and_ask([sys.executable, "-m", "qa.cli", "serve", "--demo"], empty, env, "Who chairs the review meetings?")
    assert data["found"] and data["passages"][0]["source"].startswith("seeds/")
    assert (tmp_path / "cache" / "demo-index" / "CURRENT").exists()
    assert list(empty.iterdir()) == []


# -- asking within chosen documents ------------------------------------------------------------------

@pytest.fixture
def library(tmp_path, make_index):
    docs = tmp_path / "docs"
    (docs / "reports").mkdir(parents=True)
    (docs / "river.txt").write_text(RIVER + "".join(
        f"In year {1900 + i} the river Wenn flooded the meadows of Ash for {i + 2} days. " for i in range(30)))
    (docs / "reports" / "lamps.md").write_text(LAMPS + "".join(
        f"On evening {i} the lamps of Ormsby burned for {i + 3} hours beside the river. " for i in range(120)))
    (docs / "reports" / "orchids.txt").write_text("Orchid notes\n\nBee orchids flower on the chalk downs in July.\n")
    ix = make_index(tmp_path / "ix")
    ix.build([docs], progress=False)
    return ix


def test_asking_within_documents_searches_inside_them_and_fills_k(library):
    everywhere = library.ask("How long did the river Wenn flood the meadows?", k=5)
    assert everywhere.passages[0].source == "docs/river.txt"
    for within in (["docs/reports/lamps.md"], ["docs/reports/*.md"], ["docs/reports/l*"]):
        answer = library.ask("How long did the river Wenn flood the meadows?", k=5, sources=within)
        assert {p.source for p in answer.passages} == {"docs/reports/lamps.md"}, within
        assert len(answer.passages) == 5  # the lamps document holds more than 5 chunks
    folder = library.ask("When do bee orchids flower?", k=5, sources=["docs/reports"])
    assert {p.source for p in folder.passages} <= {"docs/reports/lamps.md", "docs/reports/orchids.txt"}
    assert folder.passages[0].source == "docs/reports/orchids.txt" and "July" in folder.passages[0].answer
    with pytest.raises(InvalidInput, match="no indexed document matches"):
        library.ask("When do bee orchids flower?", sources=["nothing/*.pdf"])
    with pytest.raises(InvalidInput, match="empty"):
        library.ask("When do bee orchids flower?", sources=[])


def test_qa_ask_in_limits_the_search_to_the_named_documents(library, store):
    if store != "faiss":
        pytest.skip("the CLI is tried on the default store (Milvus Lite serves one process per file)")
    out = qa_cli("ask", "How long did the river Wenn flood the meadows?", "--json", "--index", str(library.path),
                 "--in", "docs/reports/*.md", "--in", "docs/reports/orchids.txt", cwd=library.path.parent)
    assert out.returncode == 0, out.stderr
    assert {p["source"] for p in json.loads(out.stdout)["passages"]} <= {"docs/reports/lamps.md", "docs/reports/orchids.txt"}


# -- document metadata ----------------------------------------------------------------------------

def _load(path: Path):
    doc = load(SourceFile(path, f"docs/{path.name}"))
    assert not hasattr(doc, "reason"), doc
    return doc


def test_metadata_is_read_from_html_pdf_docx_front_matter_and_bylines(tmp_path):
    html = tmp_path / "page.html"
    html.write_text(
        '<html><head><title>Kent rated</title><link rel="canonical" href="https://example.org/kent">'
        '<meta name="author" content="Jane Smith"><meta property="article:published_time" content="2022-07-05T10:00:00Z">'
        '</head><body><article><h1>Kent rated outstanding</h1><p>By Jane Smith</p>'
        "<p>Kent County Council children services were rated outstanding by Ofsted in July after a May inspection.</p>"
        "<p>Inspectors found that children are at the centre of the council's culture and practice today.</p>"
        "</article></body></html>")
    doc = _load(html)
    assert (doc.meta.author, doc.meta.published, doc.meta.url) == ("Jane Smith", "2022-07-05", "https://example.org/kent")
    assert "By Jane Smith" in doc.text  # the byline stays answerable

    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.set_author("Sue Chandler")
    import datetime as dt

    pdf.set_creation_date(dt.datetime(2022, 7, 21, 9, 30, tzinfo=dt.timezone.utc))
    pdf.multi_cell(0, 8, "The cabinet noted the Ofsted report on children's services in Kent.")
    pdf.output(str(tmp_path / "report.pdf"))
    doc = _load(tmp_path / "report.pdf")
    assert (doc.meta.author, doc.meta.published) == ("Sue Chandler", "2022-07-21")

    import docx

    d = docx.Document()
    d.add_paragraph("Kent's children's services were judged outstanding.")
    d.core_properties.author = "Judy Molyneux"
    d.core_properties.created = dt.datetime(2022, 7, 7, 12, 0)
    d.core_properties.identifier = "https://example.org/blog"
    d.save(tmp_path / "post.docx")
    doc = _load(tmp_path / "post.docx")
    assert (doc.meta.author, doc.meta.published, doc.meta.url) == ("Judy Molyneux", "2022-07-07", "https://example.org/blog")

    md = tmp_path / "notes.md"
    md.write_text("---\ntitle: Field notes\nauthor: [Ann Lee, Bo Chen]\ndate: 2021-03-04\nurl: https://example.org/notes\n"
                  "---\n\n# Notes\n\nThe heron returned to the pond in March.\n")
    doc = _load(md)
    assert (doc.title, doc.meta.author, doc.meta.published, doc.meta.url) == (
        "Field notes", "Ann Lee, Bo Chen", "2021-03-04", "https://example.org/notes")

    txt = tmp_path / "article.txt"
    txt.write_text("Ofsted says services are improving\n\nby political editor Paul Francis\n\nPublished 5 July 2022\n\n"
                   "Vital services to safeguard children are getting better, say inspectors.\n")
    doc = _load(txt)
    assert (doc.meta.author, doc.meta.published) == ("Paul Francis", "2022-07-05")


def test_bylines_are_content_not_boilerplate():
    from qa.clean import line_reason

    for line in ("By Jane Smith", "Posted on by Judy Molyneux", "Posted on 5 July 2022 by Judy Molyneux",
                 "by political editor Paul Francis", "Written by Anna van der Berg | 3 May 2022"):
        assert line_reason(line) is None, line
    assert line_reason("Posted on") is not None  # an empty byline slot is still page furniture


def test_citations_carry_author_date_and_url_and_who_wrote_it_is_answerable(seeds_any_store):
    answer = seeds_any_store.ask("Who wrote the blog post saying Kent's children's services were judged outstanding?")
    first = answer.passages[0]
    assert answer.found and "Judy Molyneux" in first.answer
    assert first.author == "Judy Molyneux" and first.to_dict()["author"] == "Judy Molyneux"
    d = seeds_any_store.ask("Who chairs the review meetings?").to_dict()
    for p in d["passages"]:
        assert {"author", "published", "url"} <= set(p)
        assert p["published"] is None or len(p["published"]) == 10
    by_source = {doc.source: doc.meta for doc in seeds_any_store.documents()}
    assert by_source["seeds/002_50547e16009b5205.txt"].author == "Paul Francis"


def test_an_index_written_before_metadata_still_reads_and_gains_it_on_a_full_rebuild(tmp_path):
    import sqlite3

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "post.txt").write_text("Notes\n\nBy Jane Smith\n\nThe heron returned to the pond in March.\n")
    ix = Index(tmp_path / "ix")
    ix.build([docs], progress=False)
    # Make it look like an index written by qa before documents had metadata.
    db = tmp_path / "ix" / ix.store.current_version() / "index.sqlite"
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE documents DROP COLUMN meta")
    con.commit()
    con.close()
    old = Index(tmp_path / "ix")
    assert old.ask("When did the heron return?").passages[0].author is None
    old.build([docs], full=True, progress=False)
    assert Index(tmp_path / "ix").ask("When did the heron return?").passages[0].author == "Jane Smith"
