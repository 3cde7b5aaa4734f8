"""PDF: the text of each page through pypdf, without running headers, footers and page numbers.

Pages without a text layer that hold images are read by OCR (qa.formats.ocr); ruled tables are
read with pdfplumber, row by row under their header (qa.formats.tables); a file pypdf cannot
open is read with pdfminer.six (through pdfplumber) before it is reported.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.meta import clean_author, iso_date
from qa.formats import ocr
from qa.formats.builder import BLOCK_SEPARATOR
from qa.formats.registry import Loaded, Section, loader, step
from qa.formats.tables import row_groups, row_line

PAGE_SEPARATOR = "\n\n"  # between the texts of two pages (page starts are kept in Loaded.pages)
TABLE_EXTRACTION = True  # ruled tables through pdfplumber (benchmarks/pdf_tables.py turns it off to compare)
MIN_RULES = 6  # rectangles or lines drawn on a page before pdfplumber looks for a ruled table there
OCR_SCALE_SIDE = 2000  # a page is rendered for OCR with its longer side this many pixels (~170 dpi for A4)
MIN_PAGE_CHARS = 1  # a page with fewer characters of text than this and an image on it is read by OCR

# A page is a list of pieces: (text, is a table row group). Only plain pieces lose running lines.
Piece = tuple[str, bool]


class _Damaged(Exception):
    """pypdf could not open the file: the second parser gets a go before it is reported."""


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


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _without_running_lines(pages: list[list[Piece]]) -> list[list[Piece]]:
    """Pages without running headers/footers: lines at a page's top or bottom that are a bare page
    number, or that recur (digits aside) on at least half the pages. Left in, they would glue
    themselves into the middle of every sentence that runs on over a page break. Table rows are
    never dropped, and neither is a page's every line: a page of one or two lines (a slide, a
    rotated scan's caption) that recur is content, not furniture around it."""
    # Every line of a page as (piece, line number, text), and which of them sit at its edges.
    page_lines = []
    for pieces in pages:
        lines = [(p, i, ln) for p, (text, _) in enumerate(pieces) for i, ln in enumerate(text.split("\n"))]
        filled = [k for k, (_, _, ln) in enumerate(lines) if ln.strip()]
        edges = sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))
        page_lines.append((lines, filled, [k for k in edges if not pieces[lines[k][0]][1]]))
    counts: dict[str, int] = {}
    for lines, _, edges in page_lines:
        for key in {_line_key(lines[k][2]) for k in edges}:
            counts[key] = counts.get(key, 0) + 1
    recurring = {k for k, n in counts.items() if len(pages) >= 3 and n >= len(pages) / 2}
    out = []
    for pieces, (lines, filled, edges) in zip(pages, page_lines):
        drop = {k for k in edges if _PAGE_NUMBER.match(lines[k][2].strip())
                or (_line_key(lines[k][2]) in recurring and len(lines[k][2].strip()) <= MAX_RUNNING_LINE)}
        if not drop or len(drop) == len(filled):
            out.append(pieces)
            continue
        kept: list[list[str]] = [[] for _ in pieces]
        for k, (p, _, ln) in enumerate(lines):
            if k not in drop:
                kept[p].append(ln)
        out.append([("\n".join(ls).strip("\n"), is_table) for ls, (_, is_table) in zip(kept, pieces)])
    return out


# -- tables: pdfplumber finds ruled tables that pypdf flattens into runs of words -------------------

_RULE = re.compile(rb"\s(?:re|l)\s")


def _has_rules(page) -> bool:
    """Whether a page draws enough rectangles or lines to hold a ruled table (cheap, no layout)."""
    try:
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
    except Exception:
        return False
    return len(_RULE.findall(data, 0, 4 << 20)) >= MIN_RULES


def _table_pieces(page) -> list[Piece] | None:
    """A pdfplumber page as pieces: the text above, beside and below each table, and each table
    as row groups under its header. None when the page holds no table of 2+ rows and 2+ columns."""
    tables = []
    for t in page.find_tables():
        rows = [r for r in (row_line(cells) for cells in t.extract()) if r]
        if len(rows) >= 2 and any(" | " in r for r in rows):
            tables.append((t.bbox, rows))
    if not tables:
        return None
    tables.sort(key=lambda t: t[0][1])
    boxes = [bbox for bbox, _ in tables]

    def outside(obj) -> bool:
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    free = page.filter(lambda obj: obj.get("object_type") != "char" or outside(obj))

    def band(top: float, bottom: float) -> Piece:
        top, bottom = max(0.0, top), min(float(page.height), bottom)
        if bottom <= top:
            return ("", False)
        return ((free.within_bbox((0, top, float(page.width), bottom)).extract_text() or "").strip(), False)

    pieces: list[Piece] = []
    y = 0.0
    for (x0, top, x1, bottom), rows in tables:
        pieces += [band(y, top), band(top, bottom)]
        pieces += [(group, True) for group in row_groups(rows)]
        y = max(y, bottom)
    pieces.append(band(y, float(page.height)))
    return [p for p in pieces if p[0]]


def _plumber(data: bytes):
    import pdfplumber

    return pdfplumber.open(io.BytesIO(data))


# -- OCR: pages without a text layer --------------------------------------------------------------

def _has_images(page) -> bool:
    try:
        return len(page.images) > 0
    except Exception:
        return True  # cannot tell: rendering the page will


def _render(data: bytes, number: int):
    """The page as an image (PDFium renders every image codec and any vector drawing)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        page = document[number]
        width, height = page.get_size()
        bitmap = page.render(scale=OCR_SCALE_SIDE / max(width, height, 1))
        return bitmap.to_pil()
    finally:
        document.close()


def _ocr_pages(data: bytes, numbers: list[int], warnings: list[str]) -> dict[int, str]:
    """OCR text of the given 0-based pages; a page that cannot be rendered costs that page."""
    out: dict[int, str] = {}
    for number in numbers:
        try:
            image = _render(data, number)
        except Exception as e:
            warnings.append(f"page {number + 1}: image could not be rendered for OCR ({type(e).__name__})")
            continue
        out[number] = ocr.read_image(image)
    return out


# -- reading -------------------------------------------------------------------------------------

def _open_pypdf(data: bytes):
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError as e:
                raise Unreadable(f"encrypted PDF that needs a missing package to open: {e}") from None
            if not opened:
                raise Unreadable("encrypted PDF: a password is needed to open it")
        if not len(reader.pages):
            raise _Damaged("no pages found")
        return reader
    except (Unreadable, _Damaged):
        raise
    except FileNotDecryptedError:
        raise Unreadable("encrypted PDF: a password is needed to open it") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as e:
        raise _Damaged(str(e) or type(e).__name__) from None


def _pypdf_texts(reader) -> list[str | None]:
    """Each page's text; None for a page pypdf fails on."""
    texts: list[str | None] = []
    for number, page in enumerate(reader.pages):
        step()
        try:
            texts.append((page.extract_text() or "").replace("\x00", "").rstrip())
        except Exception:  # one bad page costs that page (the second parser may still read it)
            texts.append(None)
    return texts


def _read(data: bytes, warnings: list[str]) -> tuple[list[list[Piece]], list[int], object | None]:
    """Every page as pieces, the 0-based pages read by OCR, and the pypdf reader (None when the
    file was read by pdfminer.six)."""
    plumber = None
    try:
        reader = _open_pypdf(data)
        texts = _pypdf_texts(reader)
        pypdf_pages = list(reader.pages)
    except _Damaged as damaged:
        try:
            plumber = _plumber(data)
            texts = []
            for page in plumber.pages:
                step()
                texts.append((page.extract_text() or "").replace("\x00", "").rstrip())
        except Exception as e:
            raise Unreadable(f"corrupt PDF: {damaged} (pdfminer.six could not read it either: "
                             f"{type(e).__name__})") from None
        if not plumber.pages:
            raise Unreadable(f"corrupt PDF: {damaged}") from None
        warnings.append(f"damaged PDF ({damaged}): read with pdfminer.six instead of pypdf")
        reader, pypdf_pages = None, plumber.pages
    try:
        failed = [n for n, t in enumerate(texts) if t is None]
        if failed or (TABLE_EXTRACTION and reader is not None and any(_has_rules(p) for p in pypdf_pages)):
            try:
                plumber = plumber or _plumber(data)
            except Exception:  # the pages pypdf failed on stay empty (with a warning), tables as pypdf read them
                plumber = None
        for n in failed:
            try:
                texts[n] = (plumber.pages[n].extract_text() or "").replace("\x00", "").rstrip()
            except Exception as e:
                warnings.append(f"page {n + 1}: text could not be extracted ({type(e).__name__})")
                texts[n] = ""
        pages: list[list[Piece]] = [[(t or "", False)] for t in texts]
        if TABLE_EXTRACTION and plumber is not None:
            for n, page in enumerate(pypdf_pages):
                if (reader is None or _has_rules(page)) and texts[n]:
                    step()
                    try:
                        pages[n] = _table_pieces(plumber.pages[n]) or pages[n]
                    except Exception:  # a table that cannot be read stays as pypdf's text
                        pass
        scanned = [n for n, t in enumerate(texts) if len((t or "").strip()) < MIN_PAGE_CHARS and _has_images(pypdf_pages[n])]
    finally:
        if plumber is not None:
            plumber.close()
    if scanned and not ocr.available():
        pages_list = ", ".join(str(n + 1) for n in scanned[:10]) + (" …" if len(scanned) > 10 else "")
        warnings.append(f"page(s) {pages_list}: images without a text layer, not read — {ocr.INSTALL_HINT}")
        return pages, [], reader
    read = _ocr_pages(data, scanned, warnings) if scanned else {}
    for n, text in read.items():
        pages[n] = [(text, False)]
    return pages, sorted(n for n, t in read.items() if t.strip()), reader


def _assemble(pages: list[list[Piece]]) -> tuple[str, list[int], list[str], list[tuple[int, int]]]:
    """The document text, where each page starts, each page's text, and the table group spans."""
    parts: list[str] = []
    starts: list[int] = []
    page_texts: list[str] = []
    tables: list[tuple[int, int]] = []
    pos = 0
    for n, pieces in enumerate(pages):
        if n:
            parts.append(PAGE_SEPARATOR)
            pos += len(PAGE_SEPARATOR)
        starts.append(pos)
        page: list[str] = []
        for text, is_table in pieces:
            if not text.strip():
                continue
            if page:
                page.append(BLOCK_SEPARATOR)
                pos += len(BLOCK_SEPARATOR)
            if is_table:
                tables.append((pos, pos + len(text)))
            page.append(text)
            pos += len(text)
        page_texts.append("".join(page))
        parts.extend(page)
    return "".join(parts), starts, page_texts, tables


@loader(".pdf")
def load_pdf(path: Path, data: bytes) -> Loaded:
    """Text of each page (pypdf; OCR for scanned pages; pdfplumber for ruled tables) without
    running headers, footers and page numbers, joined; Loaded.pages holds where each page starts."""
    if b"%PDF-" not in data[:1024]:
        raise Unreadable("not a PDF (no %PDF header)")
    warnings: list[str] = []
    pages, ocr_read, reader = _read(data, warnings)
    cleaned = _without_running_lines(pages)
    if not any(t.strip() for p in cleaned for t, _ in p):
        if not ocr.available():
            raise Unreadable(f"no extractable text in {len(pages)} page(s): a scanned PDF needs OCR — {ocr.INSTALL_HINT}")
        raise Unreadable(f"no extractable text in {len(pages)} page(s), by OCR either")
    text, starts, page_texts, tables = _assemble(cleaned)
    sections = tuple(_outline_sections(reader, starts, page_texts)) if reader is not None else ()
    info = _document_info(reader) if reader is not None else {}
    title = info.get("/Title")
    title = " ".join(title.split()) if isinstance(title, str) else ""
    xmp = _xmp(reader) if reader is not None else {}
    return Loaded(text, title=title or None, pages=tuple(starts), sections=sections, warnings=tuple(warnings),
                  tables=tuple(tables), ocr_pages=tuple(n + 1 for n in ocr_read),
                  author=clean_author(info.get("/Author")) or clean_author(xmp.get("creator")),
                  published=iso_date(info.get("/CreationDate")) or iso_date(xmp.get("created")), url=xmp.get("url"))


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
