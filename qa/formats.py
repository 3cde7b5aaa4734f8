"""Loaders for structured formats: HTML (trafilatura), PDF (pypdf, per page), DOCX (python-docx).

Each loader turns a file's bytes into the one text that qa indexes and shows, plus where its pages
and sections start in that text. Offsets are built while the text is assembled, not found by
searching for it afterwards (the one exception: a PDF bookmark is placed where its title appears
on its page, else at the page's start). A file that cannot be read raises `Unreadable` with the reason a
person sees in the build summary.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from qa.sources import Section, Unreadable, loader, looks_binary

PAGE_SEPARATOR = "\n\n"  # between the texts of two PDF pages (page starts are kept in meta["pages"])
BLOCK_SEPARATOR = "\n\n"  # between paragraphs, headings, list items and tables (HTML, DOCX)
MAX_HTML_DEPTH = 255  # libxml2 stops reading deeper than 256 levels; past that text would be lost
HTML_SECTION_LEVELS = 3  # h1–h3 name sections; smaller headings stay in the text as paragraphs

_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


class _Builder:
    """Appends blocks of text, recording where each heading's section starts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str]] = []

    def block(self, text: str) -> int:
        text = text.strip()
        if not text:
            return -1
        if self.parts:
            self.parts.append(BLOCK_SEPARATOR)
            self.length += len(BLOCK_SEPARATOR)
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start

    def heading(self, text: str, level: int) -> None:
        text = " ".join(text.split())
        start = self.block(text)
        if start < 0:
            return
        self._stack = [(lv, h) for lv, h in self._stack if lv < level] + [(level, text)]
        self.sections.append(Section(start, tuple(h for _, h in self._stack)))

    def text(self) -> str:
        return "".join(self.parts)


# -- HTML ---------------------------------------------------------------------------------------


def _html_tree(data: bytes):
    """Parse with lxml, refusing documents nested deeper than libxml2 reads (it drops the rest)."""
    import lxml.html
    from lxml import etree

    from trafilatura.utils import decode_file  # honours <meta charset>, else detects the encoding

    text = decode_file(data)
    parser = lxml.html.HTMLParser(encoding="utf-8")
    tree = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    if any("depth" in e.message.lower() for e in parser.error_log):
        raise Unreadable(f"HTML nested too deeply (more than {MAX_HTML_DEPTH} levels): its text cannot be read whole")
    depth = deepest = 0
    for event, _el in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_HTML_DEPTH:
        raise Unreadable(f"HTML nested too deeply ({deepest} levels > {MAX_HTML_DEPTH}): its text cannot be read whole")
    return tree


def _inline_text(el) -> str:
    """Text of an extracted element, `<lb/>` as a line break, runs of spaces collapsed per line."""
    pieces: list[str] = []

    def walk(node) -> None:
        if node.tag == "lb":
            pieces.append("\n")
        elif node.text:
            pieces.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                pieces.append(child.tail)

    walk(el)
    lines = (_SPACES.sub(" ", ln).strip() for ln in "".join(pieces).split("\n"))
    return "\n".join(ln for ln in lines if ln)


def _html_blocks(body, out: _Builder) -> None:
    for el in body:
        tag = el.tag
        if tag == "head":
            rend = el.get("rend") or "h2"
            level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2
            if level <= HTML_SECTION_LEVELS:
                out.heading(_inline_text(el), level)
            else:
                out.block(_inline_text(el))
        elif tag == "list":
            items = [_inline_text(item) for item in el.iter("item")]
            out.block("\n".join(f"- {t}" for t in items if t))
        elif tag == "table":
            rows = []
            for row in el.iter("row"):
                cells = [" ".join(_inline_text(c).split()) for c in row if c.tag == "cell"]
                if any(cells):
                    rows.append(" | ".join(cells))
            out.block("\n".join(rows))
        elif tag in ("div", "section") and len(el):
            _html_blocks(el, out)
        elif tag not in ("graphic",):
            out.block(_inline_text(el))


@loader(".html", ".htm", ".xhtml")
def load_html(path: Path, data: bytes) -> tuple[str, dict]:
    """The page's main text (trafilatura drops navigation, cookie notices, footers), with its title."""
    import trafilatura

    if looks_binary(data):
        raise Unreadable("binary content (NUL or control bytes), not HTML")
    tree = _html_tree(data)
    page_title = " ".join((tree.findtext(".//title") or "").split())
    extracted = trafilatura.bare_extraction(
        tree, with_metadata=True, include_comments=False, include_tables=True,
        include_formatting=False, favor_recall=True,
    )
    out = _Builder()
    if extracted is not None and extracted.body is not None:
        _html_blocks(extracted.body, out)
    meta: dict = {"warnings": []}
    text = out.text()
    if not text.strip():
        # Too little text for main-content extraction (a stub page): keep all of its text instead.
        text = trafilatura.html2txt(_html_tree(data)) or ""
        if text.strip():
            meta["warnings"].append("no main text found; indexed all the page's text")
    else:
        meta["sections"] = tuple(out.sections)
    title = (getattr(extracted, "title", None) or "").strip() or page_title
    if title:
        meta["title"] = " ".join(title.split())
    return text, meta


# -- PDF ----------------------------------------------------------------------------------------

# pypdf logs every recoverable oddity of a file; those are not the user's problem.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def _outline_sections(reader, pages: list[int], page_texts: list[str]) -> list[Section]:
    """Sections from the PDF's bookmarks: each starts where its title appears on its page."""
    out: list[Section] = []

    def walk(items, parents: tuple[str, ...]) -> None:
        last: tuple[str, ...] = parents
        for item in items:
            if isinstance(item, list):
                walk(item, last)
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            try:
                page = reader.get_destination_page_number(item)
            except Exception:
                continue
            if not title or page is None or not 0 <= page < len(pages):
                continue
            found = page_texts[page].find(title)
            out.append(Section(pages[page] + max(found, 0), parents + (title,)))
            last = parents + (title,)

    try:
        walk(reader.outline, ())
    except Exception:  # a broken outline costs the sections, not the document
        return []
    out.sort(key=lambda s: s.start)
    return out


_PAGE_NUMBER = re.compile(r"^[-–—(\[]?\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*[-–—)\]]?$", re.IGNORECASE)
EDGE_LINES = 2  # running headers and footers sit in the first or last lines of a page
MAX_RUNNING_LINE = 80  # characters: a running header is a short line, not a line of body text


def _without_running_lines(page_texts: list[str]) -> tuple[list[str], int]:
    """Page texts without running headers/footers: lines at a page's top or bottom that are a bare
    page number, or that recur (digits aside) on at least half the pages. Left in, they would glue
    themselves into the middle of every sentence that runs on over a page break."""
    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split()).lower())

    edges: list[list[int]] = []
    for text in page_texts:
        lines = text.split("\n")
        filled = [i for i, ln in enumerate(lines) if ln.strip()]
        edges.append(sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:])))
    counts: dict[str, int] = {}
    for text, idx in zip(page_texts, edges):
        lines = text.split("\n")
        for k in {key(lines[i]) for i in idx}:
            counts[k] = counts.get(k, 0) + 1
    recurring = {k for k, n in counts.items() if len(page_texts) >= 3 and n >= len(page_texts) / 2}
    out, dropped = [], 0
    for text, idx in zip(page_texts, edges):
        lines = text.split("\n")
        drop = {i for i in idx if _PAGE_NUMBER.match(lines[i].strip())
                or (key(lines[i]) in recurring and len(lines[i].strip()) <= MAX_RUNNING_LINE)}
        dropped += len(drop)
        out.append("\n".join(ln for i, ln in enumerate(lines) if i not in drop).strip("\n") if drop else text)
    return out, dropped


@loader(".pdf")
def load_pdf(path: Path, data: bytes) -> tuple[str, dict]:
    """Text of each page (pypdf) without running headers, footers and page numbers, joined;
    meta["pages"] holds where each page starts."""
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if b"%PDF-" not in data[:1024]:
        raise Unreadable("not a PDF (no %PDF header)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError as e:
                raise Unreadable(f"encrypted PDF that needs a missing package to open: {e}") from None
            if not opened:
                raise Unreadable("encrypted PDF: a password is needed to open it")
        n_pages = len(reader.pages)
    except Unreadable:
        raise
    except FileNotDecryptedError:
        raise Unreadable("encrypted PDF: a password is needed to open it") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as e:
        raise Unreadable(f"corrupt PDF: {e or type(e).__name__}") from None

    warnings: list[str] = []
    page_texts: list[str] = []
    for number in range(n_pages):
        try:
            page_text = reader.pages[number].extract_text() or ""
        except Exception as e:  # one bad page costs that page, not the document
            warnings.append(f"page {number + 1}: text could not be extracted ({type(e).__name__})")
            page_text = ""
        page_texts.append(page_text.replace("\x00", "").rstrip())
    page_texts, _ = _without_running_lines(page_texts)
    if not any(t.strip() for t in page_texts):
        raise Unreadable(f"no extractable text in {n_pages} page(s) (a scanned PDF needs OCR first)")

    pages, pos = [], 0
    for t in page_texts:
        pages.append(pos)
        pos += len(t) + len(PAGE_SEPARATOR)
    meta: dict = {"pages": tuple(pages), "warnings": warnings}
    meta["sections"] = tuple(_outline_sections(reader, pages, page_texts))
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:
        title = None
    if isinstance(title, str) and title.strip():
        meta["title"] = " ".join(title.split())
    return PAGE_SEPARATOR.join(page_texts), meta


# -- DOCX ---------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def _heading_level(paragraph) -> int | None:
    """0 for the Title style, n for "Heading n" (or a style based on it), else None."""
    style = paragraph.style
    for _ in range(4):
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        m = _HEADING_STYLE.match(name)
        if m:
            return int(m.group(1))
        style = style.base_style
    return None


@loader(".docx")
def load_docx(path: Path, data: bytes) -> tuple[str, dict]:
    """Paragraphs and tables in document order; Title and Heading styles name the sections."""
    import docx
    from docx.table import Table

    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise Unreadable("not a DOCX: a password-protected or old-style Word (.doc) file")
    if data[:2] != b"PK":
        raise Unreadable("not a DOCX (not a zip archive)")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:
        raise Unreadable(f"corrupt DOCX: {e or type(e).__name__}") from None

    out = _Builder()
    first_title = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = []
            for row in block.rows:
                cells = list(dict.fromkeys(" ".join(c.text.split()) for c in row.cells))  # merged cells repeat
                if any(cells):
                    rows.append(" | ".join(cells))
            out.block("\n".join(rows))
            continue
        level = _heading_level(block)
        if level is None:
            out.block(block.text)
        else:
            out.heading(block.text, level)
            if not first_title and block.text.strip():
                first_title = " ".join(block.text.split())
    meta: dict = {"sections": tuple(out.sections)}
    title = (document.core_properties.title or "").strip() or first_title
    if title:
        meta["title"] = " ".join(title.split())
    return out.text(), meta
