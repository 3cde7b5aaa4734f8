"""Spreadsheets: XLSX through openpyxl (read-only), cell values as last calculated, each sheet a section."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

from qa.errors import Unreadable
from qa.formats.builder import TextBuilder
from qa.formats.registry import Loaded, loader, step

ROWS_PER_STEP = 20_000  # rows read between two signs of progress to a load worker


def _value(v: object) -> object:
    """A cell's value as a reader sees it: a date without a time of day is just the date."""
    if isinstance(v, datetime.datetime) and v.time() == datetime.time():
        return v.date().isoformat()
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    return v


@loader(".xlsx", ".xlsm")
def load_xlsx(path: Path, data: bytes) -> Loaded:
    """Each worksheet under its name as a heading, its rows as table text (first row the header).
    Formulas give the value Excel last calculated (data_only): the figure a reader sees."""
    import openpyxl

    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise Unreadable("not an XLSX: a password-protected or old-style Excel (.xls) file")
    if data[:2] != b"PK":
        raise Unreadable("not an XLSX (not a zip archive)")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:
        raise Unreadable(f"corrupt XLSX: {e or type(e).__name__}") from None
    out = TextBuilder()
    try:
        for sheet in book.worksheets:
            rows = []
            for n, row in enumerate(sheet.iter_rows(values_only=True), 1):
                rows.append([_value(v) for v in row])
                if n % ROWS_PER_STEP == 0:
                    step()
            if any(v not in (None, "") for r in rows for v in r):
                out.heading(sheet.title, 1)
                out.table(rows)
        title = (book.properties.title or "").strip()
    except Exception as e:  # read-only parsing is lazy: a damaged sheet fails while its rows are read
        raise Unreadable(f"corrupt XLSX: {type(e).__name__}: {e}") from None
    finally:
        book.close()
    return Loaded(out.text(), title=" ".join(title.split()) or path.stem, sections=tuple(out.sections),
                  tables=tuple(out.tables))
