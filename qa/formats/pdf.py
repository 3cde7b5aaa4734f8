"""PDF: the text of each page through pypdf, without running headers, footers and page numbers."""

from __future__ import annotations

import io
import re
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.meta import clean_author, iso_date
from qa.formats.registry import Loaded, Section, loader

PAGE_SEPARATOR = "\n\n"  # between the texts of two pages (page starts are kept in Loaded.pages)


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
def load_pdf(path: Path, data: bytes) -> Loaded:
    """Text of each page (pypdf) without running headers, footers and page numbers, joined;
    Loaded.pages holds where each page starts."""
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
    sections = tuple(_outline_sections(reader, pages, page_texts))
    info = _document_info(reader)
    title = info.get("/Title")
    title = " ".join(title.split()) if isinstance(title, str) else ""
    author, published = clean_author(info.get("/Author")), iso_date(info.get("/CreationDate"))
    xmp = _xmp(reader)
    return Loaded(PAGE_SEPARATOR.join(page_texts), title=title or None, pages=tuple(pages), sections=sections,
                  warnings=tuple(warnings), author=author or clean_author(xmp.get("creator")),
                  published=published or iso_date(xmp.get("created")), url=xmp.get("url"))


def _document_info(reader) -> dict:
    """The document information dictionary (/Title, /Author, /CreationDate…), {} when damaged."""
    try:
        return {k: v for k, v in dict(reader.metadata or {}).items() if isinstance(v, str)}
    except Exception:
        return {}


def _xmp(reader) -> dict:
    """Creator, creation date and identifier URL from the XMP metadata stream, {} when absent or damaged."""
    try:
        x = reader.xmp_metadata
        if x is None:
            return {}
        identifier = x.dc_identifier or ""
        return {"creator": x.dc_creator or None, "created": x.xmp_create_date or (x.dc_date or [None])[0],
                "url": identifier if isinstance(identifier, str) and identifier.startswith("http") else None}
    except Exception:
        return {}
