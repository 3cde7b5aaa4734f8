"""Assembling a document's text block by block, recording where each section starts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from qa.formats.registry import Section
from qa.formats.tables import cell_text, row_groups, row_line

BLOCK_SEPARATOR = "\n\n"  # between paragraphs, headings, list items and tables (HTML, DOCX)


class TextBuilder:
    """Appends blocks of text, recording where each heading's section starts."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.sections: list[Section] = []
        self.tables: list[tuple[int, int]] = []  # where each table row group stands
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

    def table(self, rows: Iterable[Sequence[object]], header_rows: int = 1) -> None:
        """A table as row groups, each led by the header row (see qa.formats.tables)."""
        cells = [[cell_text(c) for c in r] for r in rows]
        cells = [r for r in cells if any(r)]
        # Columns empty in every row on the left (a sheet that starts at column C) are left out.
        blank = min((next(i for i, c in enumerate(r) if c) for r in cells), default=0)
        lines = [row_line(r[blank:]) for r in cells]
        for group in row_groups(lines, header_rows):
            start = self.block(group)
            if start >= 0:
                self.tables.append((start, self.length))

    def heading(self, text: str, level: int) -> None:
        text = " ".join(text.split())
        start = self.block(text)
        if start < 0:
            return
        self._stack = [(lv, h) for lv, h in self._stack if lv < level] + [(level, text)]
        self.sections.append(Section(start, tuple(h for _, h in self._stack)))

    def text(self) -> str:
        return "".join(self.parts)
