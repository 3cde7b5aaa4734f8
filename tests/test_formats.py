"""Real files made here (fpdf2 PDF, python-docx DOCX, an HTML page with boilerplate, Markdown):
each holds one fact on a known page or under a known heading, and the answer must cite it there."""

from pathlib import Path

import pytest

from qa import Index
from qa.chunk import chunk_document
from qa.clean import boilerplate
from qa.sources import SourceFile, load
from qa.text import sentences, tidy

PDF_FACT = (
    "The survey found that the oystercatcher population on the northern mudflats had doubled "
    "since the previous assess-\nment in the spring of 2019."
)
DOCX_FACT = "The review recommends a third sailing at 18:40 on weekdays from May to September."
HTML_FACT = "The dredger Saint Brigid removed 41,000 cubic metres of silt from the inner channel during the spring campaign."
MD_FACT = "Volunteers planted 3,200 native oak saplings along the old railway cutting in November."

PDF_FILLER = [
    "Surveyors walked the estuary shore at low tide and recorded every wading bird they could see. "
    "Counts were made from fixed points so that each visit could be compared with the last one. "
    "The weather was mostly dry, although strong winds shortened two of the winter visits.",
    "Curlew and redshank were seen on every visit, mostly feeding along the edge of the saltmarsh. "
    "Numbers of dunlin varied widely from month to month and peaked during the coldest weeks. ",
    "The report ends with recommendations for future monitoring and for managing access to the shore. "
    "Dog walkers will be asked to keep to the sea wall path between October and March.",
]


def make_pdf(path: Path) -> None:
    """Three pages with bookmarks; the fact is on page 2, hyphenated across a line end."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Estuary Bird Survey")
    pdf.set_font("Helvetica", size=11)
    for n, (heading, body) in enumerate(zip(["1. Method", "2. Findings", "3. Recommendations"], PDF_FILLER), 1):
        pdf.add_page()
        pdf.start_section(heading)
        pdf.multi_cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
        if n == 2:
            pdf.multi_cell(0, 6, PDF_FACT, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Ferry Timetable Review", 0)
    d.add_paragraph("This review looks at the island ferry timetable for the coming year and at what passengers asked for.")
    d.add_heading("1. Background", 1)
    d.add_paragraph("The ferry has run twice a day since the new pier opened, with extra crossings on market days.")
    d.add_paragraph("Passenger numbers grew steadily, especially among commuters travelling to the mainland.")
    d.add_heading("2. Summary", 1)
    d.add_paragraph(DOCX_FACT)
    table = d.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "Day", (0, 1): "Sailings", (1, 0): "Monday", (1, 1): "3"}.items():
        table.cell(r, c).text = value
    d.add_heading("3. Costs", 1)
    d.add_paragraph("The extra sailing would be paid for from harbour dues and a small fare increase.")
    d.save(str(path))


HTML_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Harbour Report | Coast News</title></head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. By continuing
to browse you accept our cookie policy. <button>Accept all cookies</button></div>
<main><article>
<h1>Harbour Report</h1>
<p>The harbour authority published its annual report on Tuesday, covering traffic, dredging and finances
for the whole estuary.</p>
<h2>1. Traffic</h2>
<p>Ship movements rose slightly over the year, with most of the growth in ferries and small cargo vessels
using the eastern berths.</p>
<h2>2. Dredging</h2>
<p>{HTML_FACT}</p>
<p>Silt from the channel was taken out to sea and deposited at the licensed site beyond the bar.</p>
<h2>3. Finances</h2>
<p>Income from harbour dues covered running costs, and the authority kept a small reserve for repairs.</p>
</article></main>
<aside><h3>Most popular</h3><ul><li><a href="/a">Celebrity spotted buying chips on the pier</a></li>
<li><a href="/b">Ten best beaches for families this summer</a></li></ul></aside>
<footer><p>Registered in England. Coast News Ltd publishes regional newspapers and websites.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a> <p>© 2024 Coast News Ltd</p></footer>
</body></html>"""

MARKDOWN = f"""# Parish Newsletter

News from the parish council for the autumn.

## 1. Footpaths

The footpath by the mill has been resurfaced and reopened to walkers and cyclists.

```
# this line is code, not a heading
```

## 2. Summary

{MD_FACT}
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formats") / "docs"
    folder.mkdir()
    make_pdf(folder / "survey.pdf")
    make_docx(folder / "ferry.docx")
    (folder / "harbour.html").write_text(HTML_PAGE)
    (folder / "parish.md").write_text(MARKDOWN)
    return folder


@pytest.fixture(scope="module")
def index(corpus, tmp_path_factory) -> Index:
    ix = Index(tmp_path_factory.mktemp("formats-index") / "ix")
    report = ix.build([corpus], progress=False)
    assert sorted(report.added) == ["docs/ferry.docx", "docs/harbour.html", "docs/parish.md", "docs/survey.pdf"]
    assert not report.problems
    return ix


def loaded(corpus: Path, name: str):
    doc = load(SourceFile(corpus / name, f"docs/{name}"))
    assert not hasattr(doc, "reason"), doc
    return doc


def top(index: Index, question: str):
    answer = index.ask(question, k=3)
    assert answer.found, question
    p = answer.passages[0]
    text = index.document_text(p.source)
    assert text[p.start : p.end] == p.text and text[p.answer_start : p.answer_end] == p.answer
    return p


def test_pdf_answer_cites_the_file_and_the_page_of_the_fact(index):
    p = top(index, "How much has the oystercatcher population on the northern mudflats grown?")
    assert p.source == "docs/survey.pdf"
    assert p.page == 2
    assert p.title == "Estuary Bird Survey"
    assert p.section == "2. Findings"
    assert tidy(p.answer) == tidy(PDF_FACT)


def test_pdf_line_end_hyphenation_does_not_split_the_sentence_or_the_word(index, corpus):
    doc = loaded(corpus, "survey.pdf")
    fact = [doc.text[a:b] for a, b in sentences(doc.text) if "oystercatcher" in doc.text[a:b]]
    assert len(fact) == 1 and "assess-\nment" in fact[0]  # the text keeps the line break: offsets stay true
    assert "previous assessment in the spring" in tidy(fact[0])  # reading and search join the word
    p = index.ask("When was the previous assessment of the oystercatchers?", k=1, mode="bm25").passages[0]
    assert p.source == "docs/survey.pdf" and "oystercatcher" in p.answer


def test_pdf_pages_are_the_page_texts_in_order_and_every_chunk_cites_its_page(corpus):
    import pypdf

    doc = loaded(corpus, "survey.pdf")
    reader = pypdf.PdfReader(str(corpus / "survey.pdf"))
    assert len(doc.pages) == len(reader.pages) == 3
    ends = [*doc.pages[1:], len(doc.text)]
    for n, (a, b) in enumerate(zip(doc.pages, ends)):
        assert doc.text[a:b].strip() == reader.pages[n].extract_text().strip()
    for chunk in chunk_document(doc, boilerplate(doc.text)):
        page = chunk.page
        assert doc.pages[page - 1] <= chunk.start and chunk.end <= ends[page - 1]


def test_docx_answer_cites_the_heading_it_sits_under(index):
    p = top(index, "What time would the new extra ferry sailing leave?")
    assert p.source == "docs/ferry.docx"
    assert p.title == "Ferry Timetable Review"
    assert p.section == "Ferry Timetable Review › 2. Summary"
    assert p.page is None
    assert DOCX_FACT in p.answer


def test_docx_keeps_paragraphs_headings_and_tables_in_order(corpus):
    doc = loaded(corpus, "ferry.docx")
    order = ["Ferry Timetable Review", "1. Background", "2. Summary", DOCX_FACT, "Day | Sailings", "Monday | 3", "3. Costs"]
    positions = [doc.text.index(s) for s in order]
    assert positions == sorted(positions)
    assert [s.path[-1] for s in doc.sections] == ["Ferry Timetable Review", "1. Background", "2. Summary", "3. Costs"]
    assert all(doc.text[s.start :].startswith(s.path[-1]) for s in doc.sections)


def test_html_keeps_the_article_and_drops_navigation_cookie_banner_and_footer(corpus):
    doc = loaded(corpus, "harbour.html")
    assert doc.title == "Harbour Report"
    assert HTML_FACT in doc.text
    for furniture in ("Accept all cookies", "Weather", "Celebrity spotted", "Privacy policy", "Registered in England", "©"):
        assert furniture not in doc.text, furniture
    assert [" › ".join(s.path) for s in doc.sections] == [
        "Harbour Report", "Harbour Report › 1. Traffic", "Harbour Report › 2. Dredging", "Harbour Report › 3. Finances",
    ]


def test_html_answer_cites_the_page_and_section_with_offsets_into_the_extracted_text(index):
    p = top(index, "How much silt did the dredger take out of the inner channel?")
    assert p.source == "docs/harbour.html"
    assert p.section == "Harbour Report › 2. Dredging"
    assert p.answer == HTML_FACT  # offsets refer to the extracted text that the viewer shows


def test_markdown_answer_cites_its_section_and_code_fences_are_not_headings(index, corpus):
    p = top(index, "How many oak saplings did the volunteers plant?")
    assert p.source == "docs/parish.md"
    assert p.section == "Parish Newsletter › 2. Summary"
    doc = loaded(corpus, "parish.md")
    assert not any("code" in s.path[-1] for s in doc.sections)


def test_cli_citation_names_the_section_once(index):
    from qa.cli import render

    out = render(index.ask("What time would the new extra ferry sailing leave?", k=1))
    assert "[1] Ferry Timetable Review › 2. Summary — docs/ferry.docx" in out
    out = render(index.ask("How much has the oystercatcher population on the northern mudflats grown?", k=1))
    assert "[1] Estuary Bird Survey › 2. Findings — docs/survey.pdf, page 2" in out


def test_a_chunk_never_runs_across_a_heading(corpus):
    for name in ("ferry.docx", "harbour.html", "parish.md", "survey.pdf"):
        doc = loaded(corpus, name)
        for chunk in chunk_document(doc, boilerplate(doc.text)):
            inside = [s for s in doc.sections if chunk.start < s.start < chunk.end]
            assert not inside, (name, chunk.text)


def test_a_heading_straight_followed_by_a_subheading_is_not_a_chunk_of_its_own(tmp_path):
    f = tmp_path / "notes.md"
    f.write_text("# Harbour Notes\n\n## 1. Tides\n\nSpring tides reach the quay steps twice a month.\n")
    doc = load(SourceFile(f, "docs/notes.md"))
    chunks = chunk_document(doc, boilerplate(doc.text))
    assert [(c.section, c.text) for c in chunks] == [
        ("Harbour Notes › 1. Tides", "## 1. Tides\n\nSpring tides reach the quay steps twice a month.")
    ]


def test_pdf_running_headers_footers_and_page_numbers_do_not_split_sentences(tmp_path):
    from fpdf import FPDF

    class Report(FPDF):
        def header(self):
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, "Estuary Survey - Draft for consultation", new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} of 3", align="C")

    places = ["old quay", "sluice gate", "salt pans", "ferry slip", "sea wall", "boat yard", "church marsh"]
    birds = ["redshank", "curlew", "dunlin", "godwit", "lapwing", "plover"]
    body = " ".join(
        f"On one visit the team watched {birds[i % 6]} and {birds[(i + 2) % 6]} feeding along the saltmarsh edge "
        f"near the {places[i % 7]} until the tide turned." for i in range(75)
    )
    pdf = Report()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "report.pdf"))

    doc = load(SourceFile(tmp_path / "report.pdf", "docs/report.pdf"))
    assert len(doc.pages) == 3
    assert "Draft for consultation" not in doc.text and "Page 2 of 3" not in doc.text
    spans = sentences(doc.text)
    for page_start in doc.pages[1:]:
        crossing = [tidy(doc.text[a:b]) for a, b in spans if a < page_start < b]
        assert len(crossing) == 1 and crossing[0] in tidy(body)  # whole, with nothing glued in
