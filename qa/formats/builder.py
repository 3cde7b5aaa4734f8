"""Assembling a document's text block by block, recording where each section starts."""

from __future__ import annotations

from qa.formats.registry import Section

BLOCK_SEPARATOR = "\n\n"  # between paragraphs, headings, list items and tables (HTML, DOCX)


class TextBuilder:
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
