"""CSV and TSV: the stdlib csv reader, the delimiter sniffed, the encoding read as for .txt."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.builder import TextBuilder
from qa.formats.registry import Loaded, loader, step
from qa.formats.text import read_text

SNIFF_CHARS = 16_384  # csv.Sniffer is slow on large samples; a few whole lines are enough
DELIMITERS = ",;\t|"
ROWS_PER_STEP = 20_000  # rows read between two signs of progress to a load worker


def _dialect(text: str, suffix: str) -> type[csv.Dialect] | csv.Dialect:
    if suffix == ".tsv":
        return csv.excel_tab
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:  # one column, or too irregular to tell: the comma
        return csv.excel


@loader(".csv", ".tsv")
def load_delimited(path: Path, data: bytes) -> Loaded:
    """Rows as table text (the first row is the header, repeated before each group of rows)."""
    text, warnings = read_text(data)
    rows = []
    try:
        for n, row in enumerate(csv.reader(io.StringIO(text, newline=""), _dialect(text, path.suffix.lower())), 1):
            rows.append(row)
            if n % ROWS_PER_STEP == 0:
                step()
    except csv.Error as e:
        raise Unreadable(f"malformed {path.suffix.lstrip('.').upper() or 'CSV'}: {e}") from None
    out = TextBuilder()
    out.table(rows)
    return Loaded(out.text(), title=path.stem, tables=tuple(out.tables), warnings=tuple(warnings))
