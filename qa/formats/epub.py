"""E-books: EPUB 2 and 3 through ebooklib; chapters in reading (spine) order, each through the
same HTML path as web pages (qa.formats.html), their headings (or table-of-contents titles) as sections."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.builder import BLOCK_SEPARATOR, TextBuilder
from qa.formats.html import html_into
from qa.formats.registry import Loaded, Section, loader, step

_ENCRYPTED_TEXT = re.compile(rb"<(?:\w+:)?CipherReference[^>]*URI=\"[^\"]*\.x?html?\"", re.IGNORECASE)


def _toc_titles(toc) -> dict[str, str]:
    """File name (no #fragment) -> its first table-of-contents title."""
    out: dict[str, str] = {}

    def walk(items) -> None:
        for item in items:
            if isinstance(item, (tuple, list)):
                walk(item)
                continue
            href = str(getattr(item, "href", "") or "").split("#")[0]
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if href and title:
                out.setdefault(href, title)

    walk(toc)
    return out


@loader(".epub")
def load_epub(path: Path, data: bytes) -> Loaded:
    """Each chapter's main text in spine order; the book's title from its metadata."""
    import ebooklib
    from ebooklib import epub

    if data[:2] != b"PK":
        raise Unreadable("not an EPUB (not a zip archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if "META-INF/encryption.xml" in z.namelist() and _ENCRYPTED_TEXT.search(z.read("META-INF/encryption.xml")):
                raise Unreadable("encrypted EPUB (DRM): its chapters cannot be read")
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Unreadable:
        raise
    except Exception as e:
        raise Unreadable(f"corrupt EPUB: {e or type(e).__name__}") from None

    out = TextBuilder()
    warnings: list[str] = []
    toc = _toc_titles(book.toc)
    for idref, *_ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue  # the navigation document repeats the table of contents, not the book
        step()
        start = out.length + (len(BLOCK_SEPARATOR) if out.parts else 0)
        sections_before = len(out.sections)
        try:
            html_into(out, item.get_content())
        except Unreadable as e:  # one bad chapter costs that chapter, not the book
            warnings.append(f"chapter {item.get_name()}: {e}")
            continue
        heading = toc.get(item.get_name())
        if heading and out.length > start and (len(out.sections) == sections_before or out.sections[sections_before].start > start):
            # A chapter that opens without a heading of its own is named by the table of contents.
            out.sections.insert(sections_before, Section(start, (heading,)))
    titles = book.get_metadata("DC", "title")
    title = " ".join(str(titles[0][0]).split()) if titles and titles[0] and titles[0][0] else ""
    return Loaded(out.text(), title=title or None, sections=tuple(out.sections), tables=tuple(out.tables),
                  warnings=tuple(warnings))
