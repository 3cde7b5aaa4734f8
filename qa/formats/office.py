"""Office documents: DOCX through python-docx, paragraphs and tables in document order."""

from __future__ import annotations

import io
import re
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.meta import clean_author, iso_date
from qa.formats.builder import TextBuilder
from qa.formats.registry import Loaded, loader

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
def load_docx(path: Path, data: bytes) -> Loaded:
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

    out = TextBuilder()
    first_title = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            # A merged cell is listed once per grid column it spans: keep it once.
            out.table([[c.text for c in {id(c._tc): c for c in row.cells}.values()] for row in block.rows])
            continue
        level = _heading_level(block)
        if level is None:
            out.block(block.text)
        else:
            out.heading(block.text, level)
            if not first_title and block.text.strip():
                first_title = " ".join(block.text.split())
    props = document.core_properties
    title = (props.title or "").strip() or first_title
    url = (props.identifier or "").strip()
    return Loaded(out.text(), title=" ".join(title.split()) or None, sections=tuple(out.sections),
                  tables=tuple(out.tables), author=clean_author(props.author), published=iso_date(props.created),
                  url=url if url.startswith("http") else None)
