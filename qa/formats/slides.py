"""Presentations: PPTX through python-pptx; each slide is a page, its title the section, its
speaker notes after its text."""

from __future__ import annotations

import io
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.builder import BLOCK_SEPARATOR, TextBuilder
from qa.formats.registry import Loaded, Section, loader, step

NOTES_LABEL = "Speaker notes:"  # written before a slide's notes, so a reader can tell them from the slide


def _shape_text(shape, out: TextBuilder, title_id: int | None) -> None:
    """A shape's text into `out`: text frames paragraph by paragraph, tables as row groups, groups
    shape by shape. The title placeholder is left out (it is the slide's heading)."""
    if shape.shape_id == title_id:
        return
    from pptx.shapes.group import GroupShape

    if isinstance(shape, GroupShape):
        for inner in shape.shapes:
            _shape_text(inner, out, title_id)
    elif getattr(shape, "has_table", False):
        out.table([[cell.text for cell in row.cells] for row in shape.table.rows])
    elif getattr(shape, "has_text_frame", False):
        out.block("\n".join(" ".join(p.text.split()) for p in shape.text_frame.paragraphs))


def _read_slides(slides, out: TextBuilder, pages: list[int]) -> str:
    """Every slide into `out`, its start into `pages`; returns the first slide title."""
    first_title = ""
    for slide in slides:
        step()
        pages.append(out.length + (len(BLOCK_SEPARATOR) if out.parts else 0))
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text.split()) if title_shape is not None and title_shape.has_text_frame else ""
        if title:
            out.heading(title, 1)
            first_title = first_title or title
        else:  # an untitled slide belongs to no section (not to the slide before it)
            out.sections.append(Section(pages[-1], ()))
        for shape in slide.shapes:
            _shape_text(shape, out, title_shape.shape_id if title_shape is not None else None)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                out.block(f"{NOTES_LABEL} {notes}")
    return first_title


@loader(".pptx")
def load_pptx(path: Path, data: bytes) -> Loaded:
    """Slide by slide: title (a heading, the section), then text boxes and tables, then notes."""
    from pptx import Presentation

    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise Unreadable("not a PPTX: a password-protected or old-style PowerPoint (.ppt) file")
    if data[:2] != b"PK":
        raise Unreadable("not a PPTX (not a zip archive)")
    try:
        deck = Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except Exception as e:
        raise Unreadable(f"corrupt PPTX: {e or type(e).__name__}") from None

    out = TextBuilder()
    pages: list[int] = []
    try:
        first_title = _read_slides(slides, out, pages)
        title = (deck.core_properties.title or "").strip() or first_title
    except Exception as e:  # parts are parsed lazily: a damaged slide fails while it is read
        raise Unreadable(f"corrupt PPTX: {type(e).__name__}: {e}") from None
    return Loaded(out.text(), title=" ".join(title.split()) or None, pages=tuple(pages), sections=tuple(out.sections),
                  tables=tuple(out.tables))
