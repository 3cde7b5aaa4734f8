"""The loader registry: which function reads which file suffix, and what a loader returns.

`qa.sources` finds files and turns each into a Document through this registry; the format modules
(`qa.formats.text`, `html`, `pdf`, `office`) register their loaders here. Both sides depend on this
module and never on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Section:
    """A heading and where its section starts in the document text."""

    start: int
    path: tuple[str, ...]  # e.g. ("Report", "2. Summary")


@dataclass(frozen=True)
class Loaded:
    """What a loader makes of a file's bytes: the one text qa indexes, cites and shows, and where
    its pages and sections start in that text (offsets built while the text is assembled)."""

    text: str
    title: str | None = None  # None: qa.sources guesses one from the text
    pages: tuple[int, ...] = ()  # start offset of each page; empty for documents without pages
    sections: tuple[Section, ...] = ()
    warnings: tuple[str, ...] = ()  # indexed, with a caveat the build report shows
    author: str | None = None  # as the document names it (metadata or byline)
    published: str | None = None  # ISO 8601 date, YYYY-MM-DD
    url: str | None = None  # where the document lives on the web (canonical link, metadata)
    # Where each table row group stands in `text`: a header line, then rows, one per line (see
    # qa.formats.tables). The chunker keeps a group whole and each row a sentence of its own.
    tables: tuple[tuple[int, int], ...] = ()
    ocr_pages: tuple[int, ...] = ()  # 1-based pages (or 1 for an image) whose text was read by OCR


Loader = Callable[[Path, bytes], Loaded]
LOADERS: dict[str, Loader] = {}


def loader(*suffixes: str) -> Callable[[Loader], Loader]:
    """Register the decorated function as the loader of these file suffixes (".txt", ...)."""

    def register(fn: Loader) -> Loader:
        for suffix in suffixes:
            LOADERS[suffix] = fn
        return fn

    return register


_on_step: Callable[[float | None], None] | None = None


def step(budget: float | None = None) -> None:
    """A loader's sign of progress (a page read, a block of rows): in a load worker it restarts
    the time budget, `budget` seconds for the next step (None: the default one). Else a no-op."""
    if _on_step is not None:
        _on_step(budget)


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted(LOADERS))
