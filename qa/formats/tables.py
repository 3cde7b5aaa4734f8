"""Tables as text: one line per row, cells joined by " | ", and the header row written again before
every group of rows small enough to be one chunk.

A question about one row ("the 2024 budget for Dover") needs the row ("Dover | £7.1m | £7.4m")
and the header that says what its cells are ("Area | Budget 2024 | Budget 2025") in the same
passage. A passage is a slice of the document text, so the header is repeated in the text itself:
by design, the stored text of a long table holds its header once per group. The loaders record
where each group stands (`Loaded.tables`); the chunker keeps a group whole in one chunk and makes
each row a sentence of its own, and cleaning never drops a row as boilerplate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

CELL_SEPARATOR = " | "
# A group (header + rows) must fit one chunk: ChunkSettings allows 700 characters and 256 tokens,
# less the section heading the embedding is led by. Numbers cost about a token per digit group and
# per symbol ("£7.1m" is 5 tokens), so a group is cut by an estimate of its tokens as well.
GROUP_MAX_CHARS = 480
GROUP_MAX_TOKENS = 160
HEADER_MAX_CHARS = 200  # a longer first row is prose in a layout table, not a header: not repeated

_TOKENISH = re.compile(r"[^\W\d_]{1,8}|\d{1,3}|[^\w\s]")


def estimated_tokens(text: str) -> int:
    """A pessimistic WordPiece token count: long words and digit runs split, each symbol a token."""
    return len(_TOKENISH.findall(text))


def cell_text(value: object) -> str:
    """A cell as one line: None is empty, whitespace (line breaks included) collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return " ".join(str(value).split())


def row_line(cells: Iterable[object]) -> str:
    """The cells of a row joined by " | ", trailing empty cells left out ("" when the row is empty)."""
    texts = [cell_text(c) for c in cells]
    while texts and not texts[-1]:
        texts.pop()
    return CELL_SEPARATOR.join(texts) if any(texts) else ""


def row_groups(rows: Sequence[str], header_rows: int = 1) -> list[str]:
    """The text of each group: the header line(s), then as many rows as fit one chunk.

    `rows` are row lines (see `row_line`), empty ones already dropped; the first `header_rows` of
    them are the header. A header that is long or has a single cell is not repeated: such a
    table is laid out prose, and its rows are grouped alone.
    """
    header, body = list(rows[:header_rows]), list(rows[header_rows:])
    head = "\n".join(header)
    if not body:
        return [head] if head else []
    repeat = bool(head) and len(head) <= HEADER_MAX_CHARS and all(CELL_SEPARATOR in h for h in header)
    groups: list[list[str]] = []
    current: list[str] = list(header)
    chars, tokens = len(head), estimated_tokens(head)
    base = len(header)
    for row in body:
        size, cost = len(row) + 1, estimated_tokens(row)
        if len(current) > base and (chars + size > GROUP_MAX_CHARS or tokens + cost > GROUP_MAX_TOKENS):
            groups.append(current)
            current = list(header) if repeat else []
            base = len(current)
            chars, tokens = (len(head), estimated_tokens(head)) if repeat else (0, 0)
        current.append(row)
        chars += size
        tokens += cost
    groups.append(current)
    return ["\n".join(g) for g in groups]
